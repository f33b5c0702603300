/**
 * The Dataverse Web API v9.2 model: one function from an (authenticated) HTTP request to an HTTP response,
 * used both for plain requests and for the requests inside a `$batch`. Shapes follow Microsoft's docs:
 * `{"@odata.context", value, "@odata.nextLink"}` pages, `W/"<version>"` etags, `{"error":{code,message}}`
 * errors, `$deletedEntity` tombstones in delta responses.
 */
import { randomUUID } from 'node:crypto';
import {
  boundaryOf,
  buildHttpMessage,
  buildMultipart,
  MultipartError,
  parseHttpMessage,
  splitMultipart,
  type Headers,
  type MimePart,
} from './multipart';
import { compareValues, evaluate, filterFields, ODataError, parseFilter, type FilterNode } from './odata';
import { isEntityName, type ColumnDef, type EntityDef } from './schema';
import type { Row, SandboxStore, SandboxUser, Value } from './store';

export const API_PATH = '/api/data/v9.2/';

/**
 * The longest URL a request inside `$batch` may carry: 64 KB, twice what a plain GET may
 * (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/overview#url-length-limitations).
 */
export const MAX_BATCH_URL_CHARS = 65_536;

export interface DvRequest {
  method: string;
  /** Path and query after `/api/data/v9.2/`, e.g. `contacts?$select=firstname`. */
  target: string;
  headers: Headers;
  body: string;
  user: SandboxUser;
}

export interface DvResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Per-operation faults a `$batch` applies (the test hooks set them). */
export interface BatchFaults {
  /** The next N operations inside batches answer 429 without running. */
  throttleOps: number;
  retryAfterSeconds: number;
}

export interface DvCounters {
  batches: number;
  operations: number;
  throttled: number;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  414: 'URI Too Long',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Unknown';
}

export function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  return {
    status,
    headers: { 'content-type': 'application/json; odata.metadata=minimal', 'odata-version': '4.0', ...headers },
    body: JSON.stringify({ error: { code, message } }),
  };
}

function json(status: number, payload: unknown, headers: Record<string, string> = {}): DvResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; odata.metadata=minimal', 'odata-version': '4.0', ...headers },
    body: JSON.stringify(payload),
  };
}

function noContent(headers: Record<string, string> = {}): DvResponse {
  return { status: 204, headers: { 'odata-version': '4.0', ...headers }, body: '' };
}

class HttpFailure extends Error {
  constructor(readonly response: DvResponse) {
    super(response.body);
  }
}

function fail(status: number, code: string, message: string): never {
  throw new HttpFailure(errorResponse(status, code, message));
}

function unknownProperty(def: EntityDef, name: string): never {
  fail(400, '0x0', `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${def.logicalName}'.`);
}

function prefers(headers: Headers): {
  maxPageSize?: number;
  trackChanges: boolean;
  representation: boolean;
  continueOnError: boolean;
} {
  const prefer = headers.prefer ?? '';
  const m = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(prefer);
  return {
    maxPageSize: m ? Number(m[1]) : undefined,
    trackChanges: /odata\.track-changes/i.test(prefer),
    representation: /return\s*=\s*representation/i.test(prefer),
    continueOnError: /odata\.continue-on-error/i.test(prefer),
  };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A query string the way Dataverse writes its links: option names and their plain values as they are (`$select=a,b`),
 * only the characters a URL cannot carry percent-encoded, e.g.
 * `contacts?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22...` (page-results article).
 */
function queryString(params: Array<[string, string]>): string {
  const encode = (v: string) =>
    encodeURIComponent(v)
      .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%24/g, '$')
      .replace(/%2C/gi, ',')
      .replace(/%3D/gi, '=');
  return params.map(([k, v]) => `${k}=${encode(v)}`).join('&');
}

function deltaToken(version: number): string {
  // The documented shape: `<version>!<MM/dd/yyyy HH:mm:ss>`.
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  return `${version}!${stamp}`;
}

/** A paging cookie carried in `$skiptoken`, shaped like Dataverse's `<cookie pagenumber=.. pagingcookie=.. />`. */
interface PagingState {
  page: number;
  /** Normal queries: the sort key of the last row sent. */
  after?: Array<Value>;
  /** Change tracking: versions (from, upTo], phase and the last version sent. */
  from?: number;
  upTo?: number;
  phase?: 'rows' | 'deletes';
  afterVersion?: number;
  remainingTop?: number;
}

function encodeCookie(state: PagingState, tracking: boolean): string {
  const cookie = Buffer.from(JSON.stringify(state)).toString('base64url');
  return `<cookie pagenumber="${state.page}" pagingcookie="${cookie}" istracking="${tracking ? 'True' : 'False'}" />`;
}

