/**
 * What a cycle would do, without doing it: the dry run (`tandem plan`). The cycle runs its line as usual
 * (reading, pairing, planning) and stops before writing: no intent stored, no record written, no link saved,
 * no cursor moved. Each planned write is described per person and field; the counts are what the interpreting
 * stage makes of the results a clean write would bring, so they count exactly as the cycle would.
 */
import type { FieldValue, WriteResult } from '../plugin';
import type { LinkSide } from '../repositories/sync-store';
import type { Pair } from './cycle-deps';
import { interpretResults, type Interpretation } from './interpreting';
import { SIDE_KEYS, type PerSide, type PipelineSide, type SideKey } from './model';
import type { WritePlan } from './planning';

export interface PlannedChange {
  email?: string;
  /** The person's records on each side as they are now. */
  records: PerSide<LinkSide>;
  action: 'create' | 'update' | 'link' | 'delete';
  /** Where the write (or the delete) is. */
  side?: SideKey;
  objectType?: string;
  /** Per field written: the value now (absent for a create) and the value it would get. */
  fields?: Record<string, { from?: FieldValue; to: FieldValue }>;
  /** Fields changed on both sides, and which connection the policies let win. */
  collisions?: Array<{ field: string; winner: string }>;
}

/** The results a write would bring if every op landed. */
export function cleanResults(plan: WritePlan): PerSide<Map<string, WriteResult>> {
  const results = { left: new Map<string, WriteResult>(), right: new Map<string, WriteResult>() };
  for (const side of SIDE_KEYS) {
    for (const ops of plan.ops[side].values()) {
      for (const op of ops) {
        results[side].set(
          op.ref,
          op.kind === 'create'
            ? { ref: op.ref, status: 'created', id: `(new ${side} record)` }
            : { ref: op.ref, status: 'updated', id: op.id },
        );
      }
    }
  }
  return results;
}

/** The planned changes of a write set, per person and side. */
export function describeWrites(pairs: readonly Pair[], plan: WritePlan, sides: PerSide<PipelineSide>): PlannedChange[] {
  const out: PlannedChange[] = [];
  for (const pair of pairs) {
    const base = {
      ...(pair.doc.email ? { email: pair.doc.email } : {}),
      records: { left: pair.doc.left, right: pair.doc.right },
    };
    const create = plan.creates.get(pair.doc._id);
    if (create) {
      const op = plan.ops[create.side].get(pair.plan.types[create.side])?.find((o) => o.ref === pair.doc._id);
      out.push({
        ...base,
        action: 'create',
        side: create.side,
        objectType: pair.plan.types[create.side],
        fields: Object.fromEntries(Object.entries(op?.fields ?? {}).map(([f, to]) => [f, { to }])),
      });
      continue;
    }
    const merge = plan.merges.get(pair.doc._id);
    if (!merge) continue;
    if (pair.isNew || pair.base === undefined) out.push({ ...base, action: 'link' });
    const collisions = merge.collisions.map((c) => ({ field: c.field, winner: sides[c.winner].connection }));
    for (const side of SIDE_KEYS) {
      const op = plan.ops[side].get(pair.plan.types[side])?.find((o) => o.ref === pair.doc._id);
      if (!op) continue;
      const record = pair.records[side];
      out.push({
        ...base,
        action: 'update',
        side,
        objectType: pair.plan.types[side],
        fields: Object.fromEntries(
          Object.entries(op.fields).map(([f, to]) => [
            f,
            { ...(record && f in record.fields ? { from: record.fields[f] } : {}), to },
          ]),
        ),
        ...(collisions.length > 0 ? { collisions } : {}),
      });
    }
  }
  return out;
}

/** Counts and notes as the cycle would make them, from a plan whose writes all land. */
export function interpretPlan(
  pairs: readonly Pair[],
  plan: WritePlan,
  pipelineId: string,
  sides: PerSide<PipelineSide>,
): Interpretation {
  return interpretResults(pairs, plan, cleanResults(plan), { pipelineId, sides, attempt: 1, now: new Date() });
}
