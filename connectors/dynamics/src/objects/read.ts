/**
 * Reading contacts and leads: `$select` of the requested (readable) columns, paging with
 * `Prefer: odata.maxpagesize` and `@odata.nextLink`, incremental reads by change tracking (delta links,
 * `$deletedEntity`) or, where a table is not tracked, by a `modifiedon` watermark re-read with an overlap
 * (clock skew and same-second writes lose nothing; the engine compares re-read records with its snapshot).
 *
 * The cursor is opaque JSON: `{v:1, mode:'delta', link}` (a nextLink while paging, then the deltaLink) or
 * `{v:1, mode:'watermark', since, next?, hi?}`. Each page's cursor resumes right after that page.
 */
import {
  CursorExpiredError,
  isTandemError,
  ProtocolError,
  TandemError,
  type ChangePage,
  type FieldValue,
  type FieldValues,
  type ReadOptions,
  type RemoteRecord,
} from '@tandem/core/plugin';
import type { DataverseClient } from '../client';
import type { MetadataService } from '../metadata';
import { chunkByLength, FILTER_BUDGET_CHARS, FILTER_MAX_VALUES, GUID, odataString, type EntityInfo } from './entities';

export interface ReaderSettings {
  pageSize: number;
  changeTracking: 'auto' | 'on' | 'off';
  watermarkOverlapMs: number;
}

type Cursor =
  | { v: 1; mode: 'delta'; link: string; phase: 'initial' | 'incremental' }
  | {
      v: 1;
      mode: 'watermark';
      since: string | null;
      next?: string;
      hi?: string | null;
      phase: 'initial' | 'incremental';
    };

interface Plan {
  select: string[];
  /** Requested fields this user may read; the others stay out of `fields` (unknown, never blank). */
  readable: string[];
}

function parseCursor(cursor: string | null): Cursor | null {
  if (cursor === null || cursor === '') return null;
  try {
    const c = JSON.parse(cursor) as Partial<Cursor> & { v?: unknown };
    if (c.v === 1 && c.mode === 'delta' && typeof c.link === 'string') return c as Cursor;
    if (c.v === 1 && c.mode === 'watermark' && (c.since === null || typeof c.since === 'string')) return c as Cursor;
  } catch {
    // fall through
  }
  throw new TandemError('BAD_REQUEST', 'Not a Dynamics cursor (expected the JSON this connector stores).', {
    status: 400,
  });
}

function toValue(v: unknown): FieldValue {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return v === undefined ? null : JSON.stringify(v);
}

