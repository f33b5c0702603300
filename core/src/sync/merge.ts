/**
 * The three-way merge of one linked person: each side's current values against the snapshot both sides
 * agreed on at the last sync. One side changed: copy it. Both changed differently: a collision, decided by
 * the collision policy (or, with no policy enabled, the most recent change).
 */
import type { Collision, FieldValue, FieldValues, RemoteRecord, Side } from '../plugin';
import type { ObjectPlan } from './plan';
import { isBlank, normalizeValue, valuesEqual } from './values';

export type CollisionResolver = (collision: Collision) => Side;

export interface MergeInput {
  pipelineId: string;
  plan: ObjectPlan;
  /** The snapshot; `undefined` for a pair linked in this cycle (no common base yet). */
  base: FieldValues | undefined;
  marketo: RemoteRecord;
  dynamics: RemoteRecord;
  resolve: CollisionResolver;
}

export interface MergeCollision {
  marketoField: string;
  winner: Side;
  marketoValue: FieldValue;
  dynamicsValue: FieldValue;
}

export interface MergeResult {
  /** Marketo field name → value to write to Marketo. */
  toMarketo: FieldValues;
  /** Dynamics column → value to write to Dynamics. */
  toDynamics: FieldValues;
  /** The snapshot once both writes succeed (keyed by Marketo field name). */
  snapshot: FieldValues;
  collisions: MergeCollision[];
}

function changedAt(record: RemoteRecord, field: string): string | undefined {
  return record.fieldModifiedAt?.[field] ?? record.modifiedAt;
}

export function mergeRecord(input: MergeInput): MergeResult {
  const { plan, base, marketo, dynamics } = input;
  const result: MergeResult = { toMarketo: {}, toDynamics: {}, snapshot: { ...(base ?? {}) }, collisions: [] };
  for (const field of plan.fields) {
    // A field the record does not carry is unknown (e.g. a secured column): never treat it as blank.
    if (!(field.dynamics in dynamics.fields) || !(field.marketo in marketo.fields)) continue;
    const m = normalizeValue(marketo.fields[field.marketo]);
    const d = normalizeValue(dynamics.fields[field.dynamics]);
    if (valuesEqual(m, d)) {
      result.snapshot[field.marketo] = m;
      continue;
    }
    const hasBase = base !== undefined && field.marketo in base;
    const b = hasBase ? base[field.marketo] : undefined;
    const marketoChanged = !hasBase || !valuesEqual(m, b);
    const dynamicsChanged = !hasBase || !valuesEqual(d, b);
    let winner: Side | null;
    if (marketoChanged && !dynamicsChanged) winner = 'marketo';
    else if (dynamicsChanged && !marketoChanged) winner = 'dynamics';
    else if (!hasBase && isBlank(m))
      winner = 'dynamics'; // first link: fill blanks, no collision
    else if (!hasBase && isBlank(d)) winner = 'marketo';
    else if (field.toDynamics && !field.toMarketo)
      winner = 'marketo'; // one-way fields have one master
    else if (field.toMarketo && !field.toDynamics) winner = 'dynamics';
    else {
      winner = input.resolve({
        pipelineId: input.pipelineId,
        dynamicsObject: plan.dynamicsType,
        marketoField: field.marketo,
        dynamicsField: field.dynamics,
        base: b,
        marketo: {
          value: m,
          ...(changedAt(marketo, field.marketo) ? { changedAt: changedAt(marketo, field.marketo) } : {}),
        },
        dynamics: {
          value: d,
          ...(changedAt(dynamics, field.dynamics) ? { changedAt: changedAt(dynamics, field.dynamics) } : {}),
        },
      });
      if (hasBase) result.collisions.push({ marketoField: field.marketo, winner, marketoValue: m, dynamicsValue: d });
    }
    if (winner === 'marketo' && field.toDynamics) {
      result.toDynamics[field.dynamics] = m;
      result.snapshot[field.marketo] = m;
    } else if (winner === 'dynamics' && field.toMarketo) {
      result.toMarketo[field.marketo] = d;
      result.snapshot[field.marketo] = d;
    }
    // Otherwise the winning value may not flow this way: nothing is written and the snapshot keeps its base.
  }
  return result;
}

/** Values of a fresh record to create on the other side, following the allowed directions. */
export function valuesForCreate(
  plan: ObjectPlan,
  source: RemoteRecord,
  target: Side,
): { values: FieldValues; snapshot: FieldValues } {
  const values: FieldValues = {};
  const snapshot: FieldValues = {};
  for (const field of plan.fields) {
    if (target === 'dynamics') {
      if (!(field.marketo in source.fields)) continue;
      const v = normalizeValue(source.fields[field.marketo]);
      if (field.toDynamics && v !== null) values[field.dynamics] = v;
      if (field.toDynamics) snapshot[field.marketo] = v;
    } else {
      if (!(field.dynamics in source.fields)) continue;
      const v = normalizeValue(source.fields[field.dynamics]);
      if (field.toMarketo && v !== null) values[field.marketo] = v;
      if (field.toMarketo) snapshot[field.marketo] = v;
    }
  }
  return { values, snapshot };
}
