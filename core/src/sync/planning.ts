/**
 * Planning a write set: for each pair, the field-by-field merge (collisions decided by the policies) or the
 * values of the record to create, gathered into each side's writes per object type. Pure: plain data in, plain
 * data out, no I/O, so it can be tested (and a dry run can stop) right here.
 */
import type { Collision, FieldValues, WriteOp } from '../plugin';
import { push, type ActivityNote, type Pair } from './cycle-deps';
import { mergeRecord, valuesForCreate, type FieldCollision, type MergeResult } from './merge';
import { otherSide, Tally, type Counts, type PerSide, type PipelineSide, type SideKey } from './model';
import { valuesEqual } from './values';

export interface PlanContext {
  pipelineId: string;
  sides: PerSide<PipelineSide>;
  /** The winning connection id of a collision. */
  resolveCollision(collision: Collision): string;
}

export interface CreatePlan {
  side: SideKey;
  values: FieldValues;
  snapshot: FieldValues;
}

export interface WritePlan {
  /** Per side, per object type: the writes, each `ref` being the pair's link id. */
  ops: PerSide<Map<string, WriteOp[]>>;
  merges: Map<string, MergeResult>;
  creates: Map<string, CreatePlan>;
  counts: Counts;
  notes: ActivityNote[];
}

/** The collision the policies see, from the merge's view of one field. */
export function toCollision(
  pipelineId: string,
  sides: PerSide<PipelineSide>,
  pair: Pair,
  c: FieldCollision,
): Collision {
  const side = (key: SideKey) => ({
    connection: sides[key].connection,
    connector: sides[key].connector.id,
    objectType: pair.plan.types[key],
    field: c.field.names[key],
    ...c.values[key],
  });
  return { pipelineId, sides: [side('left'), side('right')], base: c.base };
}

/** The type field's value for a pair's first write, where the pair sets one and it does not hold it yet. */
function typeFieldValue(pair: Pair, side: SideKey): FieldValues {
  const flag = pair.plan.typeField;
  if (!pair.setType || !flag || flag.side !== side) return {};
  const value = pair.plan.types[otherSide(side)];
  const current = pair.records[side]?.fields[flag.field];
  if (current !== undefined && valuesEqual(current, value)) return {};
  return { [flag.field]: value };
}

export function planWrites(pairs: readonly Pair[], ctx: PlanContext): WritePlan {
  const plan: WritePlan = {
    ops: { left: new Map(), right: new Map() },
    merges: new Map(),
    creates: new Map(),
    counts: {},
    notes: [],
  };
  const tally = new Tally();
  for (const pair of pairs) {
    const ref = pair.doc._id;
    if (pair.action === 'merge' && pair.records.left && pair.records.right) {
      const records = { left: pair.records.left, right: pair.records.right };
      const merge = mergeRecord({
        pair: pair.plan,
        base: pair.base,
        records,
        resolve: (c) => {
          const winner = ctx.resolveCollision(toCollision(ctx.pipelineId, ctx.sides, pair, c));
          return winner === ctx.sides.left.connection ? 'left' : 'right';
        },
      });
      plan.merges.set(ref, merge);
      for (const side of ['left', 'right'] as const) {
        const fields = { ...merge.writes[side], ...typeFieldValue(pair, side) };
        if (Object.keys(fields).length === 0) continue;
        const etag = records[side].etag;
        push(plan.ops[side], pair.plan.types[side], {
          kind: 'update',
          ref,
          id: records[side].id,
          fields,
          ...(etag ? { etag } : {}),
        });
      }
      for (const c of merge.collisions) {
        tally.add('conflicts');
        const winner = ctx.sides[c.winner];
        plan.notes.push({
          link: pair.doc,
          type: 'conflict',
          detail: `${c.field} changed on both sides (${ctx.sides.left.label} "${String(c.values.left)}", ${ctx.sides.right.label} "${String(c.values.right)}"); ${winner.connection} wins`,
        });
      }
    } else if (pair.action === 'create' && pair.createOn) {
      const side = pair.createOn;
      const source = pair.records[otherSide(side)];
      if (!source) continue;
      const create = valuesForCreate(pair.plan, source, side);
      plan.creates.set(ref, { side, ...create });
      push(plan.ops[side], pair.plan.types[side], {
        kind: 'create',
        ref,
        fields: { ...create.values, ...typeFieldValue(pair, side) },
      });
    }
  }
  plan.counts = tally.counts;
  return plan;
}
