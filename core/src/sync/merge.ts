/**
 * The three-way merge of one linked person: each side's current values against the snapshot both sides
 * agreed on at the last sync. One side changed: copy it. Both changed differently: a collision, decided by
 * the collision policy (or, with no policy deciding, the most recent change). Pure: plain data in and out.
 */
import type { FieldValue, FieldValues, RemoteRecord } from '../plugin';
import type { ObjectPairPlan, PlannedField } from './field-plan';
import { otherSide, type PerSide, type SideKey } from './model';
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

function winnerOf(
  field: PlannedField,
  base: FieldValues | undefined,
  left: FieldValue,
  right: FieldValue,
): { winner: SideKey | undefined; hasBase: boolean; base: FieldValue | undefined } {
  const key = field.names.left;
  const hasBase = base !== undefined && key in base;
  const b = hasBase ? base[key] : undefined;
  const leftChanged = !hasBase || !valuesEqual(left, b, field.caseInsensitive);
  const rightChanged = !hasBase || !valuesEqual(right, b, field.caseInsensitive);
  let winner: SideKey | undefined;
  if (leftChanged && !rightChanged) winner = 'left';
  else if (rightChanged && !leftChanged) winner = 'right';
  // First link: fill blanks, no collision.
  else if (!hasBase && isBlank(left)) winner = 'right';
  else if (!hasBase && isBlank(right)) winner = 'left';
  // One-way fields have one master.
  else if (field.to.right && !field.to.left) winner = 'left';
  else if (field.to.left && !field.to.right) winner = 'right';
  return { winner, hasBase, base: b };
}

export function mergeRecord(input: MergeInput): MergeResult {
  const { pair, base, records } = input;
  const result: MergeResult = { writes: { left: {}, right: {} }, snapshot: { ...(base ?? {}) }, collisions: [] };
  const leftFields = records.left.fields;
  const rightFields = records.right.fields;
  // Runs for every field of every person a cycle reads: nothing is allocated for a field both sides agree on.
  for (const field of pair.fields) {
    const { left: leftName, right: rightName } = field.names;
    // A field a record does not carry is unknown (e.g. a secured column): never treat it as blank.
    if (!(leftName in leftFields) || !(rightName in rightFields)) continue;
    const left = normalizeValue(leftFields[leftName]);
    const right = normalizeValue(rightFields[rightName]);
    if (valuesEqual(left, right, field.caseInsensitive)) {
      result.snapshot[leftName] = left;
      continue;
    }
    const decided = winnerOf(field, base, left, right);
    let winner = decided.winner;
    if (winner === undefined) {
      const side = (s: SideKey) => {
        const at = changedAt(records[s], field.names[s]);
        return { value: s === 'left' ? left : right, ...(at ? { changedAt: at } : {}) };
      };
      winner = input.resolve({ field, base: decided.base, values: { left: side('left'), right: side('right') } });
      if (decided.hasBase) result.collisions.push({ field: leftName, winner, values: { left, right } });
    }
    const loser = otherSide(winner);
    if (field.to[loser]) {
      const value = winner === 'left' ? left : right;
      result.writes[loser][field.names[loser]] = value;
      result.snapshot[leftName] = value;
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
