/**
 * `SalesforceSandbox`: a vanilla Salesforce org's REST API on one HTTPS listener (Fastify) with a private CA:
 * the OAuth token endpoint, `/services/data` (versions, resources, limits, describe, SOQL query and queryAll,
 * sObject rows, updated/deleted, sObject Collections, Bulk API 2.0 ingest), the identity URL, plus fault
 * injection and control methods for tests (and `/__sandbox/...` routes for another process).
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { samplePeople } from '@tandem/core/testing';
import { AuthModel, assertCertificate, type AuthSettings } from './auth';
import { BulkService } from './bulk';
import { makeCertificates } from './cert';
import { SandboxClock } from './clock';
import { CollectionService } from './collections';
import { basicInfo, describeGlobal, describeObject } from './describe';
import { ApiError, notFound, recordErrorsToApi } from './errors';
import { FaultState, type SandboxFaults } from './faults';
import type { FieldAccess } from './fieldsecurity';
import { normalizeId, randomId } from './ids';
import { QueryService } from './query';
import { RecordService, fieldJson, storedValue } from './records';
import { getDeleted, getUpdated } from './replication';
import { isRuleCondition, type DuplicateRuleSettings, type ValidationRule } from './rules';
import { DATA_OBJECTS, objectNamed, type DataObjectName, type ObjectName } from './schema';
import { SALESFORCE_SEED, sampleFields } from './seed';
import { SandboxStore, type StoredRecord, type Value } from './store';
import { ApiUsage, DEFAULT_DAILY_ALLOCATION } from './usage';
import { DEFAULT_API_VERSION, listVersions, MAX_VERSION, resolveVersion } from './versions';

/**
 * The URI and headers of a request together may take 16,384 bytes; beyond, 414 (the URI alone is too long)
 * or 431 (the headers push it over).
 * https://help.salesforce.com/s/articleView?id=000386264 ("REST API URI length limit")
 */
export const MAX_REQUEST_HEAD_BYTES = 16_384;

/** A session ends after this long without a request (the org default, 2 hours). */
const DEFAULT_SESSION_TIMEOUT_SECONDS = 7200;

export interface SalesforceSandboxOptions {
  host?: string;
  port?: number;
  seed?: boolean;
  logger?: Logger;
  /** Custom fields beyond a vanilla org (Lead_Score__c, Segment__c on Contact and Lead). */
  extras?: boolean;
  /** The org id (18 or 15 characters, prefix 00D); random unless given. */
  orgId?: string;
  clientId?: string;
  clientSecret?: string;
  /** The version `env.SALESFORCE_API_VERSION` names. */
  apiVersion?: string;
  /** The newest API version served (66 by default). */
  maxApiVersion?: number;
  /** The org's daily API allocation (100,000 by default). */
  dailyApiAllocation?: number;
  /** Session inactivity timeout in seconds (7,200 by default, the org setting's default). */
  sessionTimeoutSeconds?: number;
  /** The client credentials flow has a run-as user (true by default). */
  clientCredentialsEnabled?: boolean;
  /** The JWT bearer flow: the PEM certificate uploaded to the app, and the pre-approved usernames. */
  jwt?: { certificate: string; approvedUsers?: string[] };
}

export interface StartedSalesforceSandbox {
  /** The org's My Domain URL (standing for https://<domain>.my.salesforce.com). */
  url: string;
  caPem: string;
  orgId: string;
  userId: string;
  username: string;
  clientId: string;
  clientSecret: string;
  apiVersion: string;
  close(): Promise<void>;
}

export type RequestKind =
  | 'versions'
  | 'resources'
  | 'limits'
  | 'describe'
  | 'query'
  | 'queryMore'
  | 'sobjectRead'
  | 'sobjectWrite'
  | 'collections'
  | 'retrieve'
  | 'updated'
  | 'deleted'
  | 'bulk'
  | 'identity'
  | 'other';

export interface SandboxCounters {
  /** Requests counted against the daily allocation. */
  apiRequests: number;
  /** Requests under /services/data by kind (counted or not). */
  byKind: Record<RequestKind, number>;
  tokenRequests: number;
  tokenFailures: number;
  unauthorized: number;
  limitExceeded: number;
  unavailable: number;
  tooLarge: number;
  /** Record saves and deletes attempted (rows, collections, bulk). */
  recordWrites: number;
  lockErrors: number;
}

/** A record as the control methods show it: JSON values (datetimes as the API writes them). */
export interface SandboxRecord {
  type: DataObjectName;
  id: string;
  values: Record<string, unknown>;
}

const KINDS: RequestKind[] = [
  'versions',
  'resources',
  'limits',
  'describe',
  'query',
  'queryMore',
  'sobjectRead',
  'sobjectWrite',
  'collections',
  'retrieve',
  'updated',
  'deleted',
  'bulk',
  'identity',
  'other',
];

interface ApiCall {
  method: string;
  version: string;
  parts: string[];
  query: URLSearchParams;
  body: string;
  headers: FastifyRequest['headers'];
}

interface Answer {
  status: number;
  body?: unknown;
  contentType?: string;
}

export class SalesforceSandbox {
  readonly clock = new SandboxClock();
  readonly store: SandboxStore;
  readonly records: RecordService;
  readonly auth: AuthModel;
  readonly usage: ApiUsage;
  private readonly queries: QueryService;
  private readonly collections: CollectionService;
  readonly bulk: BulkService;
  private readonly faults = new FaultState();
  private readonly counters = {
    byKind: Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<RequestKind, number>,
    unauthorized: 0,
    limitExceeded: 0,
    unavailable: 0,
    tooLarge: 0,
    apiRequests: 0,
  };
  private readonly maxVersion: number;
  readonly apiVersion: string;
  private app: FastifyInstance | undefined;
  private origin = '';

