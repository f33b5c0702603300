/**
 * One sync cycle of one pipeline: read each side's changes since its cursor, page by page; pair records by
 * link (new people by email); merge against the snapshot; write both sides in batches; save links and
 * snapshots; only then advance the cursors. Every step works on a whole write set (pages of one or more
 * streams), so MongoDB and API work grow with the number of changes, not with the database, and a crash
 * re-reads at most one write set.
 */
import {
  isTandemError,
  QuotaExhaustedError,
  type ChangePage,
  type RemoteRecord,
  type Side,
  type WriteOp,
} from '../plugin';
import type { LinkDoc } from '../repositories/sync-store';
import { CycleContext, HaltCycle, MARKETO_OBJECT, type CycleDeps, type CycleOutcome, type Pair } from './cycle-context';
import { Pairing } from './pairing';
import { PairWriter } from './writing';

export { MARKETO_OBJECT, type CycleDeps, type CycleOutcome } from './cycle-context';

/**
 * Records gathered from consecutive pages (of one or more streams) before they are paired and written
 * together. Three `$batch` requests' worth: a small cycle's feeds (1,000 people: 2,250 records) share one set
 * and so one batch, while what a set holds (records, pairs, link documents) stays a few MB.
 */
export const WRITE_SET_RECORDS = 3000;

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

interface Stream {
  side: Side;
  objectType: string;
}

/** One stream's pages within a write set. */
interface Slice {
  stream: Stream;
  pages: ChangePage[];
  /** Records and deletes in `pages`. */
  size: number;
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
    const streams: Stream[] = [
      ...[...deps.plan.objects.keys()].map((objectType) => ({ side: 'dynamics' as const, objectType })),
      { side: 'marketo', objectType: MARKETO_OBJECT },
    ];
    const position = new Map(streams.map((s) => [s, cursors.get(cursorId(s.side, s.objectType)) ?? null]));
    const label = (s: Stream) => `${s.side} ${s.objectType}`;
    // A rewrite of links cut short by a crash is finished before any link is read.
    await deps.store.finishLinkRewrites(deps.pipelineId);
    await this.resolveStaleIntents();
    const failures: string[] = [];
    const failedStreams = new Set<Stream>();
    let fieldsChanged = false;
    const fail = (stream: Stream, why: string) => {
      failures.push(`${label(stream)}: ${why}`);
      failedStreams.add(stream);
    };

    // Pages are gathered into write sets of about WRITE_SET_RECORDS records, across streams too, so each set
    // fills the other side's batches (300 per Marketo call, 1000 per $batch) instead of one batch per page or
    // per stream. A stream's cursor is stored only once the set holding its pages is saved.
    let set: Slice[] = [];
    let setSize = 0;
    /** The streams of the set being written, for the failure report if writing it throws. */
    let writing: Stream[] = [];
    const flush = async (): Promise<boolean> => {
      if (set.length === 0) return true;
      const slices = set.map((s) => ({ stream: s.stream, page: combinePages(s.pages) }));
      set = [];
      setSize = 0;
      writing = slices.map((s) => s.stream);
      this.ctx.retryLater = false;
      await this.processSet(slices);
      await this.ctx.flushActivity();
      writing = [];
      if (this.ctx.retryLater) {
        // Something in this write set failed in a way worth retrying: keep the cursors so it is read again.
        for (const { stream } of slices) fail(stream, 'some writes failed and will be retried next cycle');
        return false;
      }
      for (const { stream, page } of slices) {
        if (page.cursor === position.get(stream)) continue;
        await deps.store.saveCursor(deps.pipelineId, stream.side, stream.objectType, page.cursor);
        position.set(stream, page.cursor);
      }
      const last = slices[slices.length - 1] as { stream: Stream; page: ChangePage };
      const progress = last.page.progress?.phase === 'initial' ? 'initial load' : 'changes';
      await deps.report(`${label(last.stream)}: ${progress}, ${deps.counts.read} read so far`);
      return true;
    };
    /** The cycle's end for errors that stop it; `undefined` for a failure of some streams only. */
    const failed = (error: unknown, affected: Stream[]): CycleOutcome | undefined => {
      if (error instanceof HaltCycle) return { status: 'failed', error: error.message };
      if (error instanceof QuotaExhaustedError) {
        const when = error.resetsAt ? ` It resets at ${error.resetsAt.toISOString()}.` : '';
        return { status: 'failed', error: `${error.message}${when}` };
      }
      if (deps.signal.aborted) throw error;
      if (isTandemError(error) && error.code === 'UNKNOWN_FIELD') fieldsChanged = true;
      const message = error instanceof Error ? error.message : String(error);
      deps.logger.warn({ err: error, streams: affected }, 'sync stream failed; the other streams go on');
      for (const stream of affected) fail(stream, message);
      return undefined;
    };

