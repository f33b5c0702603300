/**
 * Deletes a change feed reports. On a side whose deletes `unlink`, the link is marked deleted, the other side's
 * record is kept (its deleted-flag field set where the pair maps one, its activity log told) and no cycle
 * creates the record again (a push can). On a side that `recreate`s, the link forgets that side's record, so
 * the next change on the other side creates it again, as a new record.
 */
import type { WriteOp } from '../plugin';
import type { LinkDoc } from '../repositories/sync-store';
import {
  push,
  recordName,
  type ActivityNote,
  type CycleDeps,
  type PendingLinks,
  type RemoteEventNote,
} from './cycle-deps';
import { otherSide, Tally, type Counts, type SideKey } from './model';

export interface DeletesPlan {
  /** Links to mark deleted (`unlink`), and links rewritten without the deleted record (`recreate`). */
  unlink: string[];
  forget: LinkDoc[];
  /** Flag writes on the other side, per object type. */
  flags: Map<string, WriteOp[]>;
  counts: Counts;
  notes: ActivityNote[];
  events: RemoteEventNote[];
}

/** What the deletion of `ids` (of `side`'s `type`) means for their links. Pure but for the caller's look-up. */
export function planDeletes(
  deps: CycleDeps,
  side: SideKey,
  links: readonly LinkDoc[],
  pending: PendingLinks,
): DeletesPlan {
  const out: DeletesPlan = { unlink: [], forget: [], flags: new Map(), counts: {}, notes: [], events: [] };
  const tally = new Tally();
  const other = otherSide(side);
  const rule = deps.sides[side].deletes;
  // A link an earlier part of this set re-paired (a contact replacing this lead) is not this record's any more.
  for (const link of links.filter((l) => l.state !== 'deleted' && !pending.hasLink(l._id))) {
    tally.add('deleted');
    const deleted = recordName(deps.sides[side], link[side]);
    if (rule === 'recreate') {
      out.forget.push({ ...link, [side]: { type: link[side].type }, snapshot: {} });
      out.notes.push({
        link,
        type: 'deleted',
        side,
        detail: `${deleted} was deleted; a later change in ${deps.sides[other].label} creates it again`,
      });
      continue;
    }
    out.unlink.push(link._id);
    out.notes.push({
      link,
      type: 'deleted',
      side,
      detail: `${deleted} was deleted; the ${deps.sides[other].label} record is kept and never re-created in ${deps.sides[side].label} by the sync`,
    });
    const otherId = link[other].id;
    if (!otherId) continue;
    const plan = deps.plan.pair({ left: link.left.type, right: link.right.type });
    if (plan?.deletedFlag?.side === other) {
      push(out.flags, link[other].type, {
        kind: 'update',
        ref: link._id,
        id: otherId,
        fields: { [plan.deletedFlag.field]: true },
      });
    }
    out.events.push({
      side: other,
      objectType: link[other].type,
      event: {
        recordId: otherId,
        type: 'deleted',
        at: new Date().toISOString(),
        summary: `Deleted in ${deps.sides[side].label} (${link[side].type})`,
        otherSystem: deps.sides[side].connection,
        ...(link[side].id ? { otherId: link[side].id } : {}),
      },
    });
  }
  out.counts = tally.counts;
  return out;
}

/** Reads the links of deleted records, plans what their deletion means, writes the flags and saves the links. */
export async function applyDeletes(
  deps: CycleDeps,
  side: SideKey,
  type: string,
  ids: readonly string[],
  pending: PendingLinks,
): Promise<DeletesPlan | undefined> {
  if (ids.length === 0) return undefined;
  const several = deps.sides[side].objects.length > 1;
  const links = await deps.store.links.byIds(deps.pipelineId, side, ids, several ? type : undefined);
  const plan = planDeletes(deps, side, links, pending);
  const other = otherSide(side);
  for (const [otherType, ops] of plan.flags) {
    await deps.sides[other].connector.write(otherType, ops, { signal: deps.signal, scope: deps.pipelineId });
  }
  await deps.store.links.setMany(plan.unlink, { state: 'deleted' });
  await deps.store.links.rewrite(deps.pipelineId, plan.forget);
  return plan;
}