  constructor(private readonly options: SalesforceSandboxOptions = {}) {
    const orgId = options.orgId === undefined ? randomId('00D') : normalizeId(options.orgId);
    if (!orgId || !orgId.startsWith('00D')) throw new Error(`not an Organization id (00D…): ${options.orgId ?? ''}`);
    const userId = randomId('005');
    const username = `tandem.integration@${orgId.slice(0, 15).toLowerCase()}.sandbox`;
    this.maxVersion = options.maxApiVersion ?? MAX_VERSION;
    this.apiVersion = options.apiVersion ?? DEFAULT_API_VERSION;
    if (!resolveVersion(this.apiVersion, this.maxVersion))
      throw new Error(`API version ${this.apiVersion} is not served`);
    this.store = new SandboxStore(
      this.clock,
      { orgId, userId, orgName: 'Tandem Sandbox Org', username },
      options.extras ?? false,
    );
    this.records = new RecordService(this.store, { lockFails: () => this.faults.lock.fires() }, () => this.apiVersion);
    if (options.jwt) assertCertificate(options.jwt.certificate);
    const settings: AuthSettings = {
      clientId: options.clientId ?? `3MVG9${randomBytes(30).toString('base64url')}`,
      clientSecret: options.clientSecret ?? randomBytes(32).toString('hex').toUpperCase(),
      clientCredentialsEnabled: options.clientCredentialsEnabled ?? true,
      jwtCertificate: options.jwt?.certificate,
      jwtApprovedUsers: options.jwt?.approvedUsers ?? [username],
      // The documented audiences: the login servers (an Experience Cloud site's URL too, which a vanilla org has
      // not). The org's own My Domain URL is not one of them.
      // https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm
      jwtAudiences: ['https://login.salesforce.com', 'https://test.salesforce.com'],
      sessionTimeoutSeconds: options.sessionTimeoutSeconds ?? DEFAULT_SESSION_TIMEOUT_SECONDS,
    };
    this.auth = new AuthModel(settings, this.store.identity, this.clock, () => this.origin);
    this.usage = new ApiUsage(options.dailyApiAllocation ?? DEFAULT_DAILY_ALLOCATION);
    this.queries = new QueryService(this.records, this.clock);
    this.collections = new CollectionService(this.records);
    this.bulk = new BulkService(this.records);
  }

  get orgId(): string {
    return this.store.identity.orgId;
  }