function decodeCookie(token: string): PagingState {
  const m = /pagingcookie="([^"]*)"/.exec(token);
  try {
    if (!m?.[1]) throw new Error('no cookie');
    return JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8')) as PagingState;
  } catch {
    fail(400, '0x80040203', 'Invalid $skiptoken: the paging cookie is malformed.');
  }
}

export class DataverseModel {
  readonly counters: DvCounters = { batches: 0, operations: 0, throttled: 0 };
  readonly batchFaults: BatchFaults = { throttleOps: 0, retryAfterSeconds: 1 };

  constructor(
    private readonly store: SandboxStore,
    /** The organisation URL (`https://127.0.0.1:port`), for absolute links. */
    private readonly orgUrl: () => string,
  ) {}

  private get base(): string {
    return `${this.orgUrl()}/api/data/v9.2`;
  }

  handle(req: DvRequest): DvResponse {
    try {
      return this.route(req);
    } catch (error) {
      if (error instanceof HttpFailure) return error.response;
      if (error instanceof ODataError) return errorResponse(400, error.code, error.message);
      throw error;
    }
  }

  private route(req: DvRequest): DvResponse {
    const q = req.target.indexOf('?');
    const path = decodeURIComponent(q >= 0 ? req.target.slice(0, q) : req.target);
    const query = new URLSearchParams(q >= 0 ? req.target.slice(q + 1) : '');
    const method = req.method.toUpperCase();

    if (path === '$batch') {
      if (method !== 'POST') fail(405, '0x80060888', 'The $batch resource only supports POST.');
      return this.batch(req);
    }
    if (path === 'WhoAmI' || path === 'WhoAmI()') {
      return json(200, {
        '@odata.context': `${this.base}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
        BusinessUnitId: this.store.businessUnitId,
        UserId: req.user.id,
        OrganizationId: this.store.organizationId,
      });
    }
    if (path.startsWith('EntityDefinitions')) return this.metadata(path, query);
    const priv =
      /^systemusers\(([0-9a-f-]{36})\)\/Microsoft\.Dynamics\.CRM\.RetrievePrincipalAttributePrivileges(\(\))?$/i.exec(
        path,
      );
    if (priv) return this.principalPrivileges(req, (priv[1] as string).toLowerCase());

    const m = /^([A-Za-z_]+)(?:\((?:[a-z]+id=)?([^)]*)\))?$/.exec(path);
    const def = m ? this.store.entityBySet(m[1] as string) : undefined;
    if (!m || !def) fail(404, '0x8006088a', `Resource not found for the segment '${path.split(/[(/]/)[0] ?? path}'.`);
    const key = m[2];
    if (key === undefined) {
      if (method === 'GET') return this.query(req, def, query);
      if (method === 'POST') return this.create(req, def, query);
      fail(405, '0x80060888', `The HTTP method '${method}' is not allowed on an entity set.`);
    }
    if (!GUID.test(key)) fail(400, '0x80060888', `Bad Request - Error in query syntax: invalid key '${key}'.`);
    const id = key.toLowerCase();
    if (method === 'GET') return this.retrieve(req, def, id, query);
    if (method === 'PATCH') return this.update(req, def, id, query);
    if (method === 'DELETE') return this.remove(req, def, id);
    fail(405, '0x80060888', `The HTTP method '${method}' is not allowed on an entity.`);
  }

  // ---- reading -------------------------------------------------------------------------------------------

  private selectOf(def: EntityDef, query: URLSearchParams): ColumnDef[] {
    const select = query.get('$select');
    if (!select) return def.columns;
    return select.split(',').map((raw) => {
      const name = raw.trim();
      const col = def.columns.find((c) => c.name === name);
      if (!col) unknownProperty(def, name);
      return col;
    });
  }

  /** A row as the caller sees it: secured columns it may not read come back with no data (null). */
  private project(user: SandboxUser, def: EntityDef, row: Row, columns: ColumnDef[]): Record<string, Value> {
    const out: Record<string, Value> = { '@odata.etag': `W/"${row.version}"` };
    for (const col of columns) {
      const readable = col.validForRead && this.store.rights(user, def.logicalName, col).read;
      out[col.name] = readable ? (row.values[col.name] ?? null) : null;
    }
    out[def.idField] = row.id;
    return out;
  }

  private context(def: EntityDef, columns: ColumnDef[], query: URLSearchParams, suffix = ''): string {
    const sel = query.get('$select') ? `(${columns.map((c) => c.name).join(',')})` : '';
    return `${this.base}/$metadata#${def.entitySet}${sel}${suffix}`;
  }

  private query(req: DvRequest, def: EntityDef, query: URLSearchParams): DvResponse {
    const prefer = prefers(req.headers);
    const columns = this.selectOf(def, query);
    const deltaParam = query.get('$deltatoken');
    const skip = query.get('$skiptoken');
    const state = skip ? decodeCookie(skip) : undefined;
    const tracking = prefer.trackChanges || deltaParam !== null || state?.upTo !== undefined;
    const pageSize = Math.min(prefer.maxPageSize ?? 5000, 5000);
    const pageHeaders: Record<string, string> = {};
    // Only the preferences the request made are reported as applied; a delta link followed without
    // `Prefer: odata.track-changes` gets none (change-tracking article, second example).
    const applied: string[] = [];
    if (prefer.maxPageSize) applied.push(`odata.maxpagesize=${pageSize}`);
    if (tracking && prefer.trackChanges) applied.push('odata.track-changes');
    if (applied.length) pageHeaders['preference-applied'] = applied.join(',');

    if (tracking) {
      // https://learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems
      for (const p of ['$filter', '$orderby', '$top', '$expand']) {
        if (query.has(p))
          fail(400, '0x80060888', `The "${p}" query parameter isn't supported when Change Tracking is enabled.`);
      }
      if (!this.store.changeTracking.get(def.logicalName)) {
        // ChangeTrackingNotEnabledForEntity (Web service error codes).
        fail(400, '0x80072491', `Entity ${def.logicalName} isn't enabled for change tracking.`);
      }
      return this.trackedPage(req, def, columns, query, pageSize, deltaParam, state, pageHeaders);
    }

    const filterText = query.get('$filter');
    const filter: FilterNode | undefined = filterText ? parseFilter(filterText) : undefined;
    if (filter)
      for (const f of filterFields(filter)) if (!def.columns.some((c) => c.name === f)) unknownProperty(def, f);
    const orderby = (query.get('$orderby') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const [field = '', dir = 'asc'] = s.split(/\s+/);
        if (!def.columns.some((c) => c.name === field)) unknownProperty(def, field);
        return { field, desc: dir.toLowerCase() === 'desc' };
      });
    const keyOf = (row: Row): Value[] => [...orderby.map((o) => row.values[o.field] ?? null), row.id];
    const cmpKeys = (a: Value[], b: Value[]) => {
      for (let i = 0; i < a.length; i += 1) {
        const c = compareValues(a[i], b[i]) * (orderby[i]?.desc ? -1 : 1);
        if (c !== 0) return c;
      }
      return 0;
    };
    let rows = [...this.store.table(def.logicalName).values()].filter((r) => {
      // Rows the caller may not read are silently left out; filtering on unreadable secured columns sees null.
      const visible: Record<string, Value> = { ...r.values };
      for (const col of def.columns)
        if (!this.store.rights(req.user, def.logicalName, col).read) visible[col.name] = null;
      return !filter || evaluate(filter, visible);
    });
    rows.sort((a, b) => cmpKeys(keyOf(a), keyOf(b)));
    if (state?.after) {
      const after = state.after;
      rows = rows.filter((r) => cmpKeys(keyOf(r), after) > 0);
    }
    // $top caps the total unless maxpagesize is given (then it is ignored, per the current docs).
    const topParam = query.get('$top');
    let remainingTop = state?.remainingTop ?? (topParam !== null && !prefer.maxPageSize ? Number(topParam) : undefined);
    let limit = pageSize;
    if (remainingTop !== undefined) limit = Math.min(limit, remainingTop);
    const page = rows.slice(0, limit);
    if (remainingTop !== undefined) remainingTop -= page.length;
    const payload: Record<string, unknown> = {
      '@odata.context': this.context(def, columns, query),
      value: page.map((r) => this.project(req.user, def, r, columns)),
    };
    const last = page[page.length - 1];
    if (rows.length > page.length && last && (remainingTop === undefined || remainingTop > 0)) {
      const params = [...query.entries()].filter(([k]) => k !== '$skiptoken');
      params.push([
        '$skiptoken',
        encodeCookie({ page: (state?.page ?? 1) + 1, after: keyOf(last), remainingTop }, false),
      ]);
      payload['@odata.nextLink'] = `${this.base}/${def.entitySet}?${queryString(params)}`;
    }
    return json(200, payload, pageHeaders);
  }

  private trackedPage(
    req: DvRequest,
    def: EntityDef,
    columns: ColumnDef[],
    query: URLSearchParams,
    pageSize: number,
    deltaParam: string | null,
    state: PagingState | undefined,
    headers: Record<string, string>,
  ): DvResponse {
    let from = state?.from;
    if (from === undefined) {
      if (deltaParam === null) from = 0;
      else {
        const v = Number(/^(\d+)!/.exec(deltaParam)?.[1]);
        if (!Number.isFinite(v) || v > this.store.version || v < this.store.deltaTokensValidFrom) {
          // The docs say only that an expired token throws; ExpiredVersionStamp is the error Dataverse documents for
          // an expired version stamp ("Web service error codes").
          fail(400, '0x80044352', 'Version stamp associated with the client has expired. Please perform a full sync.');
        }
        from = v;
      }
    }
    const upTo = state?.upTo ?? this.store.version;
    let phase = state?.phase ?? 'rows';
    let afterVersion = state?.afterVersion ?? from;
    const items: Array<Record<string, unknown>> = [];
    const lower = from;
    if (phase === 'rows') {
      const rows = [...this.store.table(def.logicalName).values()]
        .filter((r) => r.version > afterVersion && r.version > lower && r.version <= upTo)
        .sort((a, b) => a.version - b.version);
      for (const row of rows.slice(0, pageSize)) {
        items.push(this.project(req.user, def, row, columns));
        afterVersion = row.version;
      }
      if (rows.length <= pageSize) {
        phase = 'deletes';
        afterVersion = lower;
      }
    }
    // Deletes come after changes; the first (full) read reports none. A page full of rows leaves them for the next.
    let more = phase === 'rows';
    if (phase === 'deletes' && lower > 0) {
      const dead = (this.store.tombstones.get(def.logicalName) ?? [])
        .filter((t) => t.version > afterVersion && t.version <= upTo)
        .sort((a, b) => a.version - b.version);
      const room = pageSize - items.length;
      for (const t of dead.slice(0, room)) {
        items.push({
          '@odata.context': `${this.base}/$metadata#${def.entitySet}/$deletedEntity`,
          id: t.id,
          reason: 'deleted',
        });
        afterVersion = t.version;
      }
      more = dead.length > room;
    }
    if (more) {
      const next = { page: (state?.page ?? 1) + 1, from, upTo, phase, afterVersion };
      return this.trackedNext(def, query, items, columns, next, headers);
    }
    const link: Array<[string, string]> = [];
    const select = query.get('$select');
    if (select) link.push(['$select', select]);
    link.push(['$deltatoken', deltaToken(upTo)]);
    return json(
      200,
      {
        '@odata.context': this.context(
          def,
          columns,
          query,
          deltaParam !== null || (state?.from ?? 0) > 0 ? '/$delta' : '',
        ),
        value: items,
        '@odata.deltaLink': `${this.base}/${def.entitySet}?${queryString(link)}`,
      },
      headers,
    );
  }

  private trackedNext(
    def: EntityDef,
    query: URLSearchParams,
    items: Array<Record<string, unknown>>,
    columns: ColumnDef[],
    state: PagingState,
    headers: Record<string, string>,
  ): DvResponse {
    const next: Array<[string, string]> = [];
    const select = query.get('$select');
    if (select) next.push(['$select', select]);
    next.push(['$skiptoken', encodeCookie(state, true)]);
    return json(
      200,
      {
        '@odata.context': this.context(def, columns, query, (state.from ?? 0) > 0 ? '/$delta' : ''),
        value: items,
        '@odata.nextLink': `${this.base}/${def.entitySet}?${queryString(next)}`,
      },
      headers,
    );
  }

  private retrieve(req: DvRequest, def: EntityDef, id: string, query: URLSearchParams): DvResponse {
    const columns = this.selectOf(def, query);
    const row = this.store.table(def.logicalName).get(id);
    if (!row) fail(404, '0x80040217', `${def.logicalName} With Id = ${id} Does Not Exist`);
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch && ifNoneMatch !== 'null' && ifNoneMatch === `W/"${row.version}"`) {
      return { status: 304, headers: {}, body: '' };
    }
    return json(200, {
      '@odata.context': `${this.context(def, columns, query)}/$entity`,
      ...this.project(req.user, def, row, columns),
    });
  }

  // ---- writing -------------------------------------------------------------------------------------------

  private parseBody(def: EntityDef, body: string): Record<string, unknown> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      fail(400, '0x0', 'The request body is not valid JSON.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      fail(
        400,
        '0x0',
        `The request body must be a JSON object describing a 'Microsoft.Dynamics.CRM.${def.logicalName}'.`,
      );
    }
    return parsed as Record<string, unknown>;
  }

  /** Validates a create/update body the way Dataverse does and returns the values to store. */
  private validate(
    user: SandboxUser,
    def: EntityDef,
    input: Record<string, unknown>,
    mode: 'create' | 'update',
    existing?: Row,
  ) {
    const values: Record<string, Value> = {};
    for (const [name, raw] of Object.entries(input)) {
      if (name.startsWith('@') || name.includes('@odata.')) continue;
      const col = def.columns.find((c) => c.name === name);
      if (!col) {
        fail(
          400,
          '0x0',
          `The property '${name}' does not exist on type 'Microsoft.Dynamics.CRM.${def.logicalName}'. Make sure to only use property names that are defined by the type or mark the type as open type.`,
        );
      }
      // Columns not valid for this operation are silently ignored.
      if (mode === 'create' ? !col.validForCreate : !col.validForUpdate) continue;
      const value = this.coerce(col, raw);
      const rights = this.store.rights(user, def.logicalName, col);
      if (mode === 'create' ? !rights.create : !rights.update) {
        const type =
          mode === 'create' ? 'AttributePrivilegeCreateIsMissing' : 'AttributePermissionUpdateIsMissingDuringUpdate';
        fail(
          403,
          '0x80040220',
          `${type}: Caller user with Id ${user.id} does not have ${mode} permissions to the ${col.name} attribute in ${def.logicalName} entity.`,
        );
      }
      if (typeof value === 'string' && col.maxLength !== undefined && value.length > col.maxLength) {
        fail(
          400,
          '0x80044331',
          // Two spaces after the first sentence, as in the $batch article's example of this error.
          `A validation error occurred.  The length of the '${col.name}' attribute of the '${def.logicalName}' entity exceeded the maximum allowed length of '${col.maxLength}'.`,
        );
      }
      values[name] = value;
    }
    const merged = { ...(existing?.values ?? {}), ...values };
    for (const rule of this.store.rules) {
      if (rule.entity !== def.logicalName) continue;
      const v = merged[rule.column] ?? null;
      if (compareValues(v, rule.equals) === 0 && (v === null) === (rule.equals === null))
        fail(400, '0x80040265', rule.message);
    }
    return values;
  }

  private coerce(col: ColumnDef, raw: unknown): Value {
    if (raw === null) return null;
    const expected = (ok: boolean, edm: string): void => {
      if (!ok)
        fail(400, '0x0', `Cannot convert the literal '${String(JSON.stringify(raw))}' to the expected type '${edm}'.`);
    };
    switch (col.type) {
      case 'String':
      case 'Memo':
        expected(typeof raw === 'string', 'Edm.String');
        return raw as string;
      case 'Boolean':
        expected(typeof raw === 'boolean', 'Edm.Boolean');
        return raw as boolean;
      case 'DateTime':
        expected(typeof raw === 'string' && !Number.isNaN(Date.parse(raw)), 'Edm.DateTimeOffset');
        return new Date(raw as string).toISOString().replace(/\.\d{3}Z$/, 'Z');
      case 'Uniqueidentifier':
        expected(typeof raw === 'string' && GUID.test(raw), 'Edm.Guid');
        return (raw as string).toLowerCase();
      case 'Integer':
      case 'BigInt':
      case 'Picklist':
      case 'State':
      case 'Status':
        expected(typeof raw === 'number' && Number.isInteger(raw), 'Edm.Int32');
        return raw as number;
    }
  }

  private written(req: DvRequest, def: EntityDef, row: Row, query: URLSearchParams, created: boolean): DvResponse {
    const entityId = `${this.base}/${def.entitySet}(${row.id})`;
    if (prefers(req.headers).representation) {
      const columns = this.selectOf(def, query);
      return json(
        created ? 201 : 200,
        {
          '@odata.context': `${this.context(def, columns, query)}/$entity`,
          ...this.project(req.user, def, row, columns),
        },
        { etag: `W/"${row.version}"`, ...(created ? { location: entityId } : {}) },
      );
    }
    return noContent({ 'odata-entityid': entityId, location: entityId });
  }

  private create(req: DvRequest, def: EntityDef, query: URLSearchParams): DvResponse {
    const input = this.parseBody(def, req.body);
    const values = this.validate(req.user, def, input, 'create');
    const givenId = typeof values[def.idField] === 'string' ? (values[def.idField] as string) : undefined;
    if (givenId && this.store.table(def.logicalName).has(givenId))
      fail(412, '0x80040237', 'Cannot insert duplicate key.');
    const row = this.store.insert(def.logicalName, values, givenId ?? randomUUID());
    return this.written(req, def, row, query, true);
  }

  private update(req: DvRequest, def: EntityDef, id: string, query: URLSearchParams): DvResponse {
    const input = this.parseBody(def, req.body);
    const table = this.store.table(def.logicalName);
    const row = table.get(id);
    const ifMatch = req.headers['if-match'];
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch === '*' && row) fail(412, '', 'A record with matching key values already exists.');
    if (ifMatch) {
      if (!row) fail(404, '0x80040217', `${def.logicalName} With Id = ${id} Does Not Exist`);
      if (ifMatch !== '*' && ifMatch !== `W/"${row.version}"`) {
        fail(412, '0x80060882', "The version of the existing record doesn't match the RowVersion property provided.");
      }
    }
    if (!row) {
      // PATCH without If-Match is an upsert: it creates the row with this id.
      const values = this.validate(req.user, def, input, 'create');
      const created = this.store.insert(def.logicalName, values, id);
      return this.written(req, def, created, query, true);
    }
    const values = this.validate(req.user, def, input, 'update', row);
    this.store.touch(def.logicalName, row, values);
    return this.written(req, def, row, query, false);
  }

  private remove(req: DvRequest, def: EntityDef, id: string): DvResponse {
    const row = this.store.table(def.logicalName).get(id);
    if (!row) fail(404, '0x80040217', `${def.logicalName} With Id = ${id} Does Not Exist`);
    const ifMatch = req.headers['if-match'];
    if (ifMatch && ifMatch !== '*' && ifMatch !== `W/"${row.version}"`) {
      fail(412, '0x80060882', "The version of the existing record doesn't match the RowVersion property provided.");
    }
    this.store.remove(def.logicalName, id);
    return noContent();
  }

  // ---- metadata ------------------------------------------------------------------------------------------

  private entityMetadata(def: EntityDef): Record<string, unknown> {
    return {
      MetadataId: def.metadataId,
      LogicalName: def.logicalName,
      SchemaName: def.logicalName === 'contact' ? 'Contact' : 'Lead',
      EntitySetName: def.entitySet,
      PrimaryIdAttribute: def.idField,
      PrimaryNameAttribute: def.primaryName,
      IsCustomEntity: false,
      ChangeTrackingEnabled: this.store.changeTracking.get(def.logicalName) ?? false,
      IsOptimisticConcurrencyEnabled: true,
    };
  }

  /**
   * A column's AttributeMetadata: the derived type in `@odata.type` (StringAttributeMetadata, ...), labels as
   * LocalizedLabels plus UserLocalizedLabel, RequiredLevel as an AttributeRequiredLevelManagedProperty
   * (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api).
   */
  private attributeMetadata(col: ColumnDef, def: EntityDef, withString: boolean): Record<string, unknown> {
    const typeName = col.type === 'Uniqueidentifier' ? 'UniqueIdentifier' : col.type;
    const label = { Label: col.label, LanguageCode: 1033, IsManaged: !col.custom };
    const out: Record<string, unknown> = {
      '@odata.type': `#Microsoft.Dynamics.CRM.${typeName}AttributeMetadata`,
      MetadataId: col.metadataId,
      LogicalName: col.name,
      SchemaName: col.name,
      EntityLogicalName: def.logicalName,
      AttributeType: col.type,
      AttributeTypeName: { Value: `${col.type}Type` },
      DisplayName: { LocalizedLabels: [label], UserLocalizedLabel: label },
      IsCustomAttribute: col.custom,
      IsValidForCreate: col.validForCreate,
      IsValidForUpdate: col.validForUpdate,
      IsValidForRead: col.validForRead,
      IsSecured: col.secured,
      // Every AttributeMetadata has AttributeOf, null unless the column extends another (a lookup's name column):
      // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/attributemetadata
      AttributeOf: null,
      CanBeSecuredForRead: col.custom,
      RequiredLevel: {
        Value: col.requiredLevel,
        CanBeChanged: col.requiredLevel !== 'SystemRequired',
        ManagedPropertyLogicalName: 'canmodifyrequirementlevelsettings',
      },
    };
    if (withString) {
      out.MaxLength = col.maxLength ?? null;
      out.FormatName = { Value: col.format ?? 'Text' };
    }
    return out;
  }

  private pick(record: Record<string, unknown>, query: URLSearchParams, typeName: string): Record<string, unknown> {
    const select = query.get('$select');
    if (!select) return record;
    const out: Record<string, unknown> = {};
    for (const name of select.split(',').map((s) => s.trim())) {
      if (!(name in record)) fail(400, '0x0', `Could not find a property named '${name}' on type '${typeName}'.`);
      out[name] = record[name];
    }
    if ('MetadataId' in record) out.MetadataId = record.MetadataId;
    return out;
  }

  private metadata(path: string, query: URLSearchParams): DvResponse {
    if (path === 'EntityDefinitions') {
      let list = Object.values(this.store.defs).map((d) => this.entityMetadata(d));
      const filter = query.get('$filter');
      if (filter) {
        const node = parseFilter(filter);
        list = list.filter((e) => evaluate(node, e as Record<string, Value>));
      }
      return json(200, {
        '@odata.context': `${this.base}/$metadata#EntityDefinitions`,
        value: list.map((e) => this.pick(e, query, 'Microsoft.Dynamics.CRM.EntityMetadata')),
      });
    }
    const m =
      /^EntityDefinitions\(LogicalName='([a-z_]+)'\)(\/Attributes(?:\(LogicalName='([a-z0-9_]+)'\))?(\/Microsoft\.Dynamics\.CRM\.StringAttributeMetadata)?)?$/.exec(
        path,
      );
    const name = m?.[1];
    if (!m || !name || !isEntityName(name))
      fail(404, '0x80040217', `Could not find an entity with the name '${name ?? path}'.`);
    const def = this.store.def(name);
    if (!m[2])
      return json(200, {
        '@odata.context': `${this.base}/$metadata#EntityDefinitions/$entity`,
        ...this.pick(this.entityMetadata(def), query, 'Microsoft.Dynamics.CRM.EntityMetadata'),
      });
    const onlyStrings = Boolean(m[4]);
    const cols = def.columns.filter((c) => !onlyStrings || c.type === 'String');
    if (m[3]) {
      const col = cols.find((c) => c.name === m[3]);
      if (!col) fail(404, '0x80040217', `Could not find an attribute with the name '${m[3]}'.`);
      return json(
        200,
        this.pick(
          this.attributeMetadata(col, def, onlyStrings || col.type === 'String'),
          query,
          'Microsoft.Dynamics.CRM.AttributeMetadata',
        ),
      );
    }
    // Metadata queries are not paged.
    return json(200, {
      '@odata.context': `${this.base}/$metadata#EntityDefinitions('${def.logicalName}')/Attributes${onlyStrings ? '/Microsoft.Dynamics.CRM.StringAttributeMetadata' : ''}`,
      value: cols.map((c) =>
        this.pick(this.attributeMetadata(c, def, onlyStrings), query, 'Microsoft.Dynamics.CRM.AttributeMetadata'),
      ),
    });
  }

  private principalPrivileges(req: DvRequest, userId: string): DvResponse {
    const user = Object.values(this.store.users).find((u) => u.id === userId);
    if (!user) fail(404, '0x80040217', `systemuser With Id = ${userId} Does Not Exist`);
    if (user.id !== req.user.id) fail(403, '0x80040220', 'Principal user is missing prvReadUser privilege.');
    const privileges: Array<Record<string, unknown>> = [];
    for (const def of Object.values(this.store.defs)) {
      for (const col of def.columns) {
        const grant = col.secured ? user.grants.get(`${def.logicalName}.${col.name}`) : undefined;
        if (!grant) continue; // only columns the principal reaches through a profile are listed
        privileges.push({
          AttributeId: col.metadataId,
          CanCreate: grant.create ? 4 : 0,
          CanRead: grant.read ? 4 : 0,
          CanUpdate: grant.update ? 4 : 0,
        });
      }
    }
    return json(200, {
      '@odata.context': `${this.base}/$metadata#Microsoft.Dynamics.CRM.RetrievePrincipalAttributePrivilegesResponse`,
      AttributePrivileges: privileges,
    });
  }

  // ---- $batch --------------------------------------------------------------------------------------------

  private batch(req: DvRequest): DvResponse {
    this.counters.batches += 1;
    const boundary = boundaryOf(req.headers['content-type']);
    if (!boundary || !/multipart\/mixed/i.test(req.headers['content-type'] ?? '')) {
      fail(400, '0x0', 'The batch request must have a multipart/mixed Content-Type with a boundary.');
    }
    let parts: MimePart[];
    try {
      parts = splitMultipart(req.body, boundary);
    } catch (error) {
      fail(400, '0x0', `The batch request body is malformed: ${(error as Error).message}.`);
    }
    const count = parts.reduce((n, p) => {
      const inner = boundaryOf(p.headers['content-type']);
      return (
        n +
        (inner && /multipart\/mixed/i.test(p.headers['content-type'] ?? '') ? splitMultipart(p.body, inner).length : 1)
      );
    }, 0);
    if (count > 1000)
      fail(400, '0x8005f103', `The number of requests in the batch (${count}) exceeds the limit of 1000.`);
    const continueOnError = prefers(req.headers).continueOnError;
    const out: MimePart[] = [];
    for (const part of parts) {
      const type = part.headers['content-type'] ?? '';
      const inner = boundaryOf(type);
      let responses: Array<{ part: MimePart; status: number }>;
      if (inner && /multipart\/mixed/i.test(type)) {
        responses = this.changeSet(req, splitMultipart(part.body, inner));
        const failed = responses.find((r) => r.status >= 400);
        if (failed) {
          if (!continueOnError) return this.batchFailure(failed.part, failed.status);
          out.push(failed.part);
        } else {
          const csBoundary = `changesetresponse_${randomUUID()}`;
          out.push({
            headers: { 'content-type': `multipart/mixed; boundary=${csBoundary}` },
            body: buildMultipart(
              csBoundary,
              responses.map((r) => r.part),
            ),
          });
        }
        continue;
      }
      const result = this.batchOperation(req, part, false);
      if (result.status >= 400 && !continueOnError) return this.batchFailure(result.part, result.status);
      out.push(result.part);
    }
    const responseBoundary = `batchresponse_${randomUUID()}`;
    return {
      status: 200,
      headers: { 'content-type': `multipart/mixed; boundary=${responseBoundary}`, 'odata-version': '4.0' },
      body: buildMultipart(responseBoundary, out),
    };
  }

  private batchFailure(part: MimePart, status: number): DvResponse {
    const responseBoundary = `batchresponse_${randomUUID()}`;
    return {
      status,
      headers: { 'content-type': `multipart/mixed; boundary=${responseBoundary}`, 'odata-version': '4.0' },
      body: buildMultipart(responseBoundary, [part]),
    };
  }

  /** All or nothing: a failure rolls back the change set's finished operations. */
  private changeSet(req: DvRequest, parts: MimePart[]): Array<{ part: MimePart; status: number }> {
    const snapshot = this.store.snapshot();
    const versionBefore = this.store.version;
    const results: Array<{ part: MimePart; status: number }> = [];
    for (const part of parts) {
      const r = this.batchOperation(req, part, true);
      results.push(r);
      if (r.status >= 400) {
        this.store.restore(snapshot);
        void versionBefore; // versions stay monotonic even when rolled back
        return [r];
      }
    }
    return results;
  }

  private batchOperation(req: DvRequest, part: MimePart, inChangeSet: boolean): { part: MimePart; status: number } {
    const partHeaders: Headers = { 'content-type': 'application/http', 'content-transfer-encoding': 'binary' };
    // Only change-set responses carry the Content-ID back; a top-level part's answer is matched by its place, the
    // answers coming in the order of the requests (execute-batch-operations-using-web-api).
    if (inChangeSet && part.headers['content-id']) partHeaders['content-id'] = part.headers['content-id'];
    let response: DvResponse;
    try {
      const message = parseHttpMessage(part.body);
      const [method = '', url = ''] = message.startLine.split(/\s+/);
      if (inChangeSet && method.toUpperCase() === 'GET')
        fail(400, '0x0', 'GET requests are not allowed inside a change set.');
      const i = url.indexOf(API_PATH);
      const target = i >= 0 ? url.slice(i + API_PATH.length) : url.replace(/^\//, '');
      if (url.length > MAX_BATCH_URL_CHARS) {
        // The limit is documented, the answer is not: HTTP's own for a URL too long, as the front end gives a GET.
        fail(414, '0x0', `The request URL is longer than ${MAX_BATCH_URL_CHARS} characters.`);
      }
      if (this.batchFaults.throttleOps > 0) {
        this.batchFaults.throttleOps -= 1;
        this.counters.throttled += 1;
        response = errorResponse(
          429,
          '0x80072322',
          'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
          {
            'retry-after': String(this.batchFaults.retryAfterSeconds),
          },
        );
      } else {
        this.counters.operations += 1;
        response = this.handle({
          method,
          target,
          headers: { prefer: '', ...message.headers },
          body: message.body,
          user: req.user,
        });
      }
    } catch (error) {
      if (error instanceof HttpFailure) response = error.response;
      else if (error instanceof MultipartError) response = errorResponse(400, '0x0', error.message);
      else throw error;
    }
    const body = buildHttpMessage({
      startLine: `HTTP/1.1 ${response.status} ${statusText(response.status)}`,
      headers: response.headers,
      body: response.body,
    });
    return { part: { headers: partHeaders, body }, status: response.status };
  }
}
