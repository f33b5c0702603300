/**
 * One sync cycle of one pipeline, as a straight line: read what changed on each side since its cursor, page by
 * page, into write sets → pair each record with its link (new people by email) → plan the writes (pure: the
 * three-way merge, collisions to the policies) → write both sides in batches, intents before creates →
 * interpret the results (pure) → save links, snapshots and activity, and only then advance the cursors. Each
 * stage returns what it produced; the cycle adds up the counts. A crash re-reads at most one write set.
 */
import { CursorExpiredError, isTandemError, QuotaExhaustedError, type ChangePage, type RemoteRecord } from '../plugin';
import { isStoreUnavailable } from '../db/errors';
import { CursorsRepository } from '../repositories/cursors';
import type { SideProgress } from '../repositories/runs';
import {
  HaltCycle,
  Lookups,
  PendingLinks,
  type ActivityNote,
  type CycleDeps,
  type Pair,
  type RemoteEventNote,
} from './cycle-deps';
import { applyDeletes, planDeletes } from './deletes';
import { describeWrites, interpretPlan, type PlannedChange } from './dry-run';
import { interpretResults } from './interpreting';
import { addCounts, SIDE_KEYS, type Counts, type SideKey } from './model';
import { Pairing } from './pairing';
import { planWrites } from './planning';
import { recover } from './recovery';
import { resyncPairs } from './resync';
import { saveActivity, saveLinks } from './saving';
import { recordCreateIntents, writeBothSides } from './writing';

/**
 * Records gathered from consecutive pages (of one or more streams) before they are paired and written
 * together. Three `$batch` requests' worth: a small cycle's feeds (1,000 people: 2,250 records) share one set
 * and so one batch, while what a set holds (records, pairs, link documents) stays a few MB.
 */
export const WRITE_SET_RECORDS = 3000;

export type CycleOutcome = {
  status: 'succeeded' | 'partial' | 'failed';
  error?: string;
  /** A system no longer has a field the plan reads or writes (deleted since it was described): plan again. */
  fieldsChanged?: boolean;
};

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

/** One change feed: a side's object type. */
interface Stream {
  side: SideKey;
  type: string;
}

/** One stream's pages within a write set. */
interface Slice {
  stream: Stream;
  pages: ChangePage[];
  /** Records and deletes in `pages`. */
  size: number;
}

export class SyncCycle {
  /** The run's running totals. */
  readonly counts: Record<string, number> = {};
  /** Per connection: records read and written. */
  readonly sides: Record<string, SideProgress>;
  /** What the cycle did otherwise than asked, for the run (a feed read again from the start). */
  readonly warnings: string[] = [];
  /** A dry run's planned changes, per person and side. */
  readonly planned: PlannedChange[] = [];
  private readonly lookups: Lookups;
  /** Per stream: records read, and what its connector expects the read to hand over (where it estimates). */
  private readonly streamProgress = new Map<Stream, { read: number; estimate?: number }>();
  private notes: ActivityNote[] = [];
  private events: RemoteEventNote[] = [];
  private retryLater = false;
  /** Links saved from now on are this cycle's own (see `Pairing`). */
  private readonly startedAt = new Date();

  constructor(private readonly deps: CycleDeps) {
    this.lookups = new Lookups(deps);
    this.sides = Object.fromEntries(SIDE_KEYS.map((s) => [deps.sides[s].connection, { read: 0, written: 0 }]));
  }

  /** The streams in reading order: the second side's object types, then the first's, each in its side's order. */
  private streams(): Stream[] {
    const { plan, sides } = this.deps;
    return (['right', 'left'] as const).flatMap((side) => {
      const types = new Set(plan.types(side));
      return sides[side].objects.filter((t) => types.has(t)).map((type) => ({ side, type }));
    });
  }

