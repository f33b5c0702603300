/**
 * The three-way merge of one linked person: each side's current values against the snapshot both sides
 * agreed on at the last sync. One side changed: copy it. Both changed differently: a collision, decided by
 * the collision policy (or, with no policy deciding, the most recent change). Pure: plain data in and out.
 */
import type { FieldValue, FieldValues, RemoteRecord } from '../plugin';
import type { ObjectPairPlan, PlannedField } from './field-plan';
import { otherSide, SIDE_KEYS, type PerSide, type SideKey } from './model';
import { isBlank, normalizeValue, valuesEqual } from './values';

/** A field changed on both sides since the snapshot, as the merge asks the policies about it. */
export interface FieldCollision {
  field: PlannedField;
  base: FieldValue | undefined;
  values: PerSide<{ value: FieldValue; changedAt?: string }>;
}

export type CollisionResolver = (collision: FieldCollision) => SideKey;

export interface MergeInput {
  pair: ObjectPairPlan;
  /** The snapshot; `undefined` for a pair linked in this cycle (no common base yet). */
  base: FieldValues | undefined;
  records: PerSide<RemoteRecord>;
  resolve: CollisionResolver;
}

export interface MergeCollision {
  /** The left side's field name (how snapshots and activity logs name fields). */
  field: string;
  winner: SideKey;
  values: PerSide<FieldValue>;
}

export interface MergeResult {
  /** Per side: field name → value to write there. */
  writes: PerSide<FieldValues>;
  /** The snapshot once both writes succeed (keyed by the left side's field names). */
  snapshot: FieldValues;
  collisions: MergeCollision[];
}

function changedAt(record: RemoteRecord, field: string): string | undefined {
  return record.fieldModifiedAt?.[field] ?? record.modifiedAt;
}

function winnerOf(field: PlannedField, base: FieldValues | undefined, values: PerSide<FieldValue>) {
  const key = field.names.left;
  const hasBase = base !== undefined && key in base;
  const b = hasBase ? base[key] : undefined;
  const same = (v: FieldValue) => valuesEqual(v, b, field.caseInsensitive);
  const changed = { left: !hasBase || !same(values.left), right: !hasBase || !same(values.right) };
  if (changed.left && !changed.right) return { winner: 'left' as SideKey, hasBase, base: b };
  if (changed.right && !changed.left) return { winner: 'right' as SideKey, hasBase, base: b };
  // First link: fill blanks, no collision.
  if (!hasBase && isBlank(values.left)) return { winner: 'right' as SideKey, hasBase, base: b };
  if (!hasBase && isBlank(values.right)) return { winner: 'left' as SideKey, hasBase, base: b };
  // One-way fields have one master.
  if (field.to.right && !field.to.left) return { winner: 'left' as SideKey, hasBase, base: b };
  if (field.to.left && !field.to.right) return { winner: 'right' as SideKey, hasBase, base: b };
  return { winner: undefined, hasBase, base: b };
}

export function mergeRecord(input: MergeInput): MergeResult {
  const { pair, base, records } = input;
  const result: MergeResult = { writes: { left: {}, right: {} }, snapshot: { ...(base ?? {}) }, collisions: [] };
  for (const field of pair.fields) {
    // A field a record does not carry is unknown (e.g. a secured column): never treat it as blank.
    if (!SIDE_KEYS.every((side) => field.names[side] in records[side].fields)) continue;
    const values = {
      left: normalizeValue(records.left.fields[field.names.left]),
      right: normalizeValue(records.right.fields[field.names.right]),
    };
    const key = field.names.left;
    if (valuesEqual(values.left, values.right, field.caseInsensitive)) {
      result.snapshot[key] = values.left;
      continue;
    }
    const decided = winnerOf(field, base, values);
    let winner = decided.winner;
    if (winner === undefined) {
      const at = (side: SideKey) => changedAt(records[side], field.names[side]);
      const side = (s: SideKey) => ({ value: values[s], ...(at(s) ? { changedAt: at(s) } : {}) });
      winner = input.resolve({ field, base: decided.base, values: { left: side('left'), right: side('right') } });
      if (decided.hasBase) result.collisions.push({ field: key, winner, values });
    }
    const loser = otherSide(winner);
    if (field.to[loser]) {
      result.writes[loser][field.names[loser]] = values[winner];
      result.snapshot[key] = values[winner];
    }
    // Otherwise the winning value may not flow this way: nothing is written and the snapshot keeps its base.
  }
  return result;
}

/** Values of a fresh record to create on `target`, from `source` (the other side), following the directions. */
export function valuesForCreate(
  pair: ObjectPairPlan,
  source: RemoteRecord,
  target: SideKey,
): { values: FieldValues; snapshot: FieldValues } {
  const from = otherSide(target);
  const values: FieldValues = {};
  const snapshot: FieldValues = {};
  for (const field of pair.fields) {
    if (!field.to[target] || !(field.names[from] in source.fields)) continue;
    const v = normalizeValue(source.fields[field.names[from]]);
    if (v !== null) values[field.names[target]] = v;
    snapshot[field.names.left] = v;
  }
  return { values, snapshot };
}
