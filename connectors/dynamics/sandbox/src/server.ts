/**
 * `DataverseSandbox`: Entra ID and the Dataverse Web API on one HTTPS listener (Fastify), with a certificate signed
 * by a private CA made at start, because msal-node only accepts HTTPS authorities. Service protection (requests
 * per window per user, concurrency), fault injection (including a gateway in front of the Web API that refuses
 * long URLs) and control hooks (methods and `/__sandbox/...` routes for another process) sit around the models in
 * `dataverse.ts` and `entra.ts`.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { SandboxStartOptions } from '@tandem/core/plugin';
import { samplePeople, SANDBOX_SEED, type SamplePerson } from '@tandem/core/testing';
import { makeCertificates } from './cert';
import { API_PATH, DataverseModel, errorResponse, type DvResponse } from './dataverse';
import { EntraModel } from './entra';
import { isEntityName, type EntityName } from './schema';
import { SandboxStore, type BusinessRule, type ColumnGrant, type Row, type Value } from './store';

export interface SandboxLimits {
  /** Requests per user per window before 429 (Dataverse: 6000 per 300 s). */
  requestsPerWindow: number;
  windowMs: number;
  /** Concurrent requests per user before 429 (Dataverse: 52). */
  maxConcurrent: number;
}

export interface DataverseSandboxOptions {
  host?: string;
  port?: number;
  seed?: boolean;
  logger?: SandboxStartOptions['logger'];
  /** Add what a vanilla org lacks (Marketo's `mkt_leadscore` column, under field security). Off by default. */
  extras?: boolean;
  /** The organisation id WhoAmI answers (`OrganizationId`); a new one at every start unless given. */
  instanceId?: string;
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  tokenLifetimeSeconds?: number;
  limits?: Partial<SandboxLimits>;
  changeTracking?: Partial<Record<EntityName, boolean>>;
}

export interface StartedSandbox {
  /** The organisation URL; the Web API is at `<url>/api/data/v9.2`. */
  url: string;
  /** The connection's documented variables (DYNAMICS_URL, DYNAMICS_TENANT_ID, ...) pointing at this sandbox. */
  env: Record<string, string>;
  /** The organisation id (WhoAmI's `OrganizationId`). */
  instanceId: string;
  /** The Entra host (the same listener): tokens at `<authorityHost>/<tenant>/oauth2/v2.0/token`. */
  authorityHost: string;
  /** PEM of the private CA that signed the listener's certificate, to trust explicitly. */
  caPem: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
  close(): Promise<void>;
}

export type MalformedKind = 'truncated-json' | 'html-502' | 'html-200';

export interface SandboxFaults {
  /** The next N Web API requests answer 429 with this Retry-After (seconds). */
  throttleRequests?: number;
  /** The next N operations inside `$batch` requests answer 429 without running. */
  throttleBatchOps?: number;
  retryAfterSeconds?: number;
  /** Every Nth Web API request fails with `failStatus` (default 503). 0 turns it off. */
  failEvery?: number;
  failStatus?: number;
  /** Added to every Web API response. */
  latencyMs?: number;
  /** The next N Web API responses are replaced by a malformed body. */
  malformed?: number;
  malformedKind?: MalformedKind;
  /**
   * A proxy or gateway in front of the Web API that allows URLs (path and query) of at most this many characters,
   * less than Dataverse's 32 KB; 0 turns it off. Past it, it answers `gatewayAnswer`.
   */
  gatewayMaxUrl?: number;
  /** 414 URI Too Long, 431 Request Header Fields Too Large, or `close`: the connection is closed with no answer. */
  gatewayAnswer?: 414 | 431 | 'close';
  /** Added to every token request (Entra ID answering slowly). */
  tokenLatencyMs?: number;
  /**
   * Shares (0..1) of Web API requests answered 429 with `Retry-After: retryAfterSeconds` (service protection, as a
   * busy org answers: https://learn.microsoft.com/power-apps/developer/data-platform/api-limits), and `failStatus`
   * (an unexpected error), each drawn at random per request from a generator seeded with `faultSeed`. Such a
   * request does not reach the Web API: nothing of it is applied.
   */
  throttleShare?: number;
  failShare?: number;
  faultSeed?: number;
  /**
   * Added to every request that writes (POST, PATCH, DELETE, a `$batch` holding one) after it has been applied, as a
   * large `$batch` takes its time to answer: a client that dies meanwhile never learns what was written.
   */
  writeLatencyMs?: number;
}