  async run(cursors: ReadonlyMap<string, string>): Promise<CycleOutcome> {
    const { deps } = this;
    const streams = this.streams();
    const cursorId = (s: Stream) => CursorsRepository.id(deps.pipelineId, deps.sides[s.side].connection, s.type);
    const position = new Map(streams.map((s) => [s, cursors.get(cursorId(s)) ?? null]));
    const label = (s: Stream) => `${deps.sides[s.side].connection} ${s.type}`;
    if (!deps.dryRun) await recover(deps, this.lookups);
    // People an operator asked to resync go first, as a write set of their own.
    const resync = await resyncPairs(deps, this.lookups);
    if (resync.pairs.length > 0) {
      this.add({ read: resync.pairs.length });
      await this.executePairs(resync.pairs, 0);
      await this.saveNotes();
    }
    if (resync.ids.length > 0 && !deps.dryRun) await deps.store.links.setMany(resync.ids, {}, ['resync']);
    const failures: string[] = [];
    const failedStreams = new Set<Stream>();
    let fieldsChanged = false;
    const fail = (stream: Stream, why: string) => {
      failures.push(`${label(stream)}: ${why}`);
      failedStreams.add(stream);
    };

    // Pages are gathered into write sets of about WRITE_SET_RECORDS records, across streams too, so each set
    // fills the other side's batches instead of one batch per page or per stream. A stream's cursor is stored
    // only once the set holding its pages is saved.
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
      this.retryLater = false;
      await this.processSet(slices);
      await this.saveNotes();
      writing = [];
      if (this.retryLater) {
        // Something in this write set failed in a way worth retrying: keep the cursors so it is read again.
        for (const { stream } of slices) fail(stream, 'some writes failed and will be retried next cycle');
        return false;
      }
      for (const { stream, page } of slices) {
        if (page.cursor === position.get(stream) || deps.dryRun) continue;
        await deps.store.cursors.save(deps.pipelineId, deps.sides[stream.side].connection, stream.type, page.cursor);
        position.set(stream, page.cursor);
      }
      const last = slices[slices.length - 1] as { stream: Stream; page: ChangePage };
      const phase = last.page.progress?.phase === 'initial' ? 'initial load' : 'changes';
      await deps.report({
        counts: this.counts,
        sides: this.sides,
        text: `${label(last.stream)}: ${phase}, ${this.counts['read'] ?? 0} read so far`,
      });
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
      if (isStoreUnavailable(error)) {
        // Every stream needs the store: going on would fail each of them with the driver's words. One message
        // that says what happened and that nothing is lost (cursors only move once their pages are saved).
        const reason = error instanceof Error ? error.message : String(error);
        return {
          status: 'failed',
          error: `MongoDB did not answer (${reason}): the cycle stopped; what it had not saved is read again next cycle.`,
        };
      }
      if (isTandemError(error) && error.code === 'UNKNOWN_FIELD') fieldsChanged = true;
      const message = error instanceof Error ? error.message : String(error);
      deps.logger.warn({ err: error, streams: affected.map(label) }, 'sync stream failed; the other streams go on');
      for (const stream of affected) fail(stream, message);
      return undefined;
    };

