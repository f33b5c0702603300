/**
 * The Query and QueryAll resources: runs SOQL, answers `{ totalSize, done, records, nextRecordsUrl? }` in batches
 * (2,000 records by default; `Sforce-Query-Options: batchSize=n` asks for 200 to 2,000), and keeps a server-side
 * cursor for the rest, read with `GET query/<locator>-<offset>` until `done`. A cursor lives two days, then
 * INVALID_QUERY_LOCATOR. `query` leaves deleted records out; `queryAll` includes them (IsDeleted, MasterRecordId).
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.md
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-queryall.md
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_queryoptions.htm
 * https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-apicursors.html
 */
import { randomId } from './ids';
import { ApiError } from './errors';
import type { RecordService } from './records';
import { objectNamed, type FieldDef } from './schema';
import { compileQuery } from './soql/compile';
import { SoqlError } from './soql/error';
import { parseSoql } from './soql/parser';
import type { SandboxClock } from './clock';

export const DEFAULT_BATCH_SIZE = 2000;
export const MIN_BATCH_SIZE = 200;
/** Cursors and their results are kept for two days (API Query Cursor Limits). */
export const CURSOR_LIFETIME_MS = 2 * 24 * 3600 * 1000;

interface Cursor {
  records: Record<string, unknown>[];
  batchSize: number;
  createdAt: number;
  version: string;
}

export interface QueryPage {
  totalSize: number;
  done: boolean;
  nextRecordsUrl?: string;
  records: Record<string, unknown>[];
}

export class QueryService {
  private readonly cursors = new Map<string, Cursor>();
  cursorLifetimeMs = CURSOR_LIFETIME_MS;

  constructor(
    private readonly records: RecordService,
    private readonly clock: SandboxClock,
  ) {}

  run(q: string | undefined, all: boolean, version: string, queryOptions: string | undefined): QueryPage {
    if (q === undefined || q.trim() === '') {
      throw new ApiError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    }
    let compiled;
    try {
      compiled = compileQuery(parseSoql(q), {
        query: q,
        objectNamed,
        visibleField: (object, name) => this.records.visibleField(object, name),
      });
    } catch (error) {
      if (error instanceof SoqlError) throw new ApiError(400, error.errorCode, error.message);
      throw error;
    }
    const batchSize = Math.min(
      batchSizeOf(queryOptions),
      compiled.fields.some(isLongText) ? LONG_TEXT_BATCH_SIZE : DEFAULT_BATCH_SIZE,
    );
    this.dropExpiredCursors();
    let rows = this.records.store.all(compiled.object).filter((r) => all || r.values.IsDeleted !== true);
    rows = rows.filter((r) => compiled.matches(r));
    // A stable sort: ties keep creation order (the docs warn the order of ties is not guaranteed).
    rows.sort((a, b) => compiled.compare(a, b));
    if (compiled.offset) rows = rows.slice(compiled.offset);
    if (compiled.limit !== undefined) rows = rows.slice(0, compiled.limit);
    if (compiled.count) return { totalSize: rows.length, done: true, records: [] };
    const serialized = rows.map((r) => this.records.serialize(r, compiled.fields, version));
    return this.page({ records: serialized, batchSize, createdAt: this.clock.now(), version }, undefined, 0);
  }

  /** `GET query/<locator>-<offset>`: the next batch of a cursor. */
  more(locatorPath: string): QueryPage {
    const m = /^([0-9A-Za-z]{18})-(\d+)$/.exec(locatorPath);
    const cursor = m?.[1] ? this.cursors.get(m[1]) : undefined;
    if (!m?.[1] || !cursor || this.clock.now() - cursor.createdAt > this.cursorLifetimeMs) {
      if (m?.[1]) this.cursors.delete(m[1]);
      throw new ApiError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    }
    return this.page(cursor, m[1], Number(m[2]));
  }

  private dropExpiredCursors(): void {
    const now = this.clock.now();
    for (const [id, c] of this.cursors) if (now - c.createdAt > this.cursorLifetimeMs) this.cursors.delete(id);
  }

  /** Every cursor handed out so far stops working. */
  expireCursors(): void {
    this.cursors.clear();
  }

  private page(cursor: Cursor, locator: string | undefined, offset: number): QueryPage {
    const end = offset + cursor.batchSize;
    const records = cursor.records.slice(offset, end);
    const done = end >= cursor.records.length;
    const page: QueryPage = { totalSize: cursor.records.length, done, records };
    if (!done) {
      const id = locator ?? randomId('01g');
      if (!locator) this.cursors.set(id, cursor);
      page.nextRecordsUrl = `/services/data/${cursor.version}/query/${id}-${end}`;
    }
    return page;
  }
}

/**
 * "The returned batch size can be lower than the max or what's set in the request, based on the size and complexity
 * of records queried"; selecting long text fields caps it at 200 records.
 * https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_changing_batch_size.htm
 * The sandbox applies the cap as soon as a long text area is selected (a vanilla Contact or Lead has one,
 * Description), so a client's paging meets batches smaller than it asked for: it must follow `nextRecordsUrl` and
 * `done`, never count on the batch size.
 */
export const LONG_TEXT_BATCH_SIZE = 200;

function isLongText(f: FieldDef): boolean {
  return f.type === 'textarea' && f.length > 255;
}

/** `batchSize=n` from Sforce-Query-Options: 200 to 2,000 (the default); a value outside is clamped to the range. */
function batchSizeOf(header: string | undefined): number {
  const m = /batchSize\s*=\s*(\d+)/i.exec(header ?? '');
  if (!m?.[1]) return DEFAULT_BATCH_SIZE;
  return Math.min(DEFAULT_BATCH_SIZE, Math.max(MIN_BATCH_SIZE, Number(m[1])));
}
