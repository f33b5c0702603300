/**
 * The change feed of one object type, in one or two calls when nothing changed:
 * - the first read (no cursor) pages every live record with SOQL (`queryAll`), ordered by `SystemModstamp, Id`;
 * - later reads ask `queryAll` for what changed since the last one (`SystemModstamp >= from`): records saved since,
 *   and records deleted or merged away since (still in the Recycle Bin: `IsDeleted`; a merge's losers are deleted
 *   with `MasterRecordId` set, its winner is saved), to the second;
 * - the delete log (`sobjects/<Type>/deleted`, whole minutes, 15 days at most) is read at the start of a read once
 *   a minute has passed: what it lists and no record explains (a record emptied from the Recycle Bin, or deleted
 *   during a load resumed after a crash) is a delete too, and it is how a cursor older than the log is detected
 *   (`CursorExpiredError`) rather than deletes being lost without a word.
 * Datetimes are kept to the second, several records share a `SystemModstamp`, and a long transaction commits records
 * stamped before it ends: every read starts `overlapMs` before the previous read began (by Salesforce's clock), and
 * a record read again holding what it held then (its digest) is left out. The first read asks `queryAll` too, for
 * the records of that overlap deleted before it began: known gone, they are not reported as deletes later.
 * Batches come through `nextRecordsUrl`; a page cursor also keeps the last record handed (a keyset), so a read
 * resumed after the query locator expired goes on from there.
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-queryall.md
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-getdeleted.md
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getdeleted.htm (rules)
 * Lead conversion: a converted Lead (`IsConverted`) has become a Contact; it is no Lead to sync any more, so it is
 * left out of the first read and reported as deleted by the later ones (the Contact supersedes it).
 */
import {
  CursorExpiredError,
  isTandemError,
  ProtocolError,
  type ChangePage,
  type ReadOptions,
  type RemoteRecord,
} from '@tandem/core/plugin';
import type { SalesforceClient } from '../client';
import { sfErrors } from '../client';
import type { Described, Metadata, ObjectType } from '../objects';
import { parseSfDateTime, RecordShape, type Row } from '../records';
import { encodeQueryValue, soqlDateTime, soqlString } from '../soql';
import { decodeCursor, encodeCursor, type ChangeCursor, type Entry, type ReadPosition } from './cursor';

export interface ChangeSettings {
  /** Most records a page holds. */
  pageSize: number;
  overlapMs: number;
  placeholder: string | undefined;
  /** Most entries a cursor keeps (the overlap shrinks, never below one second, to stay within it). */
  maxEntries: number;
}

/** The delete log needs its start to precede its end by more than a minute. */
const DELETE_LOG_MIN_SPAN_MS = 2 * 60_000;
const MINUTE = 60_000;

interface QueryAnswer {
  totalSize?: number;
  done?: boolean;
  nextRecordsUrl?: string;
  records?: Row[];
}

interface DeletedAnswer {
  deletedRecords?: Array<{ id?: string; deletedDate?: string }>;
  earliestDateAvailable?: string;
  latestDateCovered?: string;
}

/** What a read knows while it runs. */
interface Live {
  prior: Map<string, Entry>;
  seen: Map<string, Entry>;
  pending: Map<string, number>;
  deletedTo: number;
  startedAt: number;
  soFar: number;
  total?: number;
  after?: [number, string];
}

const GONE = new RecordShape('Contact', [], undefined).digest('gone');