export interface SandboxCounters {
  /** HTTP requests to the Web API (a `$batch` counts once). */
  requests: number;
  tokenRequests: number;
  batches: number;
  /** Operations run inside `$batch` requests. */
  operations: number;
  /** 429 answers, for whole requests and for operations inside batches. */
  throttled: number;
  unauthorized: number;
  /** Requests the gateway in front of the Web API refused for their URL length (they never reach it). */
  gatewayRefused: number;
  /** Writing requests applied whose answer `writeLatencyMs` still holds back (not reset). */
  writesAnswering: number;
  /** Web API requests by their first path segment (`contacts`, `$batch`, `EntityDefinitions`, `WhoAmI`, ...). */
  byResource: Record<string, number>;
}

/** A record as the control hooks show it: its id, etag and every column. */
export interface SandboxRecord {
  id: string;
  etag: string;
  values: Record<string, Value>;
}

function view(row: Row): SandboxRecord {
  return { id: row.id, etag: `W/"${row.version}"`, values: { ...row.values } };
}

const HTML_PAGE =
  '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>The proxy server received an invalid response from an upstream server.</p></body></html>';

/**
 * The Dataverse columns of a sample person, as a contact or a lead (seeding, the CLI, benchmarks); with `extras`,
 * also the columns only an org with Marketo's solution has. Lead source 8 is "Web" on lead (contact's lead source
 * has one option only).
 */
export function sampleColumns(p: SamplePerson, entity: EntityName, extras = false): Record<string, Value> {
  return {
    firstname: p.firstName,
    lastname: p.lastName,
    emailaddress1: p.email,
    jobtitle: p.title,
    telephone1: p.phone,
    address1_city: p.city,
    address1_country: p.country,
    ...(extras ? { mkt_leadscore: (p.index * 37) % 100 } : {}),
    ...(entity === 'lead' ? { companyname: p.company, subject: `${p.company} interest`, leadsourcecode: 8 } : {}),
  };
}

/**
 * The longest URL Dataverse accepts (learn.microsoft.com, "Compose HTTP requests and handle errors": 32 KB,
 * 32,768 characters); longer ones are refused before they reach the Web API.
 */
const MAX_URL_CHARS = 32_768;

const NO_FAULTS: Required<
  Omit<SandboxFaults, 'throttleBatchOps' | 'retryAfterSeconds' | 'malformedKind' | 'faultSeed'>
> = {
  throttleRequests: 0,
  throttleShare: 0,
  failShare: 0,
  writeLatencyMs: 0,
  failEvery: 0,
  failStatus: 503,
  latencyMs: 0,
  malformed: 0,
  gatewayMaxUrl: 0,
  gatewayAnswer: 414,
  tokenLatencyMs: 0,
};

export class DataverseSandbox {
  readonly store: SandboxStore;
  readonly limits: SandboxLimits;
  private readonly faults: Required<Omit<SandboxFaults, 'throttleBatchOps' | 'faultSeed'>> = {
    ...NO_FAULTS,
    retryAfterSeconds: 1,
    malformedKind: 'truncated-json',
  };
  /** The generator of `throttleShare` and `failShare` draws (reset by `faultSeed`). */
  private draw: () => number = Math.random;
  private readonly counters = { requests: 0, unauthorized: 0, throttled: 0, gatewayRefused: 0, writesAnswering: 0 };
  private readonly byResource = new Map<string, number>();
  private readonly windows = new Map<string, number[]>();
  private readonly inFlight = new Map<string, number>();
  private readonly dataverse: DataverseModel;
  private readonly entra: EntraModel;
  private app: FastifyInstance | undefined;
  private origin = '';
  /** Paths msal-node or a client asked for that the sandbox does not model (for diagnosing new MSAL versions). */
  readonly unknownRequests: string[] = [];
  readonly settings: Required<
    Pick<DataverseSandboxOptions, 'tenantId' | 'clientId' | 'clientSecret' | 'username' | 'password'>
  >;

