/**
 * One sync cycle of one pipeline: read each side's changes since its cursor, page by page; pair records by
 * link (new people by email); merge against the snapshot; write both sides in batches; save links and
 * snapshots; only then advance the cursor. Every step works on a whole page, so MongoDB and API work grow
 * with the number of changes, not with the database, and a crash re-reads at most one page.
 */
import { QuotaExhaustedError, type ChangePage, type RemoteRecord, type Side, type WriteOp } from '../plugin';
import type { LinkDoc } from '../repositories/sync-store';
import {
  CycleContext,
  HaltCycle,
  MARKETO_OBJECT,
  type CycleDeps,
  type CycleOutcome,
  type LinkUpdate,
} from './cycle-context';
import { Pairing } from './pairing';
import { PairWriter } from './writing';

export { MARKETO_OBJECT, type CycleDeps, type CycleOutcome } from './cycle-context';

/** Records gathered from consecutive pages before they are paired and written together. */
export const WRITE_SET_RECORDS = 1000;

/**
 * Consecutive pages of one stream as one: records de-duplicated by id (the later read wins), all deletes, and
 * the last page's cursor, which is stored once the whole set is saved.
 */
export function combinePages(pages: readonly ChangePage[]): ChangePage {
  const last = pages[pages.length - 1] as ChangePage;
  if (pages.length === 1) return last;
  const records = new Map<string, RemoteRecord>();
  for (const page of pages) for (const record of page.records) records.set(record.id, record);
  return {
    records: [...records.values()],
    deletedIds: [...new Set(pages.flatMap((p) => p.deletedIds))],
    cursor: last.cursor,
    done: last.done,
    ...(last.progress ? { progress: last.progress } : {}),
  };
}

export class SyncCycle {
  private readonly ctx: CycleContext;
  private readonly pairing: Pairing;
  private readonly writer: PairWriter;

  constructor(deps: CycleDeps) {
    this.ctx = new CycleContext(deps);
    this.pairing = new Pairing(this.ctx);
    this.writer = new PairWriter(this.ctx);
  }

  async run(
    cursors: Map<string, string>,
    cursorId: (system: string, objectType: string) => string,
  ): Promise<CycleOutcome> {
    const { deps } = this.ctx;
    // Dynamics first: its emails are normalized here and looked up in Marketo, which matches a record typed
    // " Person@Example.com " in Dynamics; the other way round, Dataverse's `eq` would miss it.
    const streams: Array<{ side: Side; objectType: string }> = [
      ...[...deps.plan.objects.keys()].map((objectType) => ({ side: 'dynamics' as const, objectType })),
      { side: 'marketo', objectType: MARKETO_OBJECT },
    ];
    // A rewrite of links cut short by a crash is finished before any link is read.
    await deps.store.finishLinkRewrites(deps.pipelineId);
    await this.resolveStaleIntents();
    const failures: string[] = [];
    for (const stream of streams) {
      const connector = stream.side === 'marketo' ? deps.marketo : deps.dynamics;
      const id = cursorId(stream.side, stream.objectType);
      let cursor = cursors.get(id) ?? null;
      const fields =
        stream.side === 'marketo'
          ? deps.plan.marketoRead
          : (deps.plan.objects.get(stream.objectType)?.dynamicsRead ?? []);
      try {
        // Small pages are gathered into write sets of about WRITE_SET_RECORDS records, so each write set fills
        // the other side's batches (300 per Marketo call, 1000 per $batch) instead of one batch per page.
        let pending: ChangePage[] = [];
        let pendingSize = 0;
        const flush = async (): Promise<boolean> => {
          if (pending.length === 0) return true;
          const set = combinePages(pending);
          pending = [];
          pendingSize = 0;
          this.ctx.retryLater = false;
          await this.processPage(stream.side, stream.objectType, set);
          await this.ctx.flushActivity();
          if (this.ctx.retryLater) {
            // Something in this write set failed in a way worth retrying: keep the cursor so it is read again.
            failures.push(`${stream.side} ${stream.objectType}: some writes failed and will be retried next cycle`);
            return false;
          }
          if (set.cursor !== cursor) {
            await deps.store.saveCursor(deps.pipelineId, stream.side, stream.objectType, set.cursor);
            cursor = set.cursor;
          }
          const progress = set.progress?.phase === 'initial' ? 'initial load' : 'changes';
          await deps.report(`${stream.side} ${stream.objectType}: ${progress}, ${deps.counts.read} read so far`);
          return true;
        };
        let flushed = true;
        for await (const page of connector.readChanges(stream.objectType, cursor, { fields, signal: deps.signal })) {
          deps.signal.throwIfAborted();
          const size = page.records.length + page.deletedIds.length;
          // A set stays within WRITE_SET_RECORDS where pages allow (3 Marketo pages of 300, not 4), so its
          // writes fill whole batches rather than spilling a few into one more.
          if (pendingSize > 0 && pendingSize + size > WRITE_SET_RECORDS && !(flushed = await flush())) break;
          pending.push(page);
          pendingSize += size;
          if (pendingSize >= WRITE_SET_RECORDS && !(flushed = await flush())) break;
        }
        if (flushed) await flush();
      } catch (error) {
        await this.ctx.flushActivity().catch(() => undefined);
        if (error instanceof HaltCycle) return { status: 'failed', error: error.message };
        if (error instanceof QuotaExhaustedError) {
          const when = error.resetsAt ? ` It resets at ${error.resetsAt.toISOString()}.` : '';
          return { status: 'failed', error: `${error.message}${when}` };
        }
        if (deps.signal.aborted) throw error;
        const message = error instanceof Error ? error.message : String(error);
        deps.logger.warn({ err: error, stream }, 'sync stream failed; the other streams go on');
        failures.push(`${stream.side} ${stream.objectType}: ${message}`);
      }
    }
    if (failures.length === 0) return { status: 'succeeded' };
    return { status: failures.length >= streams.length ? 'failed' : 'partial', error: failures.join('; ') };
  }

