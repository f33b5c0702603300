/**
 * Marketo leads (persons): changes, reads by id or email, and writes through Sync Leads.
 *
 * Changes come in two phases held in one opaque cursor:
 * - initial: first a paging token for "now" is taken, then every lead is read by id in ranges of 300 ids
 *   (Get Leads, filterType=id), page by page, never holding the database in memory. The scan ends after
 *   `maxIdGap` consecutive ids that do not exist. When it found nothing at all by then, the activity log's
 *   oldest entries say where ids start (once), and the scan goes on from there.
 * - incremental: `activities/leadchanges.json` from the token (New Lead and Change Data Value for the
 *   requested fields), then the changed leads' current values by id. Leads created during the initial scan
 *   show up here as New Lead, so nothing falls between the phases. Then `activities/deletedleads.json`
 *   (Delete Lead, activity type 37) from a paging token of its own: leadchanges never reports a delete, and a
 *   lead deleted without a change in the window would otherwise never be reported.
 */
import {
  ConnectorAuthError,
  ConnectorRequestError,
  OwnWrites,
  ProtocolError,
  QuotaExhaustedError,
  RetryableError,
  TandemError,
  type ChangePage,
  type FieldValue,
  type FieldValues,
  type RemoteRecord,
  type WriteOp,
  type WriteResult,
} from '@tandem/core/plugin';
import type { Envelope, MarketoClient, Query } from '../client';
import type { LeadDescriber } from './describe';
import { asFieldValue, asId, asRecord, batches, chunk, firstReason, isoDate, jsonBytes } from './shapes';

export const BATCH = 300;
/** Where the activity log is read from to find where lead ids start: before any Marketo instance existed. */
const OLDEST_ACTIVITY = '2000-01-01T00:00:00Z';
/** Pages of Get Lead Changes read at most to find where lead ids start. */
const DISCOVERY_PAGES = 5;

type Cursor =
  | {
      v: 1;
      phase: 'initial';
      token: string;
      nextId: number;
      missing: number;
      sofar: number;
      /** When the paging token starts (ISO; absent in cursors written before it was kept). */
      since?: string;
      /** Whether the scan already looked for where ids start (see `firstIdFromActivities`). */
      probed?: boolean;
    }
  | {
      v: 1;
      phase: 'incremental';
      /** Where `leadchanges` goes on. */
      token: string;
      /**
       * Where `deletedleads` goes on; absent, at `token` (the initial load's start, and cursors written before
       * deletes were read).
       */
      deletes?: string;
    };

function encodeCursor(cursor: Cursor): string {
  return JSON.stringify(cursor);
}

function decodeCursor(text: string): Cursor {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TandemError('BAD_REQUEST', `Not a Marketo cursor: ${JSON.stringify(text.slice(0, 80))}`, { status: 400 });
  }
  const c = value as Partial<Record<string, unknown>> | null;
  if (c && c.v === 1 && typeof c.token === 'string') {
    if (c.phase === 'incremental') {
      return {
        v: 1,
        phase: 'incremental',
        token: c.token,
        ...(typeof c.deletes === 'string' ? { deletes: c.deletes } : {}),
      };
    }
    if (c.phase === 'initial' && typeof c.nextId === 'number' && typeof c.missing === 'number') {
      const { since, ...rest } = c as Cursor & { phase: 'initial' };
      return {
        ...rest,
        sofar: typeof c.sofar === 'number' ? c.sofar : 0,
        ...(typeof since === 'string' ? { since } : {}),
      };
    }
  }
  throw new TandemError('BAD_REQUEST', `Not a Marketo cursor: ${JSON.stringify(text.slice(0, 80))}`, { status: 400 });
}

/** Fields Marketo maintains itself: asked for so records carry `modifiedAt`, never written. */
const SYSTEM_FIELDS = new Set(['id', 'createdAt', 'updatedAt']);

export interface LeadOptions {
  /** Consecutive non-existent ids after which the initial id scan ends. */
  maxIdGap: number;
  /** Id ranges read ahead concurrently during the initial scan. */
  lookahead: number;
}

/** What one of our own writes left a lead as, for telling its echo in `leadchanges` from a change. */
interface WrittenLead {
  /** We created it: its New Lead activity is ours. */
  created: boolean;
  /** Each field written, as text (how `leadchanges` reports a new value). */
  fields: Record<string, string>;
  /**
   * Every field as the engine knows the lead holds it now (as read, then its snapshot), overlaid with the
   * fields written, as text: known once the engine confirms the write with them (`Connector.inSync`).
   */
  holds?: Record<string, string>;
}

