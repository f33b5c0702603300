/**
 * Writing a write set: the intent of every create is stored first (so a retry after a crash looks the record
 * up before creating it again), then both sides are written at once, each in the largest batches its
 * connector allows (several object types in one batch where the connector can mix them).
 */
import type { WriteOp, WriteResult } from '../plugin';
import type { LinkDoc } from '../repositories/sync-store';
import type { CycleDeps, Pair } from './cycle-deps';
import { SIDE_KEYS, type PerSide, type SideKey } from './model';
import type { CreatePlan, WritePlan } from './planning';

/**
 * Stores the create intents of `pairs` (whole link documents, a constant number of statements however many
 * people), each with the values the create sends as its snapshot: if the process dies before the outcome is
 * saved, the record found later is merged against what was sent, so that a change made meanwhile to either
 * record wins as any change since the last sync does (a first link would let the collision policy undo it).
 * Answers the ids of links whose person someone else (a push) linked meanwhile: their create must not be sent.
 */
export async function recordCreateIntents(
  deps: CycleDeps,
  pairs: readonly Pair[],
  creates: ReadonlyMap<string, CreatePlan>,
): Promise<Set<string>> {
  const creating = pairs.filter((p) => p.action === 'create' && p.createOn);
  if (creating.length === 0) return new Set();
  const at = new Date();
  const fresh: LinkDoc[] = [];
  const existing: LinkDoc[] = [];
  for (const pair of creating) {
    const side = pair.createOn as SideKey;
    pair.doc.state = 'creating';
    pair.doc.createIntent = { side, at, runId: deps.runId };
    pair.doc[side] = { type: pair.doc[side].type };
    const sent = creates.get(pair.doc._id);
    if (sent) pair.doc.snapshot = sent.snapshot;
    (pair.isNew ? fresh : existing).push(pair.doc);
  }
  const taken = [
    ...(await deps.store.links.rewrite(deps.pipelineId, existing)),
    ...(await deps.store.links.insertExceptTaken(fresh)),
  ];
  return new Set(taken.map((d) => d._id));
}

/** Writes `plan`'s ops (less those of `skip`) on both sides at once: per side, per op ref, its result. */
export async function writeBothSides(
  deps: CycleDeps,
  plan: WritePlan,
  skip: ReadonlySet<string>,
): Promise<PerSide<Map<string, WriteResult>>> {
  const written = await Promise.all(SIDE_KEYS.map((side) => writeSide(deps, side, plan.ops[side], skip)));
  return { left: written[0] ?? new Map(), right: written[1] ?? new Map() };
}

async function writeSide(
  deps: CycleDeps,
  side: SideKey,
  opsByType: ReadonlyMap<string, WriteOp[]>,
  skip: ReadonlySet<string>,
): Promise<Map<string, WriteResult>> {
  const { connector } = deps.sides[side];
  const groups = [...opsByType]
    .map(([objectType, ops]) => ({ objectType, ops: ops.filter((op) => !skip.has(op.ref)) }))
    .filter((g) => g.ops.length > 0);
  if (groups.length === 0) return new Map();
  const options = { signal: deps.signal, scope: deps.pipelineId };
  const results =
    groups.length > 1 && connector.writeMany
      ? await connector.writeMany(groups, options)
      : await Promise.all(groups.map((g) => connector.write(g.objectType, g.ops, options)));
  return new Map(results.flat().map((r) => [r.ref, r]));
}