    for (const stream of streams) {
      const { connector } = deps.sides[stream.side];
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          const pages = connector.readChanges(stream.type, position.get(stream) ?? null, {
            fields: deps.plan.read(stream.side, stream.type),
            signal: deps.signal,
            scope: deps.pipelineId,
          });
          for await (const page of pages) {
            deps.signal.throwIfAborted();
            const size = page.records.length + page.deletedIds.length;
            // A set stays within WRITE_SET_RECORDS where pages allow, so its writes fill whole batches.
            if (setSize > 0 && setSize + size > WRITE_SET_RECORDS && !(await flush())) break;
            const tail = set[set.length - 1];
            if (tail?.stream === stream) {
              tail.pages.push(page);
              tail.size += size;
            } else set.push({ stream, pages: [page], size });
            setSize += size;
            if (setSize >= WRITE_SET_RECORDS && !(await flush())) break;
          }
          break;
        } catch (error) {
          await this.saveNotes().catch(() => undefined);
          // Pages this stream read before it failed are dropped (read again next cycle); earlier streams' stay.
          const affected = writing.length > 0 ? writing : [stream];
          writing = [];
          set = set.filter((s) => s.stream !== stream);
          setSize = set.reduce((n, s) => n + s.size, 0);
          if (
            error instanceof CursorExpiredError &&
            attempt === 0 &&
            position.get(stream) !== null &&
            affected.includes(stream)
          ) {
            // The system no longer accepts where this feed was (a delta token or delete log past its window): read
            // it again from the start. The links keep anyone from being created twice; what is unchanged is
            // compared with its snapshot and left alone.
            deps.logger.warn(
              { stream: label(stream), err: error },
              'cursor expired; reading the feed again from the start',
            );
            this.warnings.push(`${label(stream)}: ${error.message}; read again from the start`);
            position.set(stream, null);
            continue;
          }
          const outcome = failed(error, affected);
          if (outcome) return outcome;
          break;
        }
      }
    }
    try {
      await flush();
    } catch (error) {
      await this.saveNotes().catch(() => undefined);
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

  /** A dry run's deletes: what their links would become, written nowhere. */
  private async planDeletesOnly(side: SideKey, type: string, ids: readonly string[], pending: PendingLinks) {
    if (ids.length === 0) return undefined;
    const { deps } = this;
    const several = deps.sides[side].objects.length > 1;
    const links = await deps.store.links.byIds(deps.pipelineId, side, ids, several ? type : undefined);
    const plan = planDeletes(deps, side, links, pending);
    for (const link of links.filter((l) => plan.unlink.includes(l._id) || plan.forget.some((f) => f._id === l._id))) {
      this.planned.push({
        ...(link.email ? { email: link.email } : {}),
        records: { left: link.left, right: link.right },
        action: 'delete',
        side,
        objectType: link[side].type,
      });
    }
    return plan;
  }

  /** A dry run's links whose other record is gone: marked deleted by a real cycle. */
  private async goneChanges(ids: readonly string[]): Promise<PlannedChange[]> {
    if (ids.length === 0) return [];
    const links = await this.deps.store.links.collection.find({ _id: { $in: [...ids] } }).toArray();
    return links.map((l) => ({
      ...(l.email ? { email: l.email } : {}),
      records: { left: l.left, right: l.right },
      action: 'delete' as const,
    }));
  }

  private add(counts: Counts, notes: readonly ActivityNote[] = [], events: readonly RemoteEventNote[] = []): void {
    addCounts(this.counts, counts);
    this.notes.push(...notes);
    this.events.push(...events);
  }

  private async saveNotes(): Promise<void> {
    const notes = this.notes;
    const events = this.events;
    this.notes = [];
    this.events = [];
    await saveActivity(this.deps, notes, events);
  }

  /**
   * A connection's expected total, for progress bars: each of its streams' estimate, or what was read from a
   * stream whose connector does not estimate. Grows as later streams start; absent until one estimates.
   */
  private noteProgress(stream: Stream, page: ChangePage): void {
    const progress = this.streamProgress.get(stream) ?? { read: 0 };
    progress.read += page.records.length;
    const estimate = page.progress?.estimatedTotal;
    if (estimate !== undefined) progress.estimate = Math.max(estimate, progress.read);
    this.streamProgress.set(stream, progress);
    const connection = this.deps.sides[stream.side].connection;
    let total = 0;
    let estimated = false;
    for (const [s, p] of this.streamProgress) {
      if (this.deps.sides[s.side].connection !== connection) continue;
      estimated ||= p.estimate !== undefined;
      total += p.estimate ?? p.read;
    }
    if (estimated) (this.sides[connection] as SideProgress).total = total;
  }

  /**
   * Pairs each stream's part of the set in stream order, then writes all pairs together (shared batches
   * across object types). Later parts see the links earlier parts paired but have not saved yet (`pending`),
   * as they would see them saved if each part were written on its own.
   */
  private async processSet(slices: ReadonlyArray<{ stream: Stream; page: ChangePage }>): Promise<void> {
    const { deps } = this;
    const pending = new PendingLinks();
    const pairs: Pair[] = [];
    for (const { stream, page } of slices) {
      const connection = deps.sides[stream.side].connection;
      this.add({ read: page.records.length });
      (this.sides[connection] as SideProgress).read += page.records.length;
      this.noteProgress(stream, page);
      const deletes = deps.dryRun
        ? await this.planDeletesOnly(stream.side, stream.type, page.deletedIds, pending)
        : await applyDeletes(deps, stream.side, stream.type, page.deletedIds, pending);
      if (deletes) this.add(deletes.counts, deletes.notes, deletes.events);
      if (page.records.length === 0) continue;
      const paired = await new Pairing(deps, this.lookups, pending, this.startedAt).pair(
        stream.side,
        stream.type,
        page.records,
      );
      if (deps.dryRun) this.planned.push(...(await this.goneChanges(paired.gone)));
      else await deps.store.links.setMany(paired.gone, { state: 'deleted' });
      this.add(paired.counts, paired.notes);
      pending.add(paired.pairs);
      pairs.push(...paired.pairs);
    }
    await this.executePairs(pairs, 0);
  }

  /** Plan, intents, writes, interpretation and saving of a set's pairs; a stale etag is merged once more. */
  private async executePairs(pairs: Pair[], attempt: number): Promise<void> {
    if (pairs.length === 0) return;
    const { deps } = this;
    const plan = planWrites(pairs, deps);
    this.add(plan.counts, plan.notes);
    if (deps.dryRun) {
      const result = interpretPlan(pairs, plan, deps.pipelineId, deps.sides);
      this.add(result.counts);
      this.planned.push(...describeWrites(pairs, plan, deps.sides));
      return;
    }
    const skip = await recordCreateIntents(deps, pairs, plan.creates);
    const results = await writeBothSides(deps, plan, skip);
    const written = pairs.filter((p) => !skip.has(p.doc._id));
    const result = interpretResults(written, plan, results, {
      pipelineId: deps.pipelineId,
      sides: deps.sides,
      attempt,
      now: new Date(),
    });
    await saveLinks(deps, result);
    this.add(result.counts, result.notes, result.events);
    for (const side of SIDE_KEYS)
      (this.sides[deps.sides[side].connection] as SideProgress).written += result.written[side];
    if (result.retryLater) this.retryLater = true;
    for (const rejection of result.rejections) {
      if (deps.onRejected(rejection) === 'halt') {
        throw new HaltCycle(`Stopped at a rejected write (validation-handling mode "halt"): ${rejection.message}`);
      }
    }
    if (result.retry.length > 0) await this.retryStale(result.retry, results);
  }

  /** Pairs whose write met a stale etag: the records that changed since read are read again and merged. */
  private async retryStale(
    pairs: readonly Pair[],
    results: Record<SideKey, ReadonlyMap<string, { status: string }>>,
  ): Promise<void> {
    const again: Pair[] = [];
    const fresh = new Map<string, RemoteRecord>();
    for (const side of SIDE_KEYS) {
      const stale = pairs.filter((p) => results[side].get(p.doc._id)?.status === 'conflict' && p.records[side]);
      const byType = new Map<string, string[]>();
      for (const p of stale)
        byType.set(p.plan.types[side], [...(byType.get(p.plan.types[side]) ?? []), p.records[side]?.id ?? '']);
      for (const [type, ids] of byType) {
        for (const [id, record] of await this.lookups.get(side, type, ids)) fresh.set(`${side}|${type}|${id}`, record);
      }
    }
    for (const p of pairs) {
      const records = { ...p.records };
      let complete = true;
      for (const side of SIDE_KEYS) {
        if (results[side].get(p.doc._id)?.status !== 'conflict') continue;
        const record = fresh.get(`${side}|${p.plan.types[side]}|${p.records[side]?.id ?? ''}`);
        if (record) records[side] = record;
        else complete = false;
      }
      if (complete) again.push({ ...p, records });
    }
    this.deps.logger.info({ count: again.length }, 'records changed since read (412); merging again');
    await this.executePairs(again, 1);
  }
}