/** A value as `leadchanges` reports it (text; blank for null). */
function valueText(value: unknown): string {
  return value === null || value === undefined ? '' : String(value);
}

/** Two writes of one lead before the engine confirmed the first: the later values win. */
function mergeWritten(earlier: WrittenLead, later: WrittenLead): WrittenLead {
  return { created: earlier.created || later.created, fields: { ...earlier.fields, ...later.fields } };
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Never rejects: a read-ahead that fails after the consumer left must not become an unhandled rejection. */
function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

export class LeadObject {
  /**
   * The loop guard per scope (the pipeline reading and writing): our own writes (see `OwnWrites`), whose echoes
   * are not handed on again to the pipeline that made them, and the last cursor its reads handed out (see
   * `readChanges`). Another pipeline sharing the instance sees those writes as the changes they are.
   */
  private readonly guards = new Map<string, { ownWrites: OwnWrites<WrittenLead>; lastCursor?: string }>();

  private guard(scope: string | undefined): { ownWrites: OwnWrites<WrittenLead>; lastCursor?: string } {
    const key = scope ?? '';
    let guard = this.guards.get(key);
    if (!guard) this.guards.set(key, (guard = { ownWrites: new OwnWrites<WrittenLead>() }));
    return guard;
  }
  readonly stats = { echoesSkipped: 0 };

  constructor(
    private readonly client: MarketoClient,
    private readonly describer: LeadDescriber,
    private readonly options: LeadOptions = { maxIdGap: 3000, lookahead: 4 },
    /** Called for each echo left out (a metric). */
    private readonly onEchoSkipped: () => void = () => undefined,
  ) {}

  /** The engine saved these leads' snapshots as we last wrote them (see `Connector.inSync`). */
  inSync(ids: readonly string[], holds?: ReadonlyMap<string, FieldValues>, scope?: string): void {
    this.guard(scope).ownWrites.confirm(ids, (id, written) => {
      const snapshot = holds?.get(id);
      if (!snapshot) return written;
      const all: Record<string, string> = {};
      for (const name in snapshot) all[name] = valueText(snapshot[name]);
      return { ...written, holds: Object.assign(all, written.fields) };
    });
  }

  private countEcho(): void {
    this.stats.echoesSkipped += 1;
    this.onEchoSkipped();
  }

  /**
   * Whether a lead the scan found is one of our confirmed writes and still holds, in every field asked for,
   * what the engine knows it holds (see `holds`), or for a create of ours without that, what we wrote (the
   * rest blank).
   */
  private isScanEcho(record: RemoteRecord, fields: readonly string[], scope: string | undefined): boolean {
    const written = this.guard(scope).ownWrites.take(record.id);
    const holds = written?.holds ?? (written?.created ? written.fields : undefined);
    if (!holds) return false;
    const echo = fields.every((f) => SYSTEM_FIELDS.has(f) || valueText(record.fields[f]) === (holds[f] ?? ''));
    if (echo) this.countEcho();
    return echo;
  }

  /**
   * Whether a lead's activities in a `leadchanges` page are all our own confirmed write coming back: its New
   * Lead if we created it, and changes of fields we wrote to exactly the values we wrote. Anything else (a
   * field we did not write, another value) is someone's change, and the lead is read as usual.
   */
  private isEcho(
    leadId: number,
    activities: ReadonlyArray<Record<string, unknown>>,
    scope: string | undefined,
  ): boolean {
    const written = this.guard(scope).ownWrites.take(String(leadId));
    if (!written) return false;
    return activities.every((activity) => {
      if (activity.activityTypeId === 12) return written.created;
      if (activity.activityTypeId !== 13 || !Array.isArray(activity.fields)) return false;
      return activity.fields.every((f: unknown) => {
        const field = asRecord(f, 'lead change field');
        const name = typeof field.name === 'string' ? field.name : undefined;
        return name !== undefined && written.fields[name] === valueText(field.newValue);
      });
    });
  }

  /** Throws `UNKNOWN_FIELD` naming the first requested field the instance does not have. */
  async checkFields(fields: readonly string[], signal?: AbortSignal): Promise<void> {
    const known = await this.describer.fieldNames(signal);
    const unknown = fields.find((f) => !known.has(f));
    if (unknown !== undefined) {
      throw new TandemError('UNKNOWN_FIELD', `Marketo lead has no field '${unknown}' (check the field mapping)`, {
        status: 400,
        details: { objectType: 'lead', field: unknown },
      });
    }
  }

  async *readChanges(
    cursorText: string | null,
    fields: readonly string[],
    signal?: AbortSignal,
    scope?: string,
  ): AsyncGenerator<ChangePage> {
    await this.checkFields(fields, signal);
    // The loop guard judges an echo by values, so it must see every change since a write: a lead whose value
    // was changed and changed back while someone else read the feed (another instance; a cursor set back or
    // reset) would pass for our echo. Unless the feed resumes where this object last left it, or this is the
    // first read since it started, what it remembers is forgotten. (Dataverse's etags need no such care.)
    const guard = this.guard(scope);
    if (cursorText !== guard.lastCursor && !(cursorText === null && guard.lastCursor === undefined)) {
      guard.ownWrites.forgetConfirmed();
    }
    const cursor: Cursor = cursorText === null ? await this.startInitial(signal) : decodeCursor(cursorText);
    const pages =
      cursor.phase === 'initial'
        ? [
            this.initial(cursor, fields, signal, scope),
            this.incremental({ v: 1, phase: 'incremental', token: cursor.token }, fields, signal, scope),
          ]
        : [this.incremental(cursor, fields, signal, scope)];
    for (const phase of pages) {
      for await (const page of phase) {
        guard.lastCursor = page.cursor;
        yield page;
      }
    }
  }

  /**
   * The id scan. A few ranges are read ahead concurrently so throughput sits near the limiter's ceiling,
   * but pages are handed over strictly in order and read-aheads are cancelled if the consumer stops early.
   */
  private async *initial(
    start: Cursor & { phase: 'initial' },
    fields: readonly string[],
    signal?: AbortSignal,
    scope?: string,
  ): AsyncGenerator<ChangePage> {
    const controller = new AbortController();
    const inner = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
    const lookahead = Math.max(1, Math.min(this.options.lookahead, this.client.limits.maxConcurrent));
    // Leads created after the paging token's start come as New Lead through leadchanges, which follow this
    // scan: reading them here too would read them twice (this sync's own creates among them). To the scan
    // they do not exist, so they count toward the gap that ends it (ids only grow).
    const since = start.since === undefined ? Number.NaN : Date.parse(start.since);
    const existedAtStart = Number.isNaN(since)
      ? undefined
      : (item: Record<string, unknown>) => {
          const created = isoDate(item.createdAt);
          return created === undefined || Date.parse(created) <= since;
        };
    const ahead: Array<Promise<Settled<RemoteRecord[]>>> = [];
    let nextStart = start.nextId;
    let c = start;
    try {
      for (;;) {
        if (c.missing >= this.options.maxIdGap) {
          // Nothing at all from id 1 on: the ids may start higher than the gap reaches (a database whose first
          // leads were deleted, or ids that never started near 1: the docs promise nothing about them). Ask the
          // activity log once where they start, and scan on from there.
          if (c.sofar > 0 || c.probed) break;
          const first = await this.firstIdFromActivities(c.nextId, fields, inner);
          c = { ...c, probed: true };
          if (first === undefined) break;
          // Read-aheads already sent cover ids below `first`, which hold nothing: wait them out and drop them.
          await Promise.all(ahead.splice(0));
          const from = Math.floor((first - 1) / BATCH) * BATCH + 1;
          c = { ...c, nextId: from, missing: 0 };
          nextStart = from;
        }
        while (ahead.length < lookahead) {
          const ids = Array.from({ length: BATCH }, (_, i) => String(nextStart + i));
          ahead.push(settle(this.byFilter('id', ids, fields, inner, existedAtStart)));
          nextStart += BATCH;
        }
        const outcome = await (ahead.shift() as Promise<Settled<RemoteRecord[]>>);
        if (!outcome.ok) throw outcome.error;
        const found = outcome.value;
        const maxId = found.reduce((max, r) => Math.max(max, Number(r.id)), 0);
        // Count the trailing ids of this range that do not exist: a long enough run means the end.
        const missing = found.length === 0 ? c.missing + BATCH : c.nextId + BATCH - 1 - maxId;
        c = { ...c, nextId: c.nextId + BATCH, missing, sofar: c.sofar + found.length };
        const records = found.filter((r) => !this.isScanEcho(r, fields, scope));
        if (records.length === 0) continue;
        yield {
          records,
          deletedIds: [],
          cursor: encodeCursor(c),
          done: false,
          progress: { phase: 'initial', recordsSoFar: c.sofar },
        };
      }
    } finally {
      // Read-aheads past the end (or past an early stop) are not needed: cancel them.
      controller.abort();
    }
  }

  /**
   * The smallest lead id at or after `from` that the activity log names, reading Get Lead Changes from its
   * oldest activities (New Lead is logged for every new person, activities.md), a few pages at most; undefined
   * when none does. Only asked when the id scan found nothing in its first `maxIdGap` ids: an empty database
   * pays a paging token and a few empty pages once.
   */
  private async firstIdFromActivities(
    from: number,
    fields: readonly string[],
    signal: AbortSignal,
  ): Promise<number | undefined> {
    const start = await this.client.get('/v1/activities/pagingtoken.json', { sinceDatetime: OLDEST_ACTIVITY }, signal);
    let token = start.nextPageToken;
    if (!token) return undefined;
    const watched = fields.filter((f) => !SYSTEM_FIELDS.has(f));
    const changeFields = (watched.length > 0 ? watched : ['email']).join(',');
    let first: number | undefined;
    for (let page = 0; page < DISCOVERY_PAGES; page++) {
      const envelope = await this.read(
        '/v1/activities/leadchanges.json',
        { nextPageToken: token, fields: changeFields, batchSize: BATCH },
        signal,
      );
      for (const item of envelope.result) {
        const id = Number(asRecord(item, 'lead change').leadId);
        if (Number.isSafeInteger(id) && id >= from && (first === undefined || id < first)) first = id;
      }
      if (first !== undefined || envelope.moreResult !== true || !envelope.nextPageToken) break;
      token = envelope.nextPageToken;
    }
    return first;
  }

  private async startInitial(signal?: AbortSignal): Promise<Cursor> {
    const since = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const envelope = await this.client.get('/v1/activities/pagingtoken.json', { sinceDatetime: since }, signal);
    if (!envelope.nextPageToken) throw new ProtocolError('Marketo pagingtoken.json answered no nextPageToken');
    return { v: 1, phase: 'initial', token: envelope.nextPageToken, nextId: 1, missing: 0, sofar: 0, since };
  }

  /**
   * The changes since `start`: the `leadchanges` pages (the changed leads read by id), then the `deletedleads`
   * pages. Every page's cursor holds both paging tokens, so a read resumed from any page loses nothing; the last
   * page (of the deletes) is the one marked done. Nothing changed costs one call of each.
   */
  private async *incremental(
    start: Cursor & { phase: 'incremental' },
    fields: readonly string[],
    signal?: AbortSignal,
    scope?: string,
  ): AsyncGenerator<ChangePage> {
    const deletesFrom = start.deletes ?? start.token;
    // Leads reported deleted in this read (a changed lead that can no longer be read), not reported twice.
    const reported = new Set<string>();
    let token = start.token;
    for await (const page of this.changes(start.token, fields, signal, scope)) {
      token = page.token;
      // A page with nothing in it is not handed over: the last page, of the deletes, carries its token on.
      if (page.records.length === 0 && page.deletedIds.length === 0) continue;
      for (const id of page.deletedIds) reported.add(id);
      yield {
        records: page.records,
        deletedIds: page.deletedIds,
        cursor: encodeCursor({ v: 1, phase: 'incremental', token, deletes: deletesFrom }),
        done: false,
        progress: { phase: 'incremental' },
      };
    }
    let deletes = deletesFrom;
    for (;;) {
      const envelope = await this.client.get(
        '/v1/activities/deletedleads.json',
        { nextPageToken: deletes, batchSize: BATCH },
        signal,
      );
      const next = nextToken('deletedleads.json', envelope, deletes);
      const deletedIds: string[] = [];
      for (const item of envelope.result) {
        const id = String(deletedLeadId(asRecord(item, 'deleted lead')));
        if (reported.has(id)) continue;
        reported.add(id);
        deletedIds.push(id);
      }
      const done = envelope.moreResult !== true;
      deletes = next;
      // A page with nothing in it is skipped unless it is the last: the final cursor must always be handed over.
      if (deletedIds.length > 0 || done) {
        yield {
          records: [],
          deletedIds,
          cursor: encodeCursor({ v: 1, phase: 'incremental', token, deletes }),
          done,
          progress: { phase: 'incremental' },
        };
      }
      if (done) return;
    }
  }

  /**
   * `leadchanges` from `start` to its end (New Lead and Change Data Value of the watched fields), the changed
   * leads read by id, one page per call (empty ones too). Each page names the token after it.
   */
  private async *changes(
    start: string,
    fields: readonly string[],
    signal?: AbortSignal,
    scope?: string,
  ): AsyncGenerator<{ records: RemoteRecord[]; deletedIds: string[]; token: string }> {
    // leadchanges needs at least one field; changes to fields outside the mapping are not our business.
    const watched = fields.filter((f) => !SYSTEM_FIELDS.has(f));
    const changeFields = (watched.length > 0 ? watched : ['email']).join(',');
    let token = start;
    for (;;) {
      const envelope = await this.read(
        '/v1/activities/leadchanges.json',
        { nextPageToken: token, fields: changeFields, batchSize: BATCH },
        signal,
      );
      const next = nextToken('leadchanges.json', envelope, token);
      const changed = new Map<number, Record<string, string>>();
      const activities = new Map<number, Array<Record<string, unknown>>>();
      for (const item of envelope.result) {
        const change = asRecord(item, 'lead change');
        const leadId = asId(change.leadId, 'lead change leadId');
        const perField = changed.get(leadId) ?? {};
        changed.set(leadId, perField);
        const ofLead = activities.get(leadId);
        if (ofLead) ofLead.push(change);
        else activities.set(leadId, [change]);
        const at = isoDate(change.activityDate);
        if (change.activityTypeId !== 13 || at === undefined || !Array.isArray(change.fields)) continue;
        for (const f of change.fields) {
          const name = asRecord(f, 'lead change field').name;
          if (typeof name === 'string' && (perField[name] === undefined || perField[name] < at)) perField[name] = at;
        }
      }
      for (const [leadId, items] of activities) {
        if (!this.isEcho(leadId, items, scope)) continue;
        changed.delete(leadId);
        this.countEcho();
      }
      const ids = [...changed.keys()].map(String);
      const records = ids.length > 0 ? await this.byFilter('id', ids, fields, signal) : [];
      const found = new Set(records.map((r) => r.id));
      for (const record of records) {
        const perField = changed.get(Number(record.id));
        if (perField && Object.keys(perField).length > 0) record.fieldModifiedAt = perField;
      }
      token = next;
      // A lead that changed and can no longer be read was deleted (or merged away) since.
      yield { records, deletedIds: ids.filter((id) => !found.has(id)), token };
      if (!envelope.moreResult) return;
    }
  }

  async get(ids: readonly string[], fields: readonly string[], signal?: AbortSignal): Promise<RemoteRecord[]> {
    await this.checkFields(fields, signal);
    // Marketo ids are integers: anything else cannot exist, and would make the whole call fail.
    return this.byFilter('id', [...new Set(ids.filter((id) => /^\d+$/.test(id)))], fields, signal);
  }

  async findByEmail(
    emails: readonly string[],
    fields: readonly string[],
    signal?: AbortSignal,
  ): Promise<RemoteRecord[]> {
    await this.checkFields(fields, signal);
    // filterValues is comma-separated, so an email holding a comma cannot be asked for (nor is it valid).
    const wanted = [...new Set(emails.map((e) => e.trim().toLowerCase()).filter((e) => e && !e.includes(',')))];
    const records = await this.byFilter('email', wanted, [...new Set([...fields, 'email'])], signal);
    const asked = new Set(wanted);
    return records.filter((r) => typeof r.fields.email === 'string' && asked.has(r.fields.email.trim().toLowerCase()));
  }

  /**
   * Get Leads by filter, 300 values per call, chunks in parallel. A query too long for a URI (300 emails often
   * are) goes as POST with `_method=GET` (see `MarketoClient.get`), so every call carries a full batch.
   */
  private async byFilter(
    filterType: 'id' | 'email',
    values: readonly string[],
    fields: readonly string[],
    signal?: AbortSignal,
    /** Which leads to keep, judged on the raw lead with `createdAt` (asked for when this is given). */
    keep?: (item: Record<string, unknown>) => boolean,
  ): Promise<RemoteRecord[]> {
    const asked = [...new Set([...fields, 'updatedAt', ...(keep ? ['createdAt'] : [])])];
    const pages = await Promise.all(
      chunk(values, BATCH).map((part) => this.byFilterValues(filterType, part, asked, fields, signal, keep)),
    );
    return pages.flat();
  }

  /**
   * One Get Leads by filter call and its pages. More than 1000 matches is "1003 Too many results match the
   * filter" (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads,
   * "Query"): the values are split in halves and asked again, down to a single value.
   */
  private async byFilterValues(
    filterType: 'id' | 'email',
    values: readonly string[],
    asked: readonly string[],
    fields: readonly string[],
    signal: AbortSignal | undefined,
    keep: ((item: Record<string, unknown>) => boolean) | undefined,
  ): Promise<RemoteRecord[]> {
    const out: RemoteRecord[] = [];
    let nextPageToken: string | undefined;
    try {
      do {
        const envelope = await this.read(
          '/v1/leads.json',
          {
            filterType,
            filterValues: values.join(','),
            fields: asked.join(','),
            batchSize: BATCH,
            nextPageToken,
          },
          signal,
        );
        for (const item of envelope.result) {
          const lead = asRecord(item, 'lead');
          if (!keep || keep(lead)) out.push(toRecord(lead, fields));
        }
        const next = morePages(envelope) ? envelope.nextPageToken : undefined;
        // The same token again would read the same page forever.
        nextPageToken = next === nextPageToken ? undefined : next;
      } while (nextPageToken);
    } catch (error) {
      if (!isTooManyMatches(error)) throw error;
      if (values.length < 2) {
        throw new ConnectorRequestError(
          `Marketo: one ${filterType} matches more than 1000 leads, more than Get Leads can answer`,
          { cause: error, details: { code: '1003', filterType } },
        );
      }
      const half = Math.ceil(values.length / 2);
      const parts = await Promise.all(
        [values.slice(0, half), values.slice(half)].map((part) =>
          this.byFilterValues(filterType, part, asked, fields, signal, keep),
        ),
      );
      return parts.flat();
    }
    return out;
  }

  /**
   * A read. Marketo answers 1006 for a field it does not have: one the cached description still lists was hidden
   * since, so the description is dropped (the next `describe()` reads the instance again) and the error says which
   * field is gone, as `UNKNOWN_FIELD`.
   */
  private async read(path: string, query: Query, signal: AbortSignal | undefined): Promise<Envelope> {
    try {
      return await this.client.get(path, query, signal);
    } catch (error) {
      throw this.unknownField(error) ?? error;
    }
  }

  private unknownField(error: unknown): TandemError | undefined {
    if (!(error instanceof ConnectorRequestError) || error.details?.code !== '1006') return undefined;
    this.describer.invalidate();
    const message = typeof error.details.message === 'string' ? error.details.message : '';
    const field = fieldOf(message);
    return new TandemError(
      'UNKNOWN_FIELD',
      `Marketo lead has no field '${field ?? '?'}' any more (${message}): it was hidden or removed since it was described`,
      { status: 400, cause: error, details: { objectType: 'lead', ...(field ? { field } : {}) } },
    );
  }

  /**
   * Creates as `createOnly` (lookupField email) and updates as `updateOnly` (lookupField id), 300 per call,
   * one result per op in input order. A failed call turns into `failed` results for its ops, except for
   * quota and auth failures, which stop the cycle.
   *
   * A field the description does not list, in any op, fails the whole call with `UNKNOWN_FIELD` before anything
   * is sent: Sync Leads would skip only the records naming it (1006), so the ops before it would be written and
   * their results lost with the throw. The description is the one `describe()` answers (cached: no call), the
   * one the engine plans from; a field hidden since it was read is still Marketo's 1006 (see
   * `recheckUnknownFields`).
   */
  async write(ops: readonly WriteOp[], signal?: AbortSignal, scope?: string): Promise<WriteResult[]> {
    if (ops.length === 0) return [];
    const named = new Set<string>();
    for (const op of ops) for (const name in op.fields) named.add(name);
    try {
      await this.checkFields([...named], signal);
    } catch (error) {
      const stops = error instanceof QuotaExhaustedError || error instanceof ConnectorAuthError;
      if (stops || (error instanceof TandemError && error.code === 'UNKNOWN_FIELD')) throw error;
      signal?.throwIfAborted();
      // The description could not be read (Marketo failing): nothing was sent, every op failed as a call would.
      const failed = toFailure(error);
      return ops.map((op) => ({ ref: op.ref, ...failed }));
    }
    const results: Array<WriteResult | undefined> = new Array<WriteResult | undefined>(ops.length);
    const creates: number[] = [];
    const updates: number[] = [];
    ops.forEach((op, index) => {
      if (op.kind === 'create') creates.push(index);
      else if (/^\d+$/.test(op.id)) updates.push(index);
      else results[index] = { ref: op.ref, status: 'not-found', message: `'${op.id}' is not a Marketo lead id` };
    });
    // Each op as Sync Leads takes it, by op index.
    const records = new Map<number, FieldValues>();
    for (const i of [...creates, ...updates]) {
      const op = ops[i] as WriteOp;
      const fields: FieldValues = {};
      for (const name in op.fields) if (!SYSTEM_FIELDS.has(name)) fields[name] = op.fields[name] as FieldValue;
      records.set(i, op.kind === 'update' ? { ...fields, id: Number(op.id) } : fields);
    }
    // 300 records a call, fewer when they would pass the 1 MB body limit (long text fields).
    const split = (indexes: number[]) => batches(indexes, BATCH, (i) => jsonBytes(records.get(i)));
    const run = async (action: 'createOnly' | 'updateOnly', indexes: number[]) => {
      const input = indexes.map((i) => records.get(i) as FieldValues);
      let items: unknown[];
      try {
        const envelope = await this.client.post(
          '/v1/leads.json',
          { action, lookupField: action === 'createOnly' ? 'email' : 'id', input },
          signal,
        );
        items = envelope.result;
        if (items.length !== input.length) {
          throw new ProtocolError(`Marketo Sync Leads answered ${items.length} results for ${input.length} records`);
        }
      } catch (error) {
        if (error instanceof QuotaExhaustedError || error instanceof ConnectorAuthError) throw error;
        signal?.throwIfAborted();
        const failed = toFailure(error);
        for (const i of indexes) results[i] = { ref: (ops[i] as WriteOp).ref, ...failed };
        return;
      }
      indexes.forEach((opIndex, k) => {
        const result = toWriteResult((ops[opIndex] as WriteOp).ref, items[k]);
        results[opIndex] = result;
        if (result.status === 'created' || result.status === 'updated') {
          const written: Record<string, string> = {};
          const sent = input[k] as FieldValues;
          for (const name in sent) if (name !== 'id') written[name] = valueText(sent[name]);
          this.guard(scope).ownWrites.wrote(
            result.id,
            { created: result.status === 'created', fields: written },
            mergeWritten,
          );
        }
      });
    };
    // Creates go one call at a time: concurrent createOnly calls for one email could both create (leads.md).
    const createRun = (async () => {
      for (const part of split(creates)) await run('createOnly', part);
    })();
    await Promise.all([createRun, ...split(updates).map((part) => run('updateOnly', part))]);
    await this.recheckUnknownFields(results, signal);
    return results.map(
      (r, i) =>
        r ?? {
          ref: (ops[i] as WriteOp).ref,
          status: 'failed',
          code: 'INTERNAL',
          message: 'no result',
          retryable: true,
        },
    );
  }

  /**
   * A record skipped with 1006 names a field Marketo does not have. The description is read again: a field it no
   * longer lists was hidden since the plan was made, so the write failed for a reason the next cycle's plan
   * removes (a retryable `UNKNOWN_FIELD` failure); a field still listed is Marketo refusing this record, a
   * rejection like any other reason.
   */
  private async recheckUnknownFields(results: Array<WriteResult | undefined>, signal?: AbortSignal): Promise<void> {
    const named = (r: WriteResult | undefined) => (r?.status === 'rejected' && r.code === '1006' ? r : undefined);
    if (!results.some(named)) return;
    this.describer.invalidate();
    let known: Set<string>;
    try {
      known = await this.describer.fieldNames(signal);
    } catch (error) {
      signal?.throwIfAborted();
      if (error instanceof QuotaExhaustedError || error instanceof ConnectorAuthError) throw error;
      return;
    }
    results.forEach((result, i) => {
      const rejected = named(result);
      const field = rejected ? fieldOf(rejected.message) : undefined;
      if (!rejected || field === undefined || known.has(field)) return;
      results[i] = {
        ref: rejected.ref,
        status: 'failed',
        code: 'UNKNOWN_FIELD',
        message: `Marketo lead has no field '${field}' any more (${rejected.message}): it was hidden or removed since it was described`,
        retryable: true,
      };
    });
  }
}

function toRecord(item: Record<string, unknown>, fields: readonly string[]): RemoteRecord {
  const id = String(asId(item.id, 'lead id'));
  const values: FieldValues = {};
  // Marketo leaves blank fields out of a response: a requested field that is absent reads as null (leads.md).
  for (const name of fields) values[name] = name === 'id' ? id : asFieldValue(item[name]);
  const modifiedAt = isoDate(item.updatedAt);
  return { id, fields: values, ...(modifiedAt ? { modifiedAt } : {}) };
}

function toWriteResult(ref: string, raw: unknown): WriteResult {
  const item = asRecord(raw, 'sync lead result');
  if (item.status === 'created' || item.status === 'updated') {
    return { ref, status: item.status, id: String(asId(item.id, 'sync lead result id')) };
  }
  if (item.status === 'skipped') {
    const { code, message } = firstReason(item);
    if (code === '1004') return { ref, status: 'not-found', message: `${code} ${message}` };
    return { ref, status: 'rejected', code, message };
  }
  return {
    ref,
    status: 'failed',
    code: 'UNEXPECTED_STATUS',
    message: `status ${JSON.stringify(item.status)}`,
    retryable: false,
  };
}

function toFailure(error: unknown): { status: 'failed'; code: string; message: string; retryable: boolean } {
  if (error instanceof RetryableError)
    return { status: 'failed', code: error.code, message: error.message, retryable: true };
  if (error instanceof ConnectorRequestError) {
    const code = typeof error.details?.code === 'string' ? error.details.code : error.code;
    return { status: 'failed', code, message: error.message, retryable: false };
  }
  if (error instanceof TandemError)
    return { status: 'failed', code: error.code, message: error.message, retryable: false };
  return {
    status: 'failed',
    code: 'INTERNAL',
    message: error instanceof Error ? error.message : String(error),
    retryable: false,
  };
}

/**
 * The lead a Delete Lead activity is about: its `leadId`, or the primary attribute, which Get Deleted Leads
 * documents as the lead id.
 */
function deletedLeadId(item: Record<string, unknown>): number {
  return asId(item.leadId ?? item.primaryAttributeValueId, 'deleted lead id');
}

/**
 * Where a date-based feed (Get Lead Changes, Get Deleted Leads) goes on after a page. The docs show a token on every
 * page, but the Swagger gives it "if the result set exceeded the allowed batch size"
 * (https://developer.adobe.com/marketo-apis/api/mapi, "ResponseOfLeadChange"): a last page without one leaves the
 * feed where it was read from, which the next read starts from again (what it held read again, nothing lost).
 */
function nextToken(endpoint: string, envelope: Envelope, current: string): string {
  if (envelope.nextPageToken) return envelope.nextPageToken;
  if (envelope.moreResult !== true) return current;
  throw new ProtocolError(`Marketo ${endpoint} answered moreResult:true without a nextPageToken`);
}

/**
 * Whether Get Leads by Filter Type has another page. The docs say it sets `moreResult` with the `nextPageToken`
 * (paging-tokens.md, "Position-Based"); the Swagger only that the token "will be returned if the result set is
 * greater than the batch size" (getLeadsByFilterUsingGET). A page saying nothing of `moreResult` goes on while it
 * brings a token and leads; one saying `moreResult:false` ends.
 */
function morePages(envelope: Envelope): boolean {
  return envelope.moreResult ?? envelope.result.length > 0;
}

/** The field a Marketo message names: "Field 'x' not found". */
function fieldOf(message: string): string | undefined {
  return /Field '([^']+)'/.exec(message)?.[1];
}

function isTooManyMatches(error: unknown): boolean {
  return (
    error instanceof ConnectorRequestError && error.details?.code === '1003' && /too many results/i.test(error.message)
  );
}
