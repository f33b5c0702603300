/**
 * Resync: people an operator picked (from the sync-health view, after fixing what made their writes fail) are
 * compared and written again by the next cycle, whatever their change feeds say. Their records are read on
 * both sides and merged against their snapshot as if both had just changed: a field whose write was rejected
 * kept its old value in the snapshot, so its source's value flows again; one whose record exists on one side
 * only is created on the other. Batched: one look-up per side and object type.
 */
import type { RemoteRecord } from '../plugin';
import type { LinkDoc } from '../repositories/sync-store';
import { push, type CycleDeps, type Lookups, type Pair } from './cycle-deps';
import { otherSide, SIDE_KEYS, type SideKey } from './model';

/** How many flagged people one cycle takes (the rest wait for the next). */
export const RESYNC_BATCH = 1000;

export async function resyncPairs(deps: CycleDeps, lookups: Lookups): Promise<{ pairs: Pair[]; ids: string[] }> {
  const docs = await deps.store.links.resyncs(deps.pipelineId, RESYNC_BATCH);
  if (docs.length === 0) return { pairs: [], ids: [] };
  const wanted = new Map<string, string[]>();
  for (const doc of docs) {
    for (const side of SIDE_KEYS) if (doc[side].id) push(wanted, `${side}|${doc[side].type}`, doc[side].id as string);
  }
  const found = new Map<string, RemoteRecord>();
  for (const [key, ids] of wanted) {
    const [side, type] = key.split('|') as [SideKey, string];
    for (const [id, record] of await lookups.get(side, type, ids)) found.set(`${side}|${type}|${id}`, record);
  }
  const pairs: Pair[] = [];
  for (const doc of docs) {
    const plan = deps.plan.pair({ left: doc.left.type, right: doc.right.type });
    if (!plan) continue;
    const { resync: _flag, createIntent: _intent, ...rest } = doc;
    const fresh: LinkDoc = rest;
    const records: Pair['records'] = {};
    for (const side of SIDE_KEYS) {
      const record = doc[side].id ? found.get(`${side}|${doc[side].type}|${doc[side].id}`) : undefined;
      if (record) records[side] = record;
    }
    const present = SIDE_KEYS.filter((side) => records[side]);
    if (present.length === 2) {
      pairs.push({ doc: fresh, isNew: false, plan, records, action: 'merge', base: doc.snapshot, setType: true });
    } else if (present.length === 1) {
      const missing = otherSide(present[0] as SideKey);
      pairs.push({
        doc: { ...fresh, [missing]: { type: doc[missing].type } },
        isNew: false,
        plan,
        records,
        action: 'create',
        createOn: missing,
        base: undefined,
        setType: true,
      });
    }
  }
  return { pairs, ids: docs.map((d) => d._id) };
}
