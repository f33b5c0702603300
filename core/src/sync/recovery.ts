/**
 * Crash recovery before a cycle reads anything: link rewrites a crash cut short are finished, and creates whose
 * outcome was never recorded (the process died between intent and result) are resolved by looking the record
 * up by email: adopted if it exists, else the intent is dropped so the next change creates it. Everything in a
 * constant number of commands and statements, whatever the number of people.
 */
import type { LinkDoc } from '../repositories/sync-store';
import { push, type CycleDeps, type Lookups } from './cycle-deps';
import type { SideKey } from './model';

/** How old an intent must be before recovery resolves it: fresh ones may be a push in flight. */
const STALE_INTENT_MS = 60_000;

export async function recover(deps: CycleDeps, lookups: Lookups): Promise<void> {
  await deps.store.links.finishRewrites(deps.pipelineId);
  const cutoff = Date.now() - STALE_INTENT_MS;
  const stale = (await deps.store.links.pendingCreates(deps.pipelineId)).filter(
    (d) => d.createIntent !== undefined && d.createIntent.at.getTime() < cutoff && d.email !== undefined,
  );
  if (stale.length === 0) return;
  // One batched look-up per side and object type, not one call per person.
  const groups = new Map<string, LinkDoc[]>();
  for (const doc of stale) {
    const side = (doc.createIntent as { side: SideKey }).side;
    push(groups, `${side}|${doc[side].type}`, doc);
  }
  const adopted: LinkDoc[] = [];
  const unfinished: string[] = [];
  const dropped: string[] = [];
  for (const [key, docs] of groups) {
    const [side, type] = key.split('|') as [SideKey, string];
    const found = await lookups.findByEmail(
      side,
      type,
      docs.map((d) => d.email as string),
    );
    for (const doc of docs) {
      const record = found.get(doc.email as string);
      const other = side === 'left' ? 'right' : 'left';
      if (record) {
        const { createIntent: _done, ...rest } = doc;
        adopted.push({ ...rest, state: 'linked', [side]: { type, id: record.id } });
      } else if (doc[other].id) {
        unfinished.push(doc._id);
      } else {
        dropped.push(doc._id);
      }
    }
  }
  await deps.store.links.delete(dropped);
  await deps.store.links.setMany(unfinished, { state: 'rejected' }, ['createIntent']);
  await deps.store.links.rewrite(deps.pipelineId, adopted);
}