  async start(): Promise<StartedSalesforceSandbox> {
    const host = this.options.host ?? '127.0.0.1';
    const certs = await makeCertificates(host);
    const app = Fastify({
      // Node refuses request heads over 16 KB itself (its default maxHeaderSize); raised so that the documented
      // limit, which the onRequest hook applies, decides instead.
      https: { key: certs.key, cert: certs.cert, maxHeaderSize: 4 * MAX_REQUEST_HEAD_BYTES },
      logger: false,
      bodyLimit: 150 * 1024 * 1024,
      routerOptions: { maxParamLength: 4 * MAX_REQUEST_HEAD_BYTES },
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    app.addHook('onRequest', async (req, reply) => {
      const tooLarge = headTooLarge(req);
      if (tooLarge) {
        this.counters.tooLarge += 1;
        const text = tooLarge === 414 ? 'URI Too Long' : 'Request Header Fields Too Large';
        return reply
          .code(tooLarge)
          .header('content-type', 'text/html')
          .send(`<html><body><h1>${tooLarge} ${text}</h1></body></html>`);
      }
      return undefined;
    });
    // Every answer carries the org's time in its Date header, as the documented example response shows
    // (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm): the org's
    // clock, which tests may move, not the host's (which Node would send otherwise).
    app.addHook('onSend', async (_req, reply) => {
      reply.header('date', new Date(this.clock.now()).toUTCString());
    });
    this.routes(app);
    await app.listen({ host, port: this.options.port ?? 0 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    this.origin = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.app = app;
    if (this.options.seed) this.seed();
    return {
      url: this.origin,
      caPem: certs.caPem,
      orgId: this.orgId,
      userId: this.store.identity.userId,
      username: this.store.identity.username,
      clientId: this.auth.settings.clientId,
      clientSecret: this.auth.settings.clientSecret,
      apiVersion: this.apiVersion,
      close: () => this.close(),
    };
  }

  async close(): Promise<void> {
    await this.bulk.idle();
    await this.app?.close();
    this.app = undefined;
  }

  // ---- control methods (tests, the CLI) --------------------------------------------------------------------

  /** Sample people 200..279 as Contacts and 280..339 as Leads. */
  seed(): void {
    const c = SALESFORCE_SEED.contacts;
    for (const p of samplePeople(c.count, c.from)) this.createRecord('Contact', sampleFields(p, 'Contact'));
    const l = SALESFORCE_SEED.leads;
    for (const p of samplePeople(l.count, l.from)) this.createRecord('Lead', sampleFields(p, 'Lead'));
  }

  /** Creates a record as a data load would (no validation rules, no duplicate rule, no faults). */
  createRecord(type: DataObjectName, fields: Record<string, unknown>): SandboxRecord {
    return this.view(this.store.insert(type, this.controlValues(type, fields)));
  }

  /** A salesperson's edit: new values, `LastModifiedDate` and `SystemModstamp` move. */
  editRecord(type: DataObjectName, id: string, fields: Record<string, unknown>): SandboxRecord {
    const record = this.liveRecord(type, id);
    return this.view(this.store.update(record, this.controlValues(type, fields)));
  }

  /**
   * A system job's change (recalculation, background update): `SystemModstamp` moves, `LastModifiedDate` does
   * not. Without ids, every live record of the type.
   */
  systemTouch(type: DataObjectName, ids?: string[], fields: Record<string, unknown> = {}): SandboxRecord[] {
    const targets = ids
      ? ids.map((id) => this.liveRecord(type, id))
      : this.store.all(type).filter((r) => r.values.IsDeleted !== true);
    const values = this.controlValues(type, fields);
    return targets.map((r) => this.view(this.store.touch(r, values)));
  }

  deleteRecord(type: DataObjectName, id: string): void {
    this.store.softDelete(this.liveRecord(type, id));
  }

  /**
   * Converts a Lead, as a user's conversion does: into a new Contact built from the lead's fields (or into an
   * existing Contact, `contactId`). The lead stays, read-only: `IsConverted`, `ConvertedDate`, `ConvertedContactId`,
   * the converted status; its `SystemModstamp` moves (the conversion's change event carries no LastModifiedDate).
   * A later API update of the lead fails with CANNOT_UPDATE_CONVERTED_LEAD.
   * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_convertlead.htm
   * https://developer.salesforce.com/docs/platform/change-data-capture/guide/cdc-standard-objects-lead-conversion.md
   * The sandbox has no Account or Opportunity records: ConvertedAccountId and ConvertedOpportunityId stay null.
   */
  convertLead(leadId: string, options: { contactId?: string } = {}): { lead: SandboxRecord; contact: SandboxRecord } {
    const lead = this.liveRecord('Lead', leadId);
    if (lead.values.IsConverted === true) throw new Error(`Lead ${leadId} is already converted`);
    const contact = options.contactId
      ? this.liveRecord('Contact', options.contactId)
      : this.store.insert('Contact', contactFromLead(lead.values));
    const DAY_MS = 24 * 3600 * 1000;
    const today = Math.floor(this.clock.now() / DAY_MS) * DAY_MS;
    this.store.touch(lead, {
      IsConverted: true,
      ConvertedDate: today,
      ConvertedContactId: contact.id,
      Status: CONVERTED_LEAD_STATUS,
    });
    return { lead: this.view(lead), contact: this.view(contact) };
  }

  /**
   * Merges up to two records into a master, as a user's merge does: each loser is deleted with `MasterRecordId`
   * set to the winner (it shows in `deleted` and in queryAll); the winner takes `fieldsFromLosers` and is
   * modified. https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_merge.htm
   */
  merge(
    type: DataObjectName,
    winnerId: string,
    loserIds: string | string[],
    fieldsFromLosers: Record<string, unknown> = {},
  ): SandboxRecord {
    const losers = (Array.isArray(loserIds) ? loserIds : [loserIds]).map((id) => this.liveRecord(type, id));
    if (losers.length === 0 || losers.length > 2)
      throw new Error('a merge takes one or two records to merge into the master');
    const winner = this.liveRecord(type, winnerId);
    if (losers.some((l) => l.id === winner.id)) throw new Error('a record cannot be merged into itself');
    for (const loser of losers) this.store.softDelete(loser, winner.id);
    return this.view(this.store.update(winner, this.controlValues(type, fieldsFromLosers)));
  }

  listRecords(type: DataObjectName, options: { includeDeleted?: boolean } = {}): SandboxRecord[] {
    return this.store
      .all(type)
      .filter((r) => options.includeDeleted || r.values.IsDeleted !== true)
      .map((r) => this.view(r));
  }

  getRecord(type: DataObjectName, id: string): SandboxRecord | undefined {
    const norm = normalizeId(id);
    const r = norm ? this.store.get(type, norm) : undefined;
    return r ? this.view(r) : undefined;
  }

  /** Field-level security of the integration user for one field (read false: the field does not exist for it). */
  setFieldSecurity(type: DataObjectName, field: string, access: FieldAccess): void {
    const f = this.store.field(type, field);
    if (!f) throw new Error(`${type} has no field ${field}`);
    this.records.security.set(type, f, access);
  }

  resetFieldSecurity(): void {
    this.records.security.reset();
  }

  addValidationRule(rule: ValidationRule): void {
    this.records.validationRules.push(rule);
  }

  clearValidationRules(): void {
    this.records.validationRules.length = 0;
  }

  /** Turns the duplicate rule on Email on (`{ allowSave: false }` blocks duplicates) or off (`null`). */
  setDuplicateRule(type: DataObjectName, settings: DuplicateRuleSettings | null): void {
    if (settings) this.records.duplicateRules.set(type, settings);
    else this.records.duplicateRules.delete(type);
  }

  now(): Date {
    return new Date(this.clock.now());
  }

  /** Sets the org's clock; `frozen`: time stands still there until `advanceClock`. */
  setClock(at: Date | number | string, options: { frozen?: boolean } = {}): void {
    this.clock.set(at, options);
  }

  advanceClock(ms: number): void {
    this.clock.advance(ms);
  }

  injectFaults(faults: SandboxFaults): void {
    this.faults.apply(faults);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Sets the usage of the rolling 24-hour window (all "now") and/or the daily allocation. */
  setApiUsage(usage: { used?: number; allocation?: number }): void {
    if (usage.allocation !== undefined) this.usage.allocation = usage.allocation;
    if (usage.used !== undefined) this.usage.setUsed(usage.used, this.clock.now());
  }

  /** Every access token issued so far stops working (401 INVALID_SESSION_ID). */
  expireTokens(): void {
    this.auth.expireAll();
  }

  /** Every query cursor handed out so far stops working (400 INVALID_QUERY_LOCATOR). */
  expireQueryCursors(): void {
    this.queries.expireCursors();
  }

  getCounters(): SandboxCounters {
    return {
      apiRequests: this.counters.apiRequests,
      byKind: { ...this.counters.byKind },
      tokenRequests: this.auth.tokenRequests,
      tokenFailures: this.auth.tokenFailures,
      unauthorized: this.counters.unauthorized,
      limitExceeded: this.counters.limitExceeded,
      unavailable: this.counters.unavailable,
      tooLarge: this.counters.tooLarge,
      recordWrites: this.records.recordWrites,
      lockErrors: this.records.lockErrors,
    };
  }

  resetCounters(): void {
    for (const k of KINDS) this.counters.byKind[k] = 0;
    Object.assign(this.counters, { unauthorized: 0, limitExceeded: 0, unavailable: 0, tooLarge: 0, apiRequests: 0 });
    this.auth.tokenRequests = 0;
    this.auth.tokenFailures = 0;
    this.records.recordWrites = 0;
    this.records.lockErrors = 0;
  }

  private liveRecord(type: DataObjectName, id: string): StoredRecord {
    const norm = normalizeId(id);
    const record = norm ? this.store.get(type, norm) : undefined;
    if (!record) throw new Error(`${type} ${id} does not exist`);
    if (record.values.IsDeleted === true) throw new Error(`${type} ${id} is deleted`);
    return record;
  }

  /** Control-method values: known fields only (any field, whatever its security), JSON values converted. */
  private controlValues(type: DataObjectName, fields: Record<string, unknown>): Record<string, Value> {
    const out: Record<string, Value> = {};
    for (const [name, raw] of Object.entries(fields)) {
      const f = this.store.field(type, name);
      if (!f || f.system || f.calculated || f.addressParts) {
        throw new Error(`${type}.${name} is not a field a record can be given`);
      }
      const v = this.records.jsonValue(f, raw);
      if (v !== null && typeof v === 'object') throw new Error(v.invalid);
      // Control methods save as a user's edit does: the same storage rules as the API (email lower-cased).
      out[f.name] = storedValue(f, v);
    }
    return out;
  }

  private view(r: StoredRecord): SandboxRecord {
    const values: Record<string, unknown> = {};
    for (const f of this.store.object(r.type).fields) values[f.name] = fieldJson(f, r.values);
    return { type: r.type as DataObjectName, id: r.id, values };
  }

  // ---- HTTP ----------------------------------------------------------------------------------------------

  private routes(app: FastifyInstance): void {
    app.post('/services/oauth2/token', async (req, reply) => {
      const form = new URLSearchParams(typeof req.body === 'string' ? req.body : '');
      const answer = await this.auth.token(form, req.headers.authorization);
      return reply.code(answer.status).header('cache-control', 'no-store').send(answer.body);
    });
    app.get('/id/:orgId/:userId', async (req, reply) => {
      this.counters.byKind.identity += 1;
      if (!this.auth.authenticate(req.headers.authorization)) return this.unauthorized(reply);
      const { orgId, userId } = req.params as { orgId: string; userId: string };
      if (normalizeId(orgId) !== this.orgId || normalizeId(userId) !== this.store.identity.userId) {
        return reply.code(404).send('Bad_Id');
      }
      return reply.send(this.identity());
    });
    app.all('/services/data', (req, reply) => this.dataRequest(req, reply));
    app.all('/services/data/*', (req, reply) => this.dataRequest(req, reply));
    this.controlRoutes(app);
    app.setNotFoundHandler((req, reply) => {
      this.options.logger?.warn({ method: req.method, url: req.url }, 'salesforce sandbox: unmodelled request');
      return reply.code(404).send([{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    });
  }

  private unauthorized(reply: FastifyReply): FastifyReply {
    this.counters.unauthorized += 1;
    return reply
      .code(401)
      .header('www-authenticate', 'Token')
      .send([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
  }

  private async dataRequest(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const url = new URL(req.url, 'https://sandbox.invalid');
    const parts = url.pathname
      .replace(/^\/services\/data\/?/, '')
      .split('/')
      .filter((p, i, all) => p !== '' || i < all.length - 1)
      .filter((p) => p !== '')
      .map((p) => decodeURIComponent(p));
    if (parts.length === 0) {
      // The Versions resource needs no session and does not count against the allocation.
      this.counters.byKind.versions += 1;
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return this.methodNotAllowed(reply, req.method, ['GET', 'HEAD']);
      return reply.send(listVersions(this.maxVersion));
    }
    const kind = kindOf(req.method, parts);
    this.counters.byKind[kind] += 1;
    if (this.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.faults.latencyMs));
    if (!this.auth.authenticate(req.headers.authorization)) return this.unauthorized(reply);
    const now = this.clock.now();
    if (this.faults.unavailable.fires()) {
      this.counters.unavailable += 1;
      return reply
        .code(503)
        .send([{ message: 'Server is unavailable. Please try again later.', errorCode: 'SERVER_UNAVAILABLE' }]);
    }
    if (this.usage.exhausted(now)) {
      this.counters.limitExceeded += 1;
      return reply
        .code(403)
        .header('sforce-limit-info', this.usage.header(now))
        .send([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    }
    this.usage.count(now);
    this.counters.apiRequests += 1;
    reply.header('sforce-limit-info', this.usage.header(now));
    const [versionSegment = '', ...rest] = parts;
    const version = resolveVersion(versionSegment, this.maxVersion);
    let answer: Answer;
    try {
      if (!version) throw notFound();
      answer = await this.dispatch({
        method: req.method,
        version,
        parts: rest,
        query: url.searchParams,
        body: typeof req.body === 'string' ? req.body : '',
        headers: req.headers,
      });
    } catch (error) {
      if (error instanceof ApiError) answer = { status: error.status, body: error.body() };
      else {
        this.options.logger?.error({ err: error }, 'salesforce sandbox: request failed');
        answer = {
          status: 500,
          body: [
            {
              message: 'An unexpected error occurred. Please include this ErrorId if you contact support.',
              errorCode: 'UNKNOWN_EXCEPTION',
            },
          ],
        };
      }
    }
    if (answer.status === 204 || answer.body === undefined) return reply.code(answer.status).send();
    if (answer.contentType) reply.header('content-type', answer.contentType);
    return reply.code(answer.status).send(answer.body);
  }

  private methodNotAllowed(reply: FastifyReply, method: string, allowed: string[]): FastifyReply {
    return reply
      .code(405)
      .header('allow', allowed.join(', '))
      .send([
        {
          message: `HTTP Method '${method}' not allowed. Allowed are ${allowed.join(',')}`,
          errorCode: 'METHOD_NOT_ALLOWED',
        },
      ]);
  }

  private async dispatch(call: ApiCall): Promise<Answer> {
    const [head, ...rest] = call.parts;
    const allow = (allowed: string[]) => {
      if (!allowed.includes(call.method)) {
        throw new ApiError(
          405,
          'METHOD_NOT_ALLOWED',
          `HTTP Method '${call.method}' not allowed. Allowed are ${allowed.join(',')}`,
        );
      }
    };
    switch (head) {
      case undefined:
        allow(['GET', 'HEAD']);
        return { status: 200, body: this.resources(call.version) };
      case 'limits':
        allow(['GET', 'HEAD']);
        return { status: 200, body: this.limits() };
      case 'query':
      case 'queryAll': {
        allow(['GET', 'HEAD']);
        if (rest.length === 1 && rest[0]) return { status: 200, body: this.queries.more(rest[0]) };
        if (rest.length > 1) throw notFound();
        const options = call.headers['sforce-query-options'];
        return {
          status: 200,
          body: this.queries.run(
            call.query.get('q') ?? undefined,
            head === 'queryAll',
            call.version,
            typeof options === 'string' ? options : undefined,
          ),
        };
      }
      case 'sobjects':
        return this.sobjects(call, rest);
      case 'composite':
        if (rest[0] === 'sobjects') return this.composite(call, rest.slice(1));
        throw notFound();
      case 'jobs':
        if (rest[0] === 'ingest') return this.ingest(call, rest.slice(1));
        throw notFound();
      default:
        throw notFound();
    }
  }

  private sobjects(call: ApiCall, rest: string[]): Answer {
    const allow = (allowed: string[]) => {
      if (!allowed.includes(call.method)) {
        throw new ApiError(
          405,
          'METHOD_NOT_ALLOWED',
          `HTTP Method '${call.method}' not allowed. Allowed are ${allowed.join(',')}`,
        );
      }
    };
    const [typeName, sub, ...more] = rest;
    if (typeName === undefined) {
      allow(['GET', 'HEAD']);
      return {
        status: 200,
        body: describeGlobal(
          call.version,
          DATA_OBJECTS.map((o) => this.store.object(o)).concat(this.store.object('Organization')),
        ),
      };
    }
    const object = objectNamed(typeName);
    if (!object) {
      throw new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
    }
    const def = this.store.object(object);
    if (sub === undefined) {
      allow(['GET', 'HEAD', 'POST']);
      if (call.method === 'POST') return this.createOne(object, call.body);
      return { status: 200, body: basicInfo(call.version, def) };
    }
    if (more.length > 0) throw notFound();
    if (sub === 'describe') {
      allow(['GET', 'HEAD']);
      const views = this.records.visibleFields(object).map((field) => ({
        field,
        createable: this.records.createable(object, field),
        updateable: this.records.updateable(object, field),
      }));
      return { status: 200, body: describeObject(call.version, def, views) };
    }
    if (sub === 'updated' || sub === 'deleted') {
      allow(['GET', 'HEAD']);
      if (!this.records.isDataObject(object)) {
        throw new ApiError(400, 'INVALID_TYPE', `sObject type '${object}' is not supported for replication`);
      }
      const start = call.query.get('start') ?? undefined;
      const end = call.query.get('end') ?? undefined;
      return {
        status: 200,
        body:
          sub === 'updated' ? getUpdated(this.store, object, start, end) : getDeleted(this.store, object, start, end),
      };
    }
    allow(['GET', 'HEAD', 'PATCH', 'DELETE']);
    return this.recordRequest(call, object, sub);
  }

  private recordRequest(call: ApiCall, object: ObjectName, rawId: string): Answer {
    const id = normalizeId(rawId);
    if (!id || id.slice(0, 3) !== this.store.object(object).keyPrefix) {
      if (call.method === 'GET' || call.method === 'HEAD') {
        // Not an id of this object: the API reads the segment as an external id field name.
        throw new ApiError(
          404,
          'NOT_FOUND',
          `Provided external ID field does not exist or is not accessible: ${rawId}`,
        );
      }
      throw new ApiError(400, 'MALFORMED_ID', `${object} ID: id value of incorrect type: ${rawId}`, ['Id']);
    }
    const record = this.store.get(object, id);
    if (call.method === 'GET' || call.method === 'HEAD') {
      if (!record || record.values.IsDeleted === true) throw notFound();
      const names = call.query.get('fields');
      const fields = names
        ? names.split(',').map((n) => {
            const f = this.records.visibleField(object, n.trim());
            if (!f)
              throw new ApiError(
                400,
                'INVALID_FIELD',
                `No such column '${n.trim()}' on entity '${object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
              );
            return f;
          })
        : this.records.visibleFields(object);
      return { status: 200, body: this.records.serialize(record, fields, call.version) };
    }
    if (!this.records.isDataObject(object)) {
      throw new ApiError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${call.method}' not allowed. Allowed are GET,HEAD`);
    }
    if (!record) throw notFound();
    if (record.values.IsDeleted === true) throw new ApiError(404, 'ENTITY_IS_DELETED', 'entity is deleted');
    if (call.method === 'DELETE') {
      const result = this.records.delete(record, id);
      if (!result.success) throw recordFailure(result.errors);
      return { status: 204 };
    }
    const body = jsonObject(call.body);
    const idKey = Object.keys(body).find((k) => k.toLowerCase() === 'id');
    const input = this.records
      .resolve(object, body, ['attributes', ...(idKey ? [idKey] : [])])
      .map((i) => ({ field: i.field, value: this.records.jsonValue(i.field, i.raw) }));
    const result = this.records.save(object, 'update', input, record);
    if (!result.success) throw recordFailure(result.errors);
    return { status: 204 };
  }

  private createOne(object: ObjectName, rawBody: string): Answer {
    if (!this.records.isDataObject(object)) {
      throw new ApiError(405, 'METHOD_NOT_ALLOWED', "HTTP Method 'POST' not allowed. Allowed are GET,HEAD");
    }
    const body = jsonObject(rawBody);
    if (Object.keys(body).some((k) => k.toLowerCase() === 'id')) {
      throw new ApiError(400, 'INVALID_FIELD', 'cannot specify Id in an insert call', ['Id']);
    }
    const input = this.records
      .resolve(object, body)
      .map((i) => ({ field: i.field, value: this.records.jsonValue(i.field, i.raw) }));
    const result = this.records.save(object, 'create', input);
    if (!result.success) throw recordFailure(result.errors);
    return { status: 201, body: { id: result.id, success: true, errors: [] } };
  }

  private composite(call: ApiCall, rest: string[]): Answer {
    const [typeName, ...more] = rest;
    if (more.length > 0) throw notFound();
    if (typeName !== undefined) {
      // Retrieve: GET with ids and fields in the query string, or POST with them in the body.
      if (call.method === 'GET') {
        const list = (name: string) =>
          (call.query.get(name) ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
        return { status: 200, body: this.collections.retrieve(typeName, list('ids'), list('fields')) };
      }
      if (call.method === 'POST') {
        const body = jsonObject(call.body);
        const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
        return { status: 200, body: this.collections.retrieve(typeName, strings(body.ids), strings(body.fields)) };
      }
      throw new ApiError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${call.method}' not allowed. Allowed are GET,POST`);
    }
    switch (call.method) {
      case 'POST':
        return { status: 200, body: this.collections.create(jsonValue(call.body)) };
      case 'PATCH':
        return { status: 200, body: this.collections.update(jsonValue(call.body)) };
      case 'DELETE':
        return {
          status: 200,
          body: this.collections.delete(call.query.get('ids') ?? undefined, call.query.get('allOrNone') ?? undefined),
        };
      default:
        throw new ApiError(
          405,
          'METHOD_NOT_ALLOWED',
          `HTTP Method '${call.method}' not allowed. Allowed are POST,PATCH,DELETE`,
        );
    }
  }

  private ingest(call: ApiCall, rest: string[]): Answer {
    const [jobId, sub, ...more] = rest;
    const wrong = (allowed: string[]) =>
      new ApiError(
        405,
        'METHOD_NOT_ALLOWED',
        `HTTP Method '${call.method}' not allowed. Allowed are ${allowed.join(',')}`,
      );
    if (more.length > 0) throw notFound();
    if (jobId === undefined) {
      if (call.method === 'POST') return { status: 200, body: this.bulk.create(jsonValue(call.body), call.version) };
      if (call.method === 'GET') return { status: 200, body: this.bulk.list(call.version) };
      throw wrong(['GET', 'POST']);
    }
    if (sub === undefined) {
      if (call.method === 'GET') return { status: 200, body: this.bulk.get(jobId, call.version) };
      if (call.method === 'PATCH')
        return { status: 200, body: this.bulk.setState(jobId, jsonValue(call.body), call.version) };
      if (call.method === 'DELETE') {
        this.bulk.delete(jobId);
        return { status: 204 };
      }
      throw wrong(['GET', 'PATCH', 'DELETE']);
    }
    const csv = 'text/csv';
    switch (sub) {
      case 'batches':
        if (call.method !== 'PUT') throw wrong(['PUT']);
        this.bulk.upload(jobId, call.body);
        return { status: 201 };
      case 'successfulResults':
        if (call.method !== 'GET') throw wrong(['GET']);
        return { status: 200, body: this.bulk.successfulResults(jobId), contentType: csv };
      case 'failedResults':
        if (call.method !== 'GET') throw wrong(['GET']);
        return { status: 200, body: this.bulk.failedResults(jobId), contentType: csv };
      case 'unprocessedrecords':
        if (call.method !== 'GET') throw wrong(['GET']);
        return { status: 200, body: this.bulk.unprocessedRecords(jobId), contentType: csv };
      default:
        throw notFound();
    }
  }

  /**
   * Resources by Version, with the identity URL (how a client learns the org and user ids).
   * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-discoveryresource.md
   */
  private resources(version: string): Record<string, string> {
    const base = `/services/data/${version}`;
    return {
      composite: `${base}/composite`,
      identity: this.auth.identityUrl(),
      jobs: `${base}/jobs`,
      limits: `${base}/limits`,
      query: `${base}/query`,
      queryAll: `${base}/queryAll`,
      sobjects: `${base}/sobjects`,
    };
  }

  /**
   * The Limits resource: DailyApiRequests from the rolling window; the others as a new org has them.
   * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm
   */
  private limits(): Record<string, { Max: number; Remaining: number }> {
    const used = this.usage.used(this.clock.now());
    const fixed = (max: number) => ({ Max: max, Remaining: max });
    return {
      DailyApiRequests: { Max: this.usage.allocation, Remaining: Math.max(0, this.usage.allocation - used) },
      DailyAsyncApexExecutions: fixed(250000),
      DailyBulkApiBatches: fixed(15000),
      DailyBulkV2QueryFileStorageMB: fixed(976562),
      DailyBulkV2QueryJobs: fixed(10000),
      DataStorageMB: fixed(5),
      FileStorageMB: fixed(20),
      HourlyTimeBasedWorkflow: fixed(1000),
      MassEmail: fixed(10),
      SingleEmail: fixed(15),
    };
  }

  /**
   * The identity URL's answer (the parts a client uses: ids, username, and the API URLs).
   * https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_using_openid.htm
   */
  private identity(): Record<string, unknown> {
    const { orgId, userId, username } = this.store.identity;
    const v = this.apiVersion.slice(1);
    const rest = (path: string) => `${this.origin}/services/data/v{version}/${path}`;
    return {
      id: this.auth.identityUrl(),
      asserted_user: true,
      user_id: userId,
      organization_id: orgId,
      username,
      nick_name: 'tandem.integration',
      display_name: 'Tandem Integration',
      email: username,
      email_verified: true,
      first_name: 'Tandem',
      last_name: 'Integration',
      timezone: 'America/Los_Angeles',
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: -28800000,
      last_modified_date: `${new Date(this.store.createdAt).toISOString().slice(0, 19)}Z`,
      is_app_installed: true,
      urls: {
        rest: rest(''),
        sobjects: rest('sobjects/'),
        query: rest('query/'),
        recent: rest('recent/'),
        custom_domain: this.origin,
      },
      api_version: v,
    };
  }

  private controlRoutes(app: FastifyInstance): void {
    const p = '/__sandbox';
    const typeOf = (req: FastifyRequest): DataObjectName => {
      const t = objectNamed((req.params as { type: string }).type);
      if (t !== 'Contact' && t !== 'Lead')
        throw Object.assign(new Error('type is Contact or Lead'), { statusCode: 404 });
      return t;
    };
    const body = (req: FastifyRequest): Record<string, unknown> => {
      try {
        return jsonObject(typeof req.body === 'string' && req.body ? req.body : '{}');
      } catch {
        throw Object.assign(new Error('body must be a JSON object'), { statusCode: 400 });
      }
    };
    const guard = <T>(fn: () => T): T => {
      try {
        return fn();
      } catch (error) {
        if (error instanceof Error && !('statusCode' in error)) Object.assign(error, { statusCode: 400 });
        throw error;
      }
    };
    app.post(`${p}/seed`, async () => (this.seed(), { ok: true }));
    app.get(`${p}/counters`, async () => this.getCounters());
    app.post(`${p}/counters/reset`, async () => (this.resetCounters(), { ok: true }));
    app.get(`${p}/records/:type`, async (req) =>
      this.listRecords(typeOf(req), {
        includeDeleted: (req.query as Record<string, string>).includeDeleted === 'true',
      }),
    );
    app.post(`${p}/records/:type`, async (req) => guard(() => this.createRecord(typeOf(req), body(req))));
    app.patch(`${p}/records/:type/:id`, async (req) =>
      guard(() => this.editRecord(typeOf(req), (req.params as { id: string }).id, body(req))),
    );
    app.delete(`${p}/records/:type/:id`, async (req) =>
      guard(() => (this.deleteRecord(typeOf(req), (req.params as { id: string }).id), { ok: true })),
    );
    app.post(`${p}/records/:type/touch`, async (req) => {
      const b = body(req);
      const ids = Array.isArray(b.ids) ? b.ids.map(String) : undefined;
      return guard(() => this.systemTouch(typeOf(req), ids));
    });
    app.post(`${p}/records/:type/merge`, async (req) => {
      const b = body(req);
      const losers = Array.isArray(b.loserIds) ? b.loserIds.map(String) : [String(b.loserId ?? '')];
      return guard(() => this.merge(typeOf(req), String(b.winnerId ?? ''), losers));
    });
    app.post(`${p}/leads/:id/convert`, async (req) => {
      const b = body(req);
      const { id } = req.params as { id: string };
      return guard(() => this.convertLead(id, typeof b.contactId === 'string' ? { contactId: b.contactId } : {}));
    });
    app.put(`${p}/field-security/:type/:field`, async (req) => {
      const b = body(req);
      const { field } = req.params as { field: string };
      return guard(
        () => (
          this.setFieldSecurity(typeOf(req), field, { read: b.read === true, edit: b.edit === true }),
          { ok: true }
        ),
      );
    });
    app.delete(`${p}/field-security`, async () => (this.resetFieldSecurity(), { ok: true }));
    app.post(`${p}/validation-rules`, async (req) => {
      const b = body(req);
      const object = objectNamed(String(b.object ?? ''));
      const when = b.when;
      if ((object !== 'Contact' && object !== 'Lead') || typeof b.message !== 'string' || !isRuleCondition(when)) {
        throw Object.assign(
          new Error('a rule is { object, name, message, errorDisplayField?, when: { field, operator, value? } }'),
          {
            statusCode: 400,
          },
        );
      }
      this.addValidationRule({
        object,
        name: String(b.name ?? 'Rule'),
        message: b.message,
        ...(typeof b.errorDisplayField === 'string' ? { errorDisplayField: b.errorDisplayField } : {}),
        when,
      });
      return { ok: true };
    });
    app.delete(`${p}/validation-rules`, async () => (this.clearValidationRules(), { ok: true }));
    app.put(`${p}/duplicate-rule/:type`, async (req) => {
      const b = body(req);
      this.setDuplicateRule(typeOf(req), b.enabled === false ? null : { allowSave: b.allowSave === true });
      return { ok: true };
    });
    app.put(`${p}/clock`, async (req) => {
      const b = body(req);
      return guard(() => {
        if (b.at !== undefined) this.setClock(String(b.at), { frozen: b.frozen === true });
        if (typeof b.advanceMs === 'number') this.advanceClock(b.advanceMs);
        return { now: this.now().toISOString() };
      });
    });
    app.post(`${p}/faults`, async (req) => guard(() => (this.injectFaults(body(req) as SandboxFaults), { ok: true })));
    app.delete(`${p}/faults`, async () => (this.clearFaults(), { ok: true }));
    app.put(`${p}/api-usage`, async (req) => {
      const b = body(req);
      this.setApiUsage({
        ...(typeof b.used === 'number' ? { used: b.used } : {}),
        ...(typeof b.allocation === 'number' ? { allocation: b.allocation } : {}),
      });
      return { ok: true };
    });
    app.post(`${p}/expire-tokens`, async () => (this.expireTokens(), { ok: true }));
    app.post(`${p}/expire-query-cursors`, async () => (this.expireQueryCursors(), { ok: true }));
  }
}

/** The vanilla lead status a conversion sets (the converted value of the Lead Status picklist). */
const CONVERTED_LEAD_STATUS = 'Closed - Converted';

/** Lead fields a conversion copies to the new Contact (the standard lead field mapping). */
const LEAD_TO_CONTACT: ReadonlyArray<readonly [string, string]> = [
  ['Salutation', 'Salutation'],
  ['FirstName', 'FirstName'],
  ['LastName', 'LastName'],
  ['Title', 'Title'],
  ['Email', 'Email'],
  ['Phone', 'Phone'],
  ['MobilePhone', 'MobilePhone'],
  ['Fax', 'Fax'],
  ['LeadSource', 'LeadSource'],
  ['Description', 'Description'],
  ['HasOptedOutOfEmail', 'HasOptedOutOfEmail'],
  ['HasOptedOutOfFax', 'HasOptedOutOfFax'],
  ['DoNotCall', 'DoNotCall'],
  ['Street', 'MailingStreet'],
  ['City', 'MailingCity'],
  ['State', 'MailingState'],
  ['PostalCode', 'MailingPostalCode'],
  ['Country', 'MailingCountry'],
];

function contactFromLead(lead: Record<string, Value>): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const [from, to] of LEAD_TO_CONTACT) {
    const v = lead[from];
    if (v !== null && v !== undefined) out[to] = v;
  }
  return out;
}

/** 414 when the URI alone is over the limit, 431 when the headers push the request head over it. */
function headTooLarge(req: FastifyRequest): 414 | 431 | undefined {
  const uriBytes = Buffer.byteLength(req.raw.url ?? '');
  if (uriBytes > MAX_REQUEST_HEAD_BYTES) return 414;
  let total = uriBytes;
  const raw = req.raw.rawHeaders;
  for (let i = 0; i < raw.length; i += 2)
    total += Buffer.byteLength(raw[i] ?? '') + Buffer.byteLength(raw[i + 1] ?? '') + 4;
  return total > MAX_REQUEST_HEAD_BYTES ? 431 : undefined;
}

function kindOf(method: string, parts: string[]): RequestKind {
  const [, head, type, sub] = parts;
  if (head === undefined) return 'resources';
  if (head === 'limits') return 'limits';
  if (head === 'query' || head === 'queryAll') return parts.length > 2 ? 'queryMore' : 'query';
  // sObject Collections: `composite/sobjects` writes (create, update, delete); `composite/sobjects/<Type>` reads.
  if (head === 'composite') return sub === undefined ? 'collections' : 'retrieve';
  if (head === 'jobs') return 'bulk';
  if (head === 'sobjects') {
    if (type === undefined || sub === 'describe') return 'describe';
    if (sub === 'updated') return 'updated';
    if (sub === 'deleted') return 'deleted';
    if (sub === undefined && method !== 'POST') return 'describe';
    return method === 'GET' || method === 'HEAD' ? 'sobjectRead' : 'sobjectWrite';
  }
  return 'other';
}

function jsonValue(text: string): unknown {
  try {
    return JSON.parse(text === '' ? 'null' : text) as unknown;
  } catch (error) {
    throw new ApiError(
      400,
      'JSON_PARSER_ERROR',
      `Unexpected character in the request body: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function jsonObject(text: string): Record<string, unknown> {
  const v = jsonValue(text);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ApiError(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object');
  }
  return v as Record<string, unknown>;
}

/** A single-record write's failure: 400 with the record's errors as the error array. */
function recordFailure(errors: Parameters<typeof recordErrorsToApi>[0]): ApiError {
  const [first] = errors;
  const error = new ApiError(400, first?.statusCode ?? 'UNKNOWN_EXCEPTION', first?.message ?? '');
  Object.defineProperty(error, 'body', { value: () => recordErrorsToApi(errors) });
  return error;
}