function isoOffset(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export class ChangeReader {
  constructor(
    private readonly client: SalesforceClient,
    private readonly metadata: Metadata,
    private readonly settings: ChangeSettings,
  ) {}

  async *read(objectType: ObjectType, cursorText: string | null, options: ReadOptions): AsyncGenerator<ChangePage> {
    const signal = options.signal;
    const described = await this.metadata.check(objectType, options.fields, signal);
    const shape = new RecordShape(objectType, [...new Set(options.fields)], this.settings.placeholder);
    const state: ChangeCursor =
      cursorText === null
        ? {
            v: 1,
            object: objectType,
            phase: 'initial',
            from: null,
            entries: [],
            deletedFrom: Math.floor(this.client.serverNow() / MINUTE) * MINUTE,
          }
        : decodeCursor(objectType, cursorText);
    const live = await this.begin(objectType, state, signal);
    const pageSize = this.settings.pageSize;

    let batch = await this.firstBatch(objectType, state, described, shape, live, signal);
    for (;;) {
      const rows = batch.records ?? [];
      if (live.total === undefined && typeof batch.totalSize === 'number') live.total = live.soFar + batch.totalSize;
      const done = batch.done !== false || !batch.nextRecordsUrl;
      if (rows.length === 0 && done) {
        yield this.finalPage(state, live, [], []);
        return;
      }
      for (let i = 0; i < rows.length; i += pageSize) {
        const slice = rows.slice(i, i + pageSize);
        const last = i + pageSize >= rows.length;
        const { records, deletedIds } = this.take(slice, state, described, shape, live);
        if (last && done) {
          yield this.finalPage(state, live, records, deletedIds);
          return;
        }
        this.prune(live);
        yield {
          records,
          deletedIds,
          cursor: this.midCursor(state, live, last ? batch.nextRecordsUrl : undefined),
          done: false,
          progress: this.progress(state, live),
        };
      }
      batch = await this.more(objectType, state, described, shape, live, batch.nextRecordsUrl ?? '', signal);
    }
  }

  /** A read's starting knowledge: from the cursor's position if a read was under way, else a new read. */
  private async begin(objectType: ObjectType, state: ChangeCursor, signal?: AbortSignal): Promise<Live> {
    const prior = new Map(state.entries.map((e) => [e[0], e]));
    const position = state.read;
    if (position) {
      return {
        prior,
        seen: new Map(position.seen.map((e) => [e[0], e])),
        pending: new Map(position.pending),
        deletedTo: position.deletedTo,
        startedAt: position.startedAt,
        soFar: position.soFar,
        ...(position.total === undefined ? {} : { total: position.total }),
        after: position.after,
      };
    }
    const startedAt = this.client.serverNow();
    const log =
      state.from === null
        ? { pending: new Map<string, number>(), deletedTo: state.deletedFrom }
        : await this.deleteLog(objectType, state.deletedFrom, signal);
    return { prior, seen: new Map(), ...log, startedAt, soFar: 0 };
  }

  /**
   * The delete log from `from` to now. Listed deletes are held until the read ends (a record the query shows
   * alive again was restored). A start older than the log (15 days, less if the Recycle Bin was emptied), or a log
   * that lost entries after `from`, means deletes can no longer be listed: the cursor has expired.
   */
  private async deleteLog(
    objectType: ObjectType,
    from: number,
    signal?: AbortSignal,
  ): Promise<{ pending: Map<string, number>; deletedTo: number }> {
    const now = this.client.serverNow();
    if (now - from < DELETE_LOG_MIN_SPAN_MS) return { pending: new Map(), deletedTo: from };
    const path = `sobjects/${objectType}/deleted/?start=${encodeURIComponent(isoOffset(from))}&end=${encodeURIComponent(isoOffset(now))}`;
    const res = await this.client.send({ method: 'GET', path, signal });
    const refusal =
      res.status === 400 ? sfErrors(res.text)?.find((e) => e.errorCode === 'INVALID_REPLICATION_DATE') : undefined;
    if (refusal) throw this.expired(objectType, from, `Salesforce: ${refusal.message}`);
    if (res.status < 200 || res.status >= 300) throw this.client.toError(res, `GET sobjects/${objectType}/deleted`);
    const answer = this.client.parse<DeletedAnswer>(res, `GET sobjects/${objectType}/deleted`);
    const earliest = parseSfDateTime(answer.earliestDateAvailable);
    if (earliest !== undefined && earliest > from) {
      throw this.expired(
        objectType,
        from,
        `the delete log was purged up to ${answer.earliestDateAvailable ?? ''}, after the cursor`,
      );
    }
    const pending = new Map<string, number>();
    for (const entry of answer.deletedRecords ?? []) {
      const at = parseSfDateTime(entry.deletedDate);
      if (typeof entry.id === 'string' && at !== undefined) pending.set(entry.id, at);
    }
    const covered = parseSfDateTime(answer.latestDateCovered);
    return { pending, deletedTo: covered === undefined ? from : Math.max(from, covered) };
  }

  private expired(objectType: ObjectType, from: number, why: string): CursorExpiredError {
    return new CursorExpiredError(
      `The Salesforce ${objectType} cursor is older than the delete log Salesforce keeps (15 days, less if the Recycle Bin was emptied): deletes since ${new Date(from).toISOString()} can no longer be listed (${why}). Read every record again from the start (a full read); records no longer found were deleted.`,
    );
  }

  /**
   * Every read is a `queryAll` ordered by `SystemModstamp, Id`: a later read, of what changed since `from` (deleted
   * and converted records included); the first, of every live record and of the records of the overlap before it
   * began that are gone (so they are known gone, and not reported as deletes by the next read).
   */
  private soql(
    objectType: ObjectType,
    state: ChangeCursor,
    described: Described,
    shape: RecordShape,
    live: Live,
  ): string {
    const extra = ['IsDeleted', ...(described.convertible ? ['IsConverted'] : [])];
    const where: string[] = [];
    if (state.from !== null) where.push(`SystemModstamp >= ${soqlDateTime(state.from)}`);
    else {
      const alive = described.convertible ? 'IsDeleted = false AND IsConverted = false' : 'IsDeleted = false';
      where.push(`((${alive}) OR SystemModstamp >= ${soqlDateTime(live.startedAt - this.overlapMs())})`);
    }
    const after = live.after;
    if (after) {
      const at = soqlDateTime(after[0]);
      where.push(`(SystemModstamp > ${at} OR (SystemModstamp = ${at} AND Id > ${soqlString(after[1])}))`);
    }
    return `SELECT ${shape.select(extra).join(', ')} FROM ${objectType} WHERE ${where.join(' AND ')} ORDER BY SystemModstamp ASC, Id ASC`;
  }

  /** The overlap, at least two seconds: the same second is always read again, and Salesforce's clock is known to a second. */
  private overlapMs(): number {
    return Math.max(2000, this.settings.overlapMs);
  }

  private headers(): Record<string, string> {
    // Salesforce batches 200 to 2,000 records; pages smaller than that are slices of a batch.
    const size = Math.min(2000, Math.max(200, this.settings.pageSize));
    return { 'sforce-query-options': `batchSize=${size}` };
  }

  private async run(
    objectType: ObjectType,
    state: ChangeCursor,
    described: Described,
    shape: RecordShape,
    live: Live,
    signal?: AbortSignal,
  ): Promise<QueryAnswer> {
    const soql = this.soql(objectType, state, described, shape, live);
    return this.guard(objectType, () =>
      this.client.json<QueryAnswer>({
        method: 'GET',
        path: `queryAll?q=${encodeQueryValue(soql)}`,
        headers: this.headers(),
        signal,
      }),
    );
  }

  private async firstBatch(
    objectType: ObjectType,
    state: ChangeCursor,
    described: Described,
    shape: RecordShape,
    live: Live,
    signal?: AbortSignal,
  ): Promise<QueryAnswer> {
    const next = state.read?.next;
    if (next) return this.more(objectType, state, described, shape, live, next, signal);
    return this.run(objectType, state, described, shape, live, signal);
  }

  /** The batch at `nextRecordsUrl`; once its locator has expired, the same rest of the read by its keyset. */
  private async more(
    objectType: ObjectType,
    state: ChangeCursor,
    described: Described,
    shape: RecordShape,
    live: Live,
    next: string,
    signal?: AbortSignal,
  ): Promise<QueryAnswer> {
    // A path on the instance, as documented; an absolute URL is taken too (the client refuses another host's).
    const pathname = /^https?:\/\//i.test(next) ? new URL(next).pathname : next;
    if (!pathname.startsWith('/services/data/')) {
      throw new ProtocolError(`Salesforce answered a nextRecordsUrl outside the REST API: ${next.slice(0, 80)}`);
    }
    const res = await this.client.send({ method: 'GET', path: next, headers: this.headers(), signal });
    if (res.status === 400 && sfErrors(res.text)?.some((e) => e.errorCode === 'INVALID_QUERY_LOCATOR')) {
      return this.run(objectType, state, described, shape, live, signal);
    }
    if (res.status < 200 || res.status >= 300) {
      const error = this.client.toError(res, 'GET query (next batch)');
      if (error.code === 'UNKNOWN_FIELD') this.metadata.forget(objectType);
      throw error;
    }
    return this.client.parse<QueryAnswer>(res, 'GET query (next batch)');
  }

  /** Runs a query; a field gone since the description was read drops the description (the next one is fresh). */
  private async guard<T>(objectType: ObjectType, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (isTandemError(error) && error.code === 'UNKNOWN_FIELD') this.metadata.forget(objectType);
      throw error;
    }
  }

  /** The records and deletes of some rows, leaving out those holding what they held at the last read. */
  private take(
    rows: readonly Row[],
    state: ChangeCursor,
    described: Described,
    shape: RecordShape,
    live: Live,
  ): { records: RemoteRecord[]; deletedIds: string[] } {
    const records: RemoteRecord[] = [];
    const deletedIds: string[] = [];
    for (const row of rows) {
      const id = shape.id(row);
      const stamp = parseSfDateTime(row.SystemModstamp);
      if (stamp === undefined) throw new ProtocolError(`Salesforce answered ${id} without a SystemModstamp.`);
      const gone = row.IsDeleted === true || (described.convertible && row.IsConverted === true);
      const record = gone ? undefined : shape.toRecord(row);
      const digest = record ? shape.digest(record) : GONE;
      // What the query shows now explains whatever the delete log said of this record.
      live.pending.delete(id);
      const before = live.seen.get(id) ?? live.prior.get(id);
      live.seen.set(id, [id, Math.floor(stamp / 1000), digest]);
      live.after = [stamp, id];
      live.soFar += 1;
      if (before?.[2] === digest) continue;
      if (record) records.push(record);
      // A first read reports as deleted only what it handed on alive before: the rest was gone before it began.
      else if (state.from !== null || before !== undefined) deletedIds.push(id);
    }
    return { records, deletedIds };
  }

  /** Entries that cannot outlive the read are dropped as it goes (a first read of a big org sees every record). */
  private prune(live: Live): void {
    const keepFrom = Math.min(live.startedAt - this.overlapMs(), live.deletedTo);
    for (const [id, entry] of live.seen) if (entry[1] * 1000 < keepFrom) live.seen.delete(id);
  }

  private progress(state: ChangeCursor, live: Live): ChangePage['progress'] {
    return {
      phase: state.phase,
      recordsSoFar: live.soFar,
      ...(live.total === undefined ? {} : { estimatedTotal: live.total }),
    };
  }

  private midCursor(state: ChangeCursor, live: Live, next: string | undefined): string {
    const after = live.after;
    if (!after) throw new ProtocolError('A page ended before any record was read.');
    const read: ReadPosition = {
      after,
      ...(next ? { next } : {}),
      seen: [...live.seen.values()],
      pending: [...live.pending],
      deletedTo: live.deletedTo,
      startedAt: live.startedAt,
      soFar: live.soFar,
      ...(live.total === undefined ? {} : { total: live.total }),
    };
    return encodeCursor({ ...state, read });
  }

  /** The last page: the delete log's unexplained deletes join it, and its cursor starts the next read. */
  private finalPage(state: ChangeCursor, live: Live, records: RemoteRecord[], deletedIds: string[]): ChangePage {
    const deletes = [...deletedIds];
    for (const [id, deletedAt] of live.pending) {
      const known = live.prior.get(id);
      // Already reported gone, or seen alive after the delete (restored): nothing to say.
      if (known && (known[2] === GONE || known[1] * 1000 > deletedAt)) continue;
      if (!deletes.includes(id)) deletes.push(id);
    }
    // Whatever changes after the read began is stamped after it: the next read starts an overlap before that.
    const from = Math.max(live.startedAt - this.overlapMs(), state.from ?? -Infinity);
    const merged = new Map(live.prior);
    for (const [id, entry] of live.seen) merged.set(id, entry);
    let entries = [...merged.values()]
      .filter((e) => e[1] * 1000 >= Math.min(from, live.deletedTo))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    if (entries.length > this.settings.maxEntries) {
      // Too many changes to remember (a mass update): the newest are kept, whole seconds at a time. The next read
      // hands the others on again (unchanged, which the engine sees as such) rather than risk losing a change.
      const lowest = entries[this.settings.maxEntries - 1]?.[1] ?? 0;
      entries = entries.filter((e) => e[1] >= lowest);
    }
    const next: ChangeCursor = {
      v: 1,
      object: state.object,
      phase: 'incremental',
      from,
      entries,
      deletedFrom: live.deletedTo,
    };
    return {
      records,
      deletedIds: deletes,
      cursor: encodeCursor(next),
      done: true,
      progress: this.progress(state, live),
    };
  }
}