function later(a: string | null | undefined, b: unknown): string | null {
  if (typeof b !== 'string' || Number.isNaN(Date.parse(b))) return a ?? null;
  if (!a) return b;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/**
 * The id of a delta row that reports a deletion (`''` when it names none), or `undefined` for a created or changed
 * row. Dataverse marks deletions with an `@odata.context` ending in `$deletedEntity` and `id`, `reason`
 * (https://learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems);
 * OData 4.01 JSON writes the same as `@removed` with the entity's `@id` URL, which is read too.
 */
function deletedIdOf(row: Record<string, unknown>): string | undefined {
  const context = typeof row['@odata.context'] === 'string' ? row['@odata.context'] : '';
  if (/\$deletedEntity$/.test(context) || row.reason === 'deleted') {
    return typeof row.id === 'string' ? (/[0-9a-f-]{36}/i.exec(row.id)?.[0] ?? row.id).toLowerCase() : '';
  }
  if (typeof row['@removed'] === 'object' && row['@removed'] !== null) {
    const ref = typeof row['@id'] === 'string' ? row['@id'] : typeof row.id === 'string' ? row.id : '';
    return (/[0-9a-f]{8}-[0-9a-f-]{27}/i.exec(ref)?.[0] ?? '').toLowerCase();
  }
  return undefined;
}

/** `2024-01-01T00:00:00Z`: the unquoted DateTimeOffset literal of `$filter`. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class RecordReader {
  constructor(
    private readonly client: DataverseClient,
    private readonly metadata: MetadataService,
    private readonly settings: ReaderSettings,
  ) {}

  /** Checks requested fields against the metadata: unknown → UNKNOWN_FIELD; unreadable → left out. */
  async plan(entity: EntityInfo, fields: readonly string[], signal?: AbortSignal): Promise<Plan> {
    const description = await this.metadata.describe(entity, signal);
    const byName = new Map(description.fields.map((f) => [f.name, f]));
    const unknown = fields.filter((f) => !byName.has(f));
    if (unknown.length > 0) {
      throw new TandemError(
        'UNKNOWN_FIELD',
        `Dynamics ${entity.logicalName} has no column ${unknown.map((f) => `'${f}'`).join(', ')}.`,
        {
          status: 400,
          details: { objectType: entity.objectType, fields: unknown },
        },
      );
    }
    const readable = [...new Set(fields)].filter((f) => byName.get(f)?.readable);
    const select = [...new Set([entity.idField, 'modifiedon', ...readable])];
    return { select, readable };
  }

  toRecord(entity: EntityInfo, row: Record<string, unknown>, plan: Plan): RemoteRecord {
    const raw = row[entity.idField];
    if (typeof raw !== 'string')
      throw new ProtocolError(`Dataverse returned a ${entity.logicalName} without ${entity.idField}.`);
    // GUIDs are case-insensitive: one case for ids, whichever answer (row, delete, create) they came from.
    const id = raw.toLowerCase();
    const fields: FieldValues = {};
    for (const f of plan.readable) if (f in row) fields[f] = toValue(row[f]);
    const record: RemoteRecord = { id, fields };
    if (typeof row['@odata.etag'] === 'string') record.etag = row['@odata.etag'];
    if (typeof row.modifiedon === 'string') record.modifiedAt = row.modifiedon;
    return record;
  }

  private rows(page: Record<string, unknown>): Array<Record<string, unknown>> {
    if (!Array.isArray(page.value)) throw new ProtocolError('Dataverse returned a collection without a "value" array.');
    return page.value.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null);
  }

  /**
   * A stored link with `$select` set to today's columns, so that a changed field list takes effect without a full
   * reload. Dataverse asks for its links to be followed unchanged (page-results article), so a link whose `$select`
   * is already right is returned as it is, and otherwise only that option is rewritten, every other byte kept.
   */
  private withSelect(link: string, select: string[]): string {
    const url = this.client.resolve(link);
    const q = url.indexOf('?');
    if (q < 0) return url;
    const wanted = select.join(',');
    const options = url.slice(q + 1).split('&');
    const i = options.findIndex((o) => /^(\$|%24)select=/i.test(o));
    if (i < 0) return url;
    const current = decodeURIComponent((options[i] as string).slice((options[i] as string).indexOf('=') + 1));
    if (current === wanted) return url;
    options[i] = `$select=${wanted}`;
    return `${url.slice(0, q)}?${options.join('&')}`;
  }

  /**
   * Runs a request of a read; when the org answers that a column does not exist (deleted since the description was
   * cached), the table's description is dropped so that the next plan and describe see the org as it is now.
   */
  private async guard<T>(entity: EntityInfo, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.columnGone(entity, error);
    }
  }

  /** `error`, after forgetting the table's description when it says a column does not exist. */
  private columnGone(entity: EntityInfo, error: unknown): unknown {
    if (!isTandemError(error) || error.code !== 'UNKNOWN_FIELD') return error;
    this.metadata.forget(entity);
    return new TandemError('UNKNOWN_FIELD', `Dynamics ${entity.logicalName}: ${error.message}`, {
      status: 400,
      cause: error,
      details: { ...error.details, objectType: entity.objectType },
    });
  }

  async *readChanges(entity: EntityInfo, cursor: string | null, options: ReadOptions): AsyncGenerator<ChangePage> {
    const plan = await this.plan(entity, options.fields, options.signal);
    let state = parseCursor(cursor);
    if (!state) {
      const tracked =
        this.settings.changeTracking === 'on' ||
        (this.settings.changeTracking === 'auto' &&
          (await this.metadata.changeTrackingEnabled(entity, options.signal)));
      const first = `${entity.entitySet}?$select=${plan.select.join(',')}`;
      state = tracked
        ? { v: 1, mode: 'delta', link: first, phase: 'initial' }
        : { v: 1, mode: 'watermark', since: null, phase: 'initial' };
    }
    if (state.mode === 'delta') yield* this.readDelta(entity, state, plan, options.signal);
    else yield* this.readWatermark(entity, state, plan, options.signal);
  }

  private async *readDelta(
    entity: EntityInfo,
    start: Extract<Cursor, { mode: 'delta' }>,
    plan: Plan,
    signal?: AbortSignal,
  ): AsyncGenerator<ChangePage> {
    let link = this.withSelect(start.link, plan.select);
    const phase = start.phase;
    let soFar = 0;
    for (;;) {
      const res = await this.client.send({
        method: 'GET',
        url: link,
        headers: { prefer: `odata.track-changes,odata.maxpagesize=${this.settings.pageSize}` },
        signal,
      });
      if (res.status < 200 || res.status >= 300) {
        const error = this.client.toError(res, `GET ${entity.entitySet} (change tracking)`);
        // ExpiredVersionStamp, or a message saying the token expired: the org keeps changes for a limited time
        // (Organization.ExpireChangeTrackingInDays).
        const expired = error.details?.code === '0x80044352' || /token|expired/i.test(error.message);
        if (res.status === 400 && phase === 'incremental' && expired && error.code !== 'UNKNOWN_FIELD') {
          throw new CursorExpiredError(
            `The Dynamics ${entity.logicalName} delta token is no longer accepted; a full read is needed. ${error.message}`,
            { cause: error },
          );
        }
        throw this.columnGone(entity, error);
      }
      // "An empty JSON response is returned if no table changes have occurred" (change-tracking article): a delta
      // link followed with nothing new may answer without a `value` array, or with no body at all.
      const following = /[?&](\$|%24)deltatoken=/i.test(link);
      const empty = following && (res.status === 204 || res.text.trim() === '');
      const page = empty ? {} : this.client.parse(res, `GET ${entity.entitySet}`);
      const records: RemoteRecord[] = [];
      const deletedIds: string[] = [];
      for (const row of following && page.value === undefined ? [] : this.rows(page)) {
        const deleted = deletedIdOf(row);
        if (deleted !== undefined) {
          if (deleted) deletedIds.push(deleted);
          continue;
        }
        records.push(this.toRecord(entity, row, plan));
      }
      soFar += records.length;
      const next = page['@odata.nextLink'];
      const delta = page['@odata.deltaLink'];
      if (typeof next === 'string') {
        link = next;
        yield {
          records,
          deletedIds,
          cursor: JSON.stringify({ v: 1, mode: 'delta', link: next, phase }),
          done: false,
          progress: { phase, recordsSoFar: soFar },
        };
        continue;
      }
      // "An empty JSON response is returned if no table changes have occurred" (change-tracking article): with no
      // new delta link, the one just followed still stands.
      const unchanged = records.length === 0 && deletedIds.length === 0 && following;
      if (typeof delta !== 'string' && !unchanged)
        throw new ProtocolError('Dataverse change tracking returned neither @odata.nextLink nor @odata.deltaLink.');
      yield {
        records,
        deletedIds,
        cursor: JSON.stringify({
          v: 1,
          mode: 'delta',
          link: typeof delta === 'string' ? delta : link,
          phase: 'incremental',
        }),
        done: true,
        progress: { phase, recordsSoFar: soFar },
      };
      return;
    }
  }

  private async *readWatermark(
    entity: EntityInfo,
    start: Extract<Cursor, { mode: 'watermark' }>,
    plan: Plan,
    signal?: AbortSignal,
  ): AsyncGenerator<ChangePage> {
    const since = start.since;
    let hi = start.hi ?? null;
    let link = start.next ? this.withSelect(start.next, plan.select) : undefined;
    if (!link) {
      const params = [
        `$select=${plan.select.join(',')}`,
        `$orderby=${encodeURIComponent(`modifiedon asc,${entity.idField} asc`)}`,
      ];
      if (since) {
        // Start `overlap` before the last modifiedon seen: same-second writes and clock skew lose nothing.
        const from = isoSeconds(Date.parse(since) - this.settings.watermarkOverlapMs);
        params.push(`$filter=${encodeURIComponent(`modifiedon ge ${from}`)}`);
      }
      link = `${entity.entitySet}?${params.join('&')}`;
    }
    const phase = start.phase;
    let soFar = 0;
    for (;;) {
      const url: string = link;
      const page: Record<string, unknown> = await this.guard(entity, () =>
        this.client.json({
          method: 'GET',
          url,
          headers: { prefer: `odata.maxpagesize=${this.settings.pageSize}` },
          signal,
        }),
      );
      const records = this.rows(page).map((row) => {
        hi = later(hi, row.modifiedon);
        return this.toRecord(entity, row, plan);
      });
      soFar += records.length;
      const next = page['@odata.nextLink'];
      if (typeof next === 'string') {
        link = next;
        yield {
          records,
          deletedIds: [],
          cursor: JSON.stringify({ v: 1, mode: 'watermark', since, next, hi, phase }),
          done: false,
          progress: { phase, recordsSoFar: soFar },
        };
        continue;
      }
      yield {
        records,
        deletedIds: [],
        cursor: JSON.stringify({ v: 1, mode: 'watermark', since: hi ?? since, phase: 'incremental' }),
        done: true,
        progress: { phase, recordsSoFar: soFar },
      };
      return;
    }
  }

  /** All pages of a filtered query. */
  private async query(entity: EntityInfo, plan: Plan, filter: string, signal?: AbortSignal): Promise<RemoteRecord[]> {
    const out: RemoteRecord[] = [];
    let link: string | undefined =
      `${entity.entitySet}?$select=${plan.select.join(',')}&$filter=${encodeURIComponent(filter)}`;
    while (link) {
      const url: string = link;
      const page: Record<string, unknown> = await this.guard(entity, () =>
        this.client.json({
          method: 'GET',
          url,
          headers: { prefer: `odata.maxpagesize=${this.settings.pageSize}` },
          signal,
        }),
      );
      for (const row of this.rows(page)) out.push(this.toRecord(entity, row, plan));
      link = typeof page['@odata.nextLink'] === 'string' ? page['@odata.nextLink'] : undefined;
    }
    return out;
  }

  /**
   * Every record matching any of `values`: one `$filter` of `clause(value) or …` per request, as many values as
   * fit Dataverse's URL length (see FILTER_BUDGET_CHARS).
   */
  private async queryAny(
    entity: EntityInfo,
    plan: Plan,
    values: readonly string[],
    clause: (value: string) => string,
    signal?: AbortSignal,
  ): Promise<RemoteRecord[]> {
    // Each clause is URL-encoded, and all but the first follow ` or ` (8 characters encoded).
    const encodedLength = (value: string) => encodeURIComponent(clause(value)).length + 8;
    const out: RemoteRecord[] = [];
    for (const chunk of chunkByLength(values, encodedLength, FILTER_BUDGET_CHARS, FILTER_MAX_VALUES)) {
      out.push(...(await this.query(entity, plan, chunk.map(clause).join(' or '), signal)));
    }
    return out;
  }

  async get(entity: EntityInfo, ids: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    // Ids that are not GUIDs cannot exist; leaving them out also keeps them out of the filter.
    const wanted = [...new Set(ids.filter((id) => GUID.test(id)).map((id) => id.toLowerCase()))];
    if (wanted.length === 0) return [];
    const plan = await this.plan(entity, options.fields, options.signal);
    return this.queryAny(entity, plan, wanted, (id) => `${entity.idField} eq ${id}`, options.signal);
  }

  async findByEmail(entity: EntityInfo, emails: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    const wanted = [
      ...new Map(
        emails
          .map((e) => e.trim())
          .filter(Boolean)
          .map((e) => [e.toLowerCase(), e]),
      ).values(),
    ];
    if (wanted.length === 0) return [];
    const plan = await this.plan(entity, options.fields, options.signal);
    // Dataverse compares strings case-insensitively; quotes are doubled.
    return this.queryAny(entity, plan, wanted, (e) => `${entity.emailField} eq ${odataString(e)}`, options.signal);
  }
}
