/**
 * The field plan of one cycle: from the mappings and what both systems allow the sync users, which fields
 * are read and written in which direction. Built once per cycle so a PUT of the mappings takes effect at
 * the next cycle.
 */
import type { MappingAnalysis } from './mappings';

export interface PlannedField {
  marketo: string;
  dynamics: string;
  toDynamics: boolean;
  toMarketo: boolean;
}

export interface ObjectPlan {
  dynamicsType: string;
  fields: PlannedField[];
  /** Dynamics columns to read for this object type. */
  dynamicsRead: string[];
  marketoEmail: string;
  dynamicsEmail: string;
  deletedFlagField?: string;
  typeField?: string;
}

export interface SyncPlan {
  objects: Map<string, ObjectPlan>;
  /** Marketo fields to read: every field any object plan syncs, plus the flag fields. */
  marketoRead: string[];
  /** The Marketo email field (people are matched by email). */
  marketoEmail: string;
}

export function buildPlan(
  analysis: MappingAnalysis,
  emails: { marketo: string; dynamics: Record<string, string> },
): SyncPlan {
  const objects = new Map<string, ObjectPlan>();
  const marketoRead = new Set<string>([emails.marketo]);
  for (const objectAnalysis of analysis.objects) {
    const fields: PlannedField[] = objectAnalysis.fields
      .filter((f) => f.effective !== 'none')
      .map((f) => ({
        marketo: f.marketo,
        dynamics: f.dynamics,
        toDynamics: f.effective === 'both' || f.effective === 'toDynamics',
        toMarketo: f.effective === 'both' || f.effective === 'toMarketo',
      }));
    for (const f of fields) marketoRead.add(f.marketo);
    const dynamicsEmail = emails.dynamics[objectAnalysis.dynamics] ?? 'emailaddress1';
    const plan: ObjectPlan = {
      dynamicsType: objectAnalysis.dynamics,
      fields,
      dynamicsRead: [...new Set([dynamicsEmail, ...fields.map((f) => f.dynamics)])],
      marketoEmail: emails.marketo,
      dynamicsEmail,
    };
    for (const flag of objectAnalysis.flags) {
      if (!flag.available) continue;
      if (flag.role === 'deleted') plan.deletedFlagField = flag.field;
      else plan.typeField = flag.field;
      marketoRead.add(flag.field);
    }
    objects.set(objectAnalysis.dynamics, plan);
  }
  return { objects, marketoRead: [...marketoRead], marketoEmail: emails.marketo };
}