    for (const stream of streams) {
      const connector = stream.side === 'marketo' ? deps.marketo : deps.dynamics;
      const fields =
        stream.side === 'marketo'
          ? deps.plan.marketoRead
          : (deps.plan.objects.get(stream.objectType)?.dynamicsRead ?? []);
      try {
        const pages = connector.readChanges(stream.objectType, position.get(stream) ?? null, {
          fields,
          signal: deps.signal,
        });
        for await (const page of pages) {
          deps.signal.throwIfAborted();
          const size = page.records.length + page.deletedIds.length;
          // A set stays within WRITE_SET_RECORDS where pages allow (3 Marketo pages of 300, not 4), so its
          // writes fill whole batches rather than spilling a few into one more.
          if (setSize > 0 && setSize + size > WRITE_SET_RECORDS && !(await flush())) break;
          const tail = set[set.length - 1];
          if (tail?.stream === stream) {
            tail.pages.push(page);
            tail.size += size;
          } else set.push({ stream, pages: [page], size });
          setSize += size;
          if (setSize >= WRITE_SET_RECORDS && !(await flush())) break;
        }
      } catch (error) {
        await this.ctx.flushActivity().catch(() => undefined);
        // Pages this stream read before it failed are dropped (read again next cycle); earlier streams' stay.
        const affected = writing.length > 0 ? writing : [stream];
        writing = [];
        set = set.filter((s) => s.stream !== stream);
        setSize = set.reduce((n, s) => n + s.size, 0);
        const outcome = failed(error, affected);
        if (outcome) return outcome;
      }
    }
    try {
      await flush();
    } catch (error) {
      await this.ctx.flushActivity().catch(() => undefined);
      const outcome = failed(error, writing);
      if (outcome) return outcome;
    }
    if (failures.length === 0) return { status: 'succeeded' };
    return {
      status: failedStreams.size >= streams.length ? 'failed' : 'partial',
      error: failures.join('; '),
      ...(fieldsChanged ? { fieldsChanged } : {}),
    };
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
    const adopted: LinkDoc[] = [];
    const unfinished: string[] = [];
    const dropped: string[] = [];
    for (const doc of stale) {
      const side = doc.createIntent?.side;
      const email = doc.email as string;
      const record = side === 'marketo' ? foundInMarketo.get(email) : foundInDynamics.get(doc.dynamicsType)?.get(email);
      if (record) {
        const { createIntent: _done, ...rest } = doc;
        adopted.push({
          ...rest,
          state: 'linked',
          ...(side === 'marketo' ? { marketoId: record.id } : { dynamicsId: record.id }),
        });
      } else if (side === 'marketo' ? doc.dynamicsId : doc.marketoId) {
        unfinished.push(doc._id);
      } else {
        dropped.push(doc._id);
      }
    }
    // A constant number of statements whatever the number of people: one delete, one state change, one rewrite.
    await deps.store.deleteLinks(dropped);
    await deps.store.setLinks(unfinished, { state: 'rejected' }, ['createIntent']);
    await deps.store.rewriteLinks(deps.pipelineId, adopted);
  }

  // ---- one write set ------------------------------------------------------------------------------

  /**
   * Pairs each stream's part of the set in stream order, then writes all pairs together (one Marketo call
   * per 300 and shared `$batch` requests across object types). Later parts see the links earlier parts paired
   * but have not saved yet (`ctx.pending`), as they would see them saved if each part were written on its own.
   */
  private async processSet(slices: ReadonlyArray<{ stream: Stream; page: ChangePage }>): Promise<void> {
    const { deps } = this.ctx;
    const pairs: Pair[] = [];
    try {
      for (const { stream, page } of slices) {
        deps.counts.read += page.records.length;
        if (stream.side === 'dynamics') await this.handleDynamicsDeletes(stream.objectType, page.deletedIds);
        if (page.records.length === 0) continue;
        const paired =
          stream.side === 'dynamics'
            ? await this.pairing.pairDynamicsPage(stream.objectType, page.records)
            : await this.pairing.pairMarketoPage(page.records);
        this.ctx.pending.add(paired);
        for (const pair of paired) pairs.push(pair);
      }
      await this.writer.executePairs(pairs, 0);
    } finally {
      this.ctx.pending.clear();
    }
  }

  private async handleDynamicsDeletes(objectType: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const { deps } = this.ctx;
    const plan = deps.plan.objects.get(objectType);
    // A link an earlier part of this set re-paired (a contact replacing this lead) is not this record's any more.
    const links = (await deps.store.linksByDynamicsIds(deps.pipelineId, objectType, ids)).filter(
      (l) => l.state !== 'deleted' && !this.ctx.pending.hasLink(l._id),
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
    await deps.store.setLinks(
      links.map((l) => l._id),
      { state: 'deleted' },
    );
  }
}