  // ---- crash recovery ------------------------------------------------------------------------------

  /**
   * Creates whose outcome was never recorded (the process died between intent and result) and whose page will
   * not come back: look the record up by email; adopt it if it exists, else drop the intent so the next change
   * creates it. Fresh intents are left alone: the re-read page handles them, and a push may be in flight.
   */
  private async resolveStaleIntents(): Promise<void> {
    const { deps } = this.ctx;
    const cutoff = Date.now() - 60_000;
    const stale = (await deps.store.pendingCreates(deps.pipelineId)).filter(
      (d) => d.createIntent !== undefined && d.createIntent.at.getTime() < cutoff && d.email !== undefined,
    );
    if (stale.length === 0) return;
    // One batched look-up per side (and Dynamics object type), not one call per person.
    const emailsOf = (docs: LinkDoc[]) => docs.map((d) => d.email as string);
    const creatingMarketo = stale.filter((d) => d.createIntent?.side === 'marketo');
    const foundInMarketo = await this.ctx.findMarketoByEmail(emailsOf(creatingMarketo));
    const foundInDynamics = new Map<string, Map<string, RemoteRecord>>();
    for (const type of new Set(stale.filter((d) => d.createIntent?.side !== 'marketo').map((d) => d.dynamicsType))) {
      const docs = stale.filter((d) => d.createIntent?.side !== 'marketo' && d.dynamicsType === type);
      foundInDynamics.set(type, await this.ctx.findDynamicsByEmail(type, emailsOf(docs)));
    }
    const updates: LinkUpdate[] = [];
    const dropped: string[] = [];
    for (const doc of stale) {
      const side = doc.createIntent?.side;
      const email = doc.email as string;
      const record = side === 'marketo' ? foundInMarketo.get(email) : foundInDynamics.get(doc.dynamicsType)?.get(email);
      if (record) {
        updates.push({
          id: doc._id,
          set: { state: 'linked', ...(side === 'marketo' ? { marketoId: record.id } : { dynamicsId: record.id }) },
          unset: ['createIntent'],
        });
      } else if (side === 'marketo' ? doc.dynamicsId : doc.marketoId) {
        updates.push({ id: doc._id, set: { state: 'rejected' }, unset: ['createIntent'] });
      } else {
        dropped.push(doc._id);
      }
    }
    await deps.store.deleteLinks(dropped);
    await deps.store.saveLinks(updates);
  }

  // ---- one page ------------------------------------------------------------------------------------

  private async processPage(side: Side, objectType: string, page: ChangePage): Promise<void> {
    const { deps } = this.ctx;
    deps.counts.read += page.records.length;
    if (side === 'dynamics') await this.handleDynamicsDeletes(objectType, page.deletedIds);
    if (page.records.length === 0) return;
    const pairs =
      side === 'dynamics'
        ? await this.pairing.pairDynamicsPage(objectType, page.records)
        : await this.pairing.pairMarketoPage(page.records);
    await this.writer.executePairs(pairs, 0);
  }

  private async handleDynamicsDeletes(objectType: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const { deps } = this.ctx;
    const plan = deps.plan.objects.get(objectType);
    const links = (await deps.store.linksByDynamicsIds(deps.pipelineId, objectType, ids)).filter(
      (l) => l.state !== 'deleted',
    );
    if (links.length === 0) return;
    const flagOps: WriteOp[] = [];
    for (const link of links) {
      deps.counts.deleted += 1;
      this.ctx.log(
        link,
        'deleted',
        `Dynamics ${objectType} ${link.dynamicsId} was deleted; the Marketo person is kept and never re-created in Dynamics by the sync`,
      );
      if (link.marketoId && plan?.deletedFlagField) {
        flagOps.push({ kind: 'update', ref: link._id, id: link.marketoId, fields: { [plan.deletedFlagField]: true } });
      }
      if (link.marketoId) {
        this.ctx.marketoEvents.push({
          recordId: link.marketoId,
          type: 'deleted',
          at: new Date().toISOString(),
          summary: `Deleted in Microsoft Dynamics (${objectType})`,
          otherSystem: 'dynamics',
          ...(link.dynamicsId ? { otherId: link.dynamicsId } : {}),
        });
      }
    }
    if (flagOps.length > 0) await deps.marketo.write(MARKETO_OBJECT, flagOps, { signal: deps.signal });
    await deps.store.saveLinks(links.map((l) => ({ id: l._id, set: { state: 'deleted' } })));
  }

  /** Changed Dynamics records → pairs. Echoes of our own writes (equal to the snapshot) stop here. */
}
