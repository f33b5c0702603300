/**
 * Saving a write set: new links inserted and changed ones rewritten whole (a constant number of statements),
 * the loop guard's confirmations to each connector once the snapshots holding them are saved, and the
 * activity log (MongoDB's, then each system's own where it keeps one).
 */
import type { ActivityDoc } from '../repositories/sync-store';
import type { ActivityNote, CycleDeps, RemoteEventNote } from './cycle-deps';
import type { InSyncRecord, Interpretation } from './interpreting';
import { push } from './cycle-deps';
import { SIDE_KEYS } from './model';

/** Saves the links of an interpretation, then confirms to the connectors what their saved snapshots hold. */
export async function saveLinks(deps: CycleDeps, result: Interpretation): Promise<void> {
  const { links } = deps.store;
  const taken = [
    ...(await links.insertExceptTaken(result.inserts)),
    ...(await links.rewrite(deps.pipelineId, result.rewrites)),
  ];
  for (const doc of taken) {
    deps.logger.info({ email: doc.email }, 'person was linked by another writer meanwhile; left as is');
    result.inSync.delete(doc._id);
  }
  confirmInSync(deps, [...result.inSync.values()].flat());
}

/** Tells each connector which of its writes the saved snapshots now hold (its loop guard, `Connector.inSync`). */
function confirmInSync(deps: CycleDeps, records: readonly InSyncRecord[]): void {
  for (const side of SIDE_KEYS) {
    const { connector } = deps.sides[side];
    if (!connector.inSync) continue;
    const byType = new Map<string, InSyncRecord[]>();
    for (const r of records) if (r.side === side) push(byType, r.objectType, r);
    for (const [type, list] of byType) {
      connector.inSync(
        type,
        list.map((r) => r.id),
        new Map(list.map((r) => [r.id, r.holds])),
        deps.pipelineId,
      );
    }
  }
}

/** Saves activity notes (stamped with the run) and posts remote events to the systems that keep a log. */
export async function saveActivity(
  deps: CycleDeps,
  notes: readonly ActivityNote[],
  events: readonly RemoteEventNote[],
): Promise<void> {
  const at = new Date();
  const docs: Array<Omit<ActivityDoc, '_id'>> = notes.map((n) => ({
    pipelineId: deps.pipelineId,
    at,
    type: n.type,
    runId: deps.runId,
    left: n.link.left,
    right: n.link.right,
    ...(n.link.email ? { email: n.link.email } : {}),
    ...(n.side ? { side: n.side } : {}),
    ...(n.code ? { code: n.code } : {}),
    detail: n.detail,
  }));
  await deps.store.activity.append(docs);
  for (const side of SIDE_KEYS) {
    const { connector } = deps.sides[side];
    if (!connector.logActivity) continue;
    const byType = new Map<string, RemoteEventNote['event'][]>();
    for (const e of events) if (e.side === side) push(byType, e.objectType, e.event);
    for (const [type, list] of byType) {
      try {
        await connector.logActivity(type, list, deps.signal);
      } catch (error) {
        // The activity log in MongoDB has it; the system's own copy is a convenience and must not stop the cycle.
        deps.logger.warn(
          { err: error, connection: deps.sides[side].connection },
          'could not post sync events to the activity log',
        );
      }
    }
  }
}