  constructor(private readonly options: DataverseSandboxOptions = {}) {
    this.store = new SandboxStore({ extras: options.extras, organizationId: options.instanceId });
    this.limits = { requestsPerWindow: 6000, windowMs: 300_000, maxConcurrent: 52, ...options.limits };
    this.settings = {
      tenantId: options.tenantId ?? '8a3c5e2f-0d4b-4c6e-9f1a-2b7d8e9f0a1b',
      clientId: options.clientId ?? '5f2d9c1e-7b3a-4e8f-a6d0-1c2b3a4d5e6f',
      clientSecret: options.clientSecret ?? `sandbox-secret-${randomUUID()}`,
      username: options.username ?? 'tandem.sync@contoso.onmicrosoft.com',
      password: options.password ?? `Sandbox-${randomUUID()}`,
    };
    for (const [entity, on] of Object.entries(options.changeTracking ?? {})) {
      if (isEntityName(entity) && on !== undefined) this.store.changeTracking.set(entity, on);
    }
    this.dataverse = new DataverseModel(this.store, () => this.origin);
    this.entra = new EntraModel(
      {
        ...this.settings,
        resource: () => this.origin,
        authorityHost: () => this.origin,
        tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599,
      },
      this.store.users,
    );
  }

  async start(): Promise<StartedSandbox> {
    const host = this.options.host ?? '127.0.0.1';
    const certs = await makeCertificates(host);
    const app = Fastify({
      // Node's HTTP parser counts the request line as header bytes (16 KB by default); Dataverse takes URLs up
      // to 32 KB, which `webApi` enforces itself.
      https: { key: certs.key, cert: certs.cert, maxHeaderSize: 2 * MAX_URL_CHARS },
      logger: false,
      bodyLimit: 64 * 1024 * 1024,
      // Dataverse error bodies, not Fastify's, for every content type: parse nothing, keep the text.
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    this.routes(app);
    await app.listen({ host, port: this.options.port ?? 0 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    this.origin = `https://${host}:${port}`;
    this.app = app;
    if (this.options.seed) this.seed();
    return {
      url: this.origin,
      env: {
        DYNAMICS_URL: this.origin,
        DYNAMICS_TENANT_ID: this.settings.tenantId,
        DYNAMICS_CLIENT_ID: this.settings.clientId,
        DYNAMICS_CLIENT_SECRET: this.settings.clientSecret,
        DYNAMICS_AUTHORITY_HOST: this.origin,
      },
      instanceId: this.store.organizationId,
      authorityHost: this.origin,
      caPem: certs.caPem,
      ...this.settings,
      close: () => this.close(),
    };
  }

  async close(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }

  // ---- control hooks -------------------------------------------------------------------------------------

  /** Sample contacts and leads shared with the Marketo sandbox (overlapping emails). */
  seed(): void {
    const c = SANDBOX_SEED.contacts;
    for (const p of samplePeople(c.count, c.from)) this.store.insert('contact', this.sampleColumns(p, 'contact'));
    const l = SANDBOX_SEED.leads;
    for (const p of samplePeople(l.count, l.from)) this.store.insert('lead', this.sampleColumns(p, 'lead'));
  }

  /** A sample person's columns for this org (with the extras' columns only when it has them). */
  sampleColumns(p: SamplePerson, entity: EntityName): Record<string, Value> {
    return sampleColumns(p, entity, this.options.extras ?? false);
  }

  /** A record as someone makes it in the app: no validation, but only columns the table has. */
  create(entity: EntityName, values: Record<string, Value>): SandboxRecord {
    this.checkColumns(entity, values);
    return view(this.store.insert(entity, values));
  }

  /** An edit as a salesperson makes it in the app: a new version and modifiedon, no validation. */
  editRecord(entity: EntityName, id: string, fields: Record<string, Value>): SandboxRecord {
    const row = this.store.table(entity).get(id);
    if (!row) throw new Error(`${entity} ${id} does not exist`);
    this.checkColumns(entity, fields);
    return view(this.store.touch(entity, row, fields));
  }

  /** A customizer deletes a column (and its data) from the table. */
  deleteColumn(entity: EntityName, column: string): boolean {
    return this.store.dropColumn(entity, column);
  }

  private checkColumns(entity: EntityName, values: Record<string, Value>): void {
    const def = this.store.def(entity);
    const unknown = Object.keys(values).filter((name) => !def.columns.some((c) => c.name === name));
    if (unknown.length > 0) {
      throw Object.assign(new Error(`${entity} has no column ${unknown.join(', ')}`), { statusCode: 400 });
    }
  }

  deleteRecord(entity: EntityName, id: string): boolean {
    return this.store.remove(entity, id);
  }

  list(entity: EntityName): SandboxRecord[] {
    return [...this.store.table(entity).values()].map(view);
  }

  get(entity: EntityName, id: string): SandboxRecord | undefined {
    const row = this.store.table(entity).get(id);
    return row ? view(row) : undefined;
  }

  getCounters(): SandboxCounters {
    return {
      requests: this.counters.requests,
      tokenRequests: this.entra.tokenRequests,
      batches: this.dataverse.counters.batches,
      operations: this.dataverse.counters.operations,
      throttled: this.counters.throttled + this.dataverse.counters.throttled,
      unauthorized: this.counters.unauthorized,
      gatewayRefused: this.counters.gatewayRefused,
      writesAnswering: this.counters.writesAnswering,
      byResource: Object.fromEntries(this.byResource),
    };
  }

  resetCounters(): void {
    this.counters.requests = 0;
    this.counters.unauthorized = 0;
    this.counters.throttled = 0;
    this.counters.gatewayRefused = 0;
    this.byResource.clear();
    this.entra.tokenRequests = 0;
    Object.assign(this.dataverse.counters, { batches: 0, operations: 0, throttled: 0 });
  }

  addBusinessRule(rule: BusinessRule): void {
    this.store.rules.push(rule);
  }

  clearBusinessRules(): void {
    this.store.rules.length = 0;
  }

  /** Column security for the app user or the ROPC user (a field security profile's permission). */
  setFieldSecurity(user: 'app' | 'ropc', entity: EntityName, column: string, grant: ColumnGrant): void {
    this.store.grant(user, entity, column, grant);
  }

  setChangeTracking(entity: EntityName, enabled: boolean): void {
    this.store.changeTracking.set(entity, enabled);
  }

  setClockSkew(ms: number): void {
    this.store.clockSkewMs = ms;
  }

  setLimits(limits: Partial<SandboxLimits>): void {
    Object.assign(this.limits, limits);
    this.windows.clear();
  }

  /** Every delta token handed out so far expires, as after `ExpireChangeTrackingInDays`. */
  expireDeltaTokens(): void {
    // Tokens issued so far carry a version below the new floor; the version moves with it (no row changes), so
    // tokens issued from now on are accepted, as Dataverse accepts fresh tokens after old ones expired.
    this.store.version += 1;
    this.store.deltaTokensValidFrom = this.store.version;
  }

  /** Every token issued so far stops working (401 ExpiredAuthTicket) until the client gets a new one. */
  expireTokens(): void {
    this.entra.expireAll();
  }

  /** Every access token Entra ID handed out so far (a test scanning logs and answers for leaked credentials). */
  issuedTokens(): string[] {
    return [...this.entra.tokens.keys()];
  }

  injectFaults(faults: SandboxFaults): void {
    const { throttleBatchOps, faultSeed, ...rest } = faults;
    if (faultSeed !== undefined) this.draw = seededRandom(faultSeed);
    Object.assign(this.faults, Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)));
    if (throttleBatchOps !== undefined) this.dataverse.batchFaults.throttleOps = throttleBatchOps;
    this.dataverse.batchFaults.retryAfterSeconds = this.faults.retryAfterSeconds;
  }

  clearFaults(): void {
    Object.assign(this.faults, NO_FAULTS);
    this.dataverse.batchFaults.throttleOps = 0;
  }

  // ---- HTTP ----------------------------------------------------------------------------------------------

  private send(reply: FastifyReply, r: DvResponse): FastifyReply {
    return reply.code(r.status).headers(r.headers).send(r.body);
  }

  private routes(app: FastifyInstance): void {
    app.post('/:tenant/oauth2/v2.0/token', async (req, reply) => {
      const { tenant } = req.params as { tenant: string };
      const form = new URLSearchParams(typeof req.body === 'string' ? req.body : '');
      let basic: { id: string; secret: string } | undefined;
      const auth = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      if (auth?.[1]) {
        const [id = '', secret = ''] = Buffer.from(auth[1], 'base64').toString('utf8').split(':');
        basic = { id: decodeURIComponent(id), secret: decodeURIComponent(secret) };
      }
      const r = this.entra.token(tenant, form, basic);
      if (this.faults.tokenLatencyMs > 0) {
        // Counted (above) on arrival, answered late; a client that gives up closes the socket and ends the wait.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.faults.tokenLatencyMs);
          req.raw.socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return reply.code(r.status).header('cache-control', 'no-store').send(r.body);
    });
    app.get('/:tenant/v2.0/.well-known/openid-configuration', async (req, reply) => {
      const r = this.entra.openidConfiguration((req.params as { tenant: string }).tenant);
      return reply.code(r.status).send(r.body);
    });
    app.get('/common/discovery/instance', async (_req, reply) => reply.send(this.entra.instanceDiscovery().body));
    app.all(`${API_PATH}*`, (req, reply) => this.webApi(req, reply));
    this.controlRoutes(app);
    app.setNotFoundHandler((req, reply) => {
      this.unknownRequests.push(`${req.method} ${req.url}`);
      this.options.logger?.warn({ method: req.method, url: req.url }, 'sandbox: unmodelled request');
      return reply
        .code(404)
        .send({ error: { code: '0x8006088a', message: `Resource not found for the segment '${req.url}'.` } });
    });
  }

  private async webApi(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const gatewayMax = this.faults.gatewayMaxUrl;
    if (gatewayMax > 0 && req.url.length > gatewayMax) {
      // Not Dataverse: a proxy in front of it with a smaller limit. It answers with its own page, or drops the
      // connection without a word, as some load balancers do with a request line they will not take.
      this.counters.gatewayRefused += 1;
      const answer = this.faults.gatewayAnswer;
      if (answer === 'close') {
        reply.hijack();
        req.raw.socket.destroy();
        return reply;
      }
      return reply
        .code(answer)
        .header('content-type', 'text/html')
        .send(
          `<html><head><title>${answer} ${answer === 414 ? 'Request-URI Too Large' : 'Request Header Or Cookie Too Large'}</title></head><body></body></html>`,
        );
    }
    this.counters.requests += 1;
    const n = this.counters.requests;
    const resource = decodeURIComponent(req.url.slice(API_PATH.length).split(/[?(/]/)[0] ?? '');
    this.byResource.set(resource, (this.byResource.get(resource) ?? 0) + 1);
    if (this.origin.length + req.url.length > MAX_URL_CHARS) {
      // Microsoft documents the limit, not the answer; HTTP's own for it is 414, and the front end (not the Web
      // API) refuses, so the body is not an OData error.
      return reply
        .code(414)
        .header('content-type', 'text/html')
        .send('<h2>Bad Request - Request URL Too Long</h2><p>HTTP Error 414. The request URL is too long.</p>');
    }
    if (this.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.faults.latencyMs));
    const auth = this.entra.authenticate(req.headers.authorization);
    if ('error' in auth) {
      this.counters.unauthorized += 1;
      return this.send(
        reply,
        errorResponse(401, '0x80040220', `${auth.error}: the access token is missing, invalid or expired.`, {
          'www-authenticate': `Bearer authorization_uri=${this.origin}/${this.settings.tenantId}/oauth2/authorize, resource_id=${this.origin}`,
        }),
      );
    }
    const user = auth.user;
    const throttle = (code: string, message: string, seconds: number) => {
      this.counters.throttled += 1;
      return this.send(reply, errorResponse(429, code, message, { 'retry-after': String(seconds) }));
    };
    // Service protection: concurrency fails at once; the request count over a sliding window per user.
    const inFlight = (this.inFlight.get(user.id) ?? 0) + 1;
    if (inFlight > this.limits.maxConcurrent) {
      return throttle(
        '0x80072326',
        `Number of concurrent requests exceeded the limit of ${this.limits.maxConcurrent}.`,
        1,
      );
    }
    const now = Date.now();
    const window = (this.windows.get(user.id) ?? []).filter((t) => t > now - this.limits.windowMs);
    this.windows.set(user.id, window);
    if (window.length >= this.limits.requestsPerWindow) {
      const wait = Math.max(1, Math.ceil(((window[0] ?? now) + this.limits.windowMs - now) / 1000));
      return throttle(
        '0x80072322',
        `Number of requests exceeded the limit of ${this.limits.requestsPerWindow} over time window of ${this.limits.windowMs / 1000} seconds.`,
        wait,
      );
    }
    window.push(now);
    if (this.faults.throttleRequests > 0) {
      this.faults.throttleRequests -= 1;
      return throttle(
        '0x80072322',
        'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
        this.faults.retryAfterSeconds,
      );
    }
    // One draw per request decides both shares, so that together they never pass 1.
    const r = this.faults.throttleShare > 0 || this.faults.failShare > 0 ? this.draw() : 1;
    if (r < this.faults.throttleShare) {
      return throttle(
        '0x80072322',
        'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
        this.faults.retryAfterSeconds,
      );
    }
    if (r < this.faults.throttleShare + this.faults.failShare) {
      return this.send(
        reply,
        errorResponse(this.faults.failStatus, '0x80040216', 'An unexpected error occurred (injected fault).'),
      );
    }
    if (this.faults.failEvery > 0 && n % this.faults.failEvery === 0) {
      return this.send(
        reply,
        errorResponse(this.faults.failStatus, '0x80040216', 'An unexpected error occurred (injected fault).'),
      );
    }
    if (this.faults.malformed > 0) {
      this.faults.malformed -= 1;
      const kind = this.faults.malformedKind;
      if (kind === 'truncated-json') {
        return reply
          .code(200)
          .header('content-type', 'application/json; odata.metadata=minimal')
          .send('{"@odata.context":"x","value":[{"contactid":');
      }
      return reply
        .code(kind === 'html-502' ? 502 : 200)
        .header('content-type', 'text/html')
        .send(HTML_PAGE);
    }
    this.inFlight.set(user.id, inFlight);
    try {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const target = req.url.slice(req.url.indexOf(API_PATH) + API_PATH.length);
      const body = typeof req.body === 'string' ? req.body : '';
      const r = this.dataverse.handle({ method: req.method, target, headers, body, user });
      if (this.faults.writeLatencyMs > 0 && writes(req.method, target, body)) {
        this.counters.writesAnswering += 1;
        await new Promise((resolve) => setTimeout(resolve, this.faults.writeLatencyMs));
        this.counters.writesAnswering -= 1;
      }
      return this.send(reply, r);
    } finally {
      this.inFlight.set(user.id, (this.inFlight.get(user.id) ?? 1) - 1);
    }
  }

  private controlRoutes(app: FastifyInstance): void {
    const entityOf = (req: FastifyRequest): EntityName => {
      const { entity } = req.params as { entity: string };
      if (!isEntityName(entity)) throw Object.assign(new Error(`unknown entity '${entity}'`), { statusCode: 404 });
      return entity;
    };
    const body = (req: FastifyRequest): Record<string, unknown> => {
      const text = typeof req.body === 'string' && req.body ? req.body : '{}';
      try {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed === 'object' && parsed !== null) return parsed as Record<string, unknown>;
      } catch {
        // fall through
      }
      throw Object.assign(new Error('body must be a JSON object'), { statusCode: 400 });
    };
    const p = '/__sandbox';
    app.post(`${p}/seed`, async () => (this.seed(), { ok: true }));
    app.get(`${p}/counters`, async () => this.getCounters());
    app.post(`${p}/counters/reset`, async () => (this.resetCounters(), { ok: true }));
    app.get(`${p}/records/:entity`, async (req) => this.list(entityOf(req)));
    app.get(`${p}/records/:entity/:id`, async (req, reply) => {
      const r = this.get(entityOf(req), (req.params as { id: string }).id);
      return r ?? reply.code(404).send({ error: 'not found' });
    });
    app.post(`${p}/records/:entity`, async (req) => this.create(entityOf(req), body(req) as Record<string, Value>));
    app.patch(`${p}/records/:entity/:id`, async (req) =>
      this.editRecord(entityOf(req), (req.params as { id: string }).id, body(req) as Record<string, Value>),
    );
    app.delete(`${p}/records/:entity/:id`, async (req) => ({
      deleted: this.deleteRecord(entityOf(req), (req.params as { id: string }).id),
    }));
    app.post(`${p}/rules`, async (req) => (this.addBusinessRule(body(req) as unknown as BusinessRule), { ok: true }));
    app.delete(`${p}/rules`, async () => (this.clearBusinessRules(), { ok: true }));
    app.put(`${p}/field-security/:user/:entity/:column`, async (req) => {
      const { user, column } = req.params as { user: string; column: string };
      if (user !== 'app' && user !== 'ropc') throw Object.assign(new Error('user is app or ropc'), { statusCode: 400 });
      const b = body(req);
      this.setFieldSecurity(user, entityOf(req), column, {
        read: b.read === true,
        create: b.create === true,
        update: b.update === true,
      });
      return { ok: true };
    });
    app.put(
      `${p}/change-tracking/:entity`,
      async (req) => (this.setChangeTracking(entityOf(req), body(req).enabled === true), { ok: true }),
    );
    app.put(`${p}/limits`, async (req) => (this.setLimits(body(req) as Partial<SandboxLimits>), { ok: true }));
    app.post(`${p}/faults`, async (req) => (this.injectFaults(body(req) as SandboxFaults), { ok: true }));
    app.delete(`${p}/faults`, async () => (this.clearFaults(), { ok: true }));
    app.post(`${p}/expire-tokens`, async () => (this.expireTokens(), { ok: true }));
    app.post(`${p}/expire-delta-tokens`, async () => (this.expireDeltaTokens(), { ok: true }));
    app.put(`${p}/clock-skew`, async (req) => (this.setClockSkew(Number(body(req).ms ?? 0)), { ok: true }));
    app.delete(`${p}/columns/:entity/:column`, async (req) => ({
      deleted: this.deleteColumn(entityOf(req), (req.params as { column: string }).column),
    }));
    app.get(`${p}/entities`, async () => Object.keys(this.store.defs));
  }
}

/** Whether a Web API request writes: any method but GET, except a `$batch` of GETs only. */
function writes(method: string, target: string, body: string): boolean {
  if (method === 'GET') return false;
  if (!/^\/?\$batch/.test(target)) return true;
  return /^(POST|PATCH|PUT|DELETE) /m.test(body);
}

/** A small seeded generator of numbers in [0, 1) (mulberry32): fault draws a test can replay. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
