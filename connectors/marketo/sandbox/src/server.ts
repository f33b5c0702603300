/**
 * The Marketo sandbox: a Fastify server speaking the documented REST protocol over `SandboxStore`, with the
 * instance-wide limits (606/615/607), token expiry (601/602), the 8 KB URI limit (414), and fault injection and
 * control hooks under `/__sandbox/...` so tests and other processes can drive it.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import type { RunningSandbox } from '@tandem/core/plugin';
import { makeCertificate } from './cert';
import { failure, success, type SuccessBody, MarketoApiError } from './envelope';
import { LeadSchema } from './fields';
import * as routes from './routes';
import { SandboxStore, type SandboxValue } from './store';

export interface SandboxLimits {
  /** Calls per rolling window: 100 per 20 s per instance (rest-api.md, "Quotas and limits"); 606 beyond. */
  callsPerWindow: number;
  windowMs: number;
  /** Calls in progress at once: 10 (615 beyond). */
  maxConcurrent: number;
  /** Calls per day, reset at midnight US Central: 50,000 (607 beyond). */
  dailyQuota: number;
  /** Longest request URI: 8 KB (414 beyond; error-codes.md, "HTTP-Level errors"). */
  maxUriBytes: number;
}

export interface SandboxFaults {
  /** Answer every Nth REST call with `code` (≥600: a response-level error; else that HTTP status). */
  failEvery?: { n: number; code: number; message?: string } | null;
  /** Every Nth REST call answers a truncated, unparseable JSON body. */
  malformedEvery?: number | null;
  /** The next N Sync Leads calls (writes) answer 604 "Request timed out", reads going on as usual. */
  failWrites?: number;
  /** Added to every REST call, inside the concurrency window. */
  latencyMs?: number;
  /** Added to every token request. */
  tokenLatencyMs?: number;
  /** The token endpoint answers an HTML page (a proxy's login or maintenance page). */
  tokenHtml?: boolean;
  /** Enforce the rate, concurrency and quota limits (on by default). */
  throttle?: boolean;
  /**
   * Each REST call that passes authentication is answered with one of these codes with its probability (`share`,
   * 0..1), drawn from a generator seeded with `seed` (the same seed, the same sequence of draws): a rate limit (606)
   * or a server error as they come in bursts on a busy instance. Codes as in `failEvery`; charged the same way.
   */
  randomFailures?: { seed: number; codes: Array<{ code: number; share: number }> } | null;
}

export interface MarketoSandboxOptions {
  clientId?: string;
  clientSecret?: string;
  limits?: Partial<SandboxLimits>;
  /** Access token lifetime in seconds (Marketo: 3600). */
  tokenTtlSeconds?: number;
  /** Add what a vanilla instance lacks (see `fields.ts`). */
  extras?: boolean;
  /**
   * The id of the first person created (1). Marketo's ids are integers that grow, with no promised start: the
   * docs' examples show ids such as 318581, and an instance whose first leads were deleted starts higher too.
   */
  firstLeadId?: number;
}

export interface MarketoStartOptions {
  host?: string;
  /** 0 or unset: a free port. */
  port?: number;
  seed?: boolean;
  /** How many sample people to seed (default 300: `SANDBOX_SEED.people`). */
  people?: number;
  limits?: Partial<SandboxLimits>;
  /** Serve HTTPS: `true` with a private CA made at start (its PEM is `caPem`), or this key and certificate. */
  https?: true | { key: string; cert: string };
  tokenTtlSeconds?: number;
}

export interface SandboxCounters {
  /** REST calls received, whatever they were answered (414 included). */
  restCalls: number;
  identityCalls: number;
  byEndpoint: Record<string, number>;
  byErrorCode: Record<string, number>;
  throttled606: number;
  concurrency615: number;
  quota607: number;
  maxInFlight: number;
  /** Person records sent to `POST /v1/leads.json` by calls that passed the limits (benchmarks). */
  recordsWritten: number;
}

const INVALID_JSON = Symbol('invalid-json');
const INVALID_CONTENT_TYPE = Symbol('invalid-content-type');

/** The documented environment of the Marketo connection (CONTRACT.md), pointed at this sandbox. */
export const ENV = {
  baseUrl: 'MARKETO_BASE_URL',
  clientId: 'MARKETO_CLIENT_ID',
  clientSecret: 'MARKETO_CLIENT_SECRET',
} as const;

/** The API-only user the custom service belongs to: Identity answers it as `scope` (authentication.md). */
export const API_USER = 'tandem-api@example.com';

function isForm(req: FastifyRequest): boolean {
  return String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  callsPerWindow: 100,
  windowMs: 20_000,
  maxConcurrent: 10,
  dailyQuota: 50_000,
  maxUriBytes: 8 * 1024,
};

/**
 * Codes whose calls count neither toward the daily quota nor the rate limit (the starred codes of
 * error-codes.md); every other answer counts, 606 and 615 included.
 */
const UNCOUNTED_CODES = new Set(['601', '602', '604', '605', '608', '611']);

/** The calendar day in US Central time, when Marketo's daily quota resets (error-codes.md, 607). */
const centralDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Chicago' });

type Handler = (req: routes.RestRequest) => SuccessBody;

/** Sync Leads, the endpoint that writes persons (as `rest` names endpoints). */
const SYNC_LEADS = 'POST /v1/leads.json';

export class MarketoSandbox {
  readonly store: SandboxStore;
  readonly clientId: string;
  readonly clientSecret: string;
  limits: SandboxLimits;
  faults: Required<{ [K in keyof SandboxFaults]: Exclude<SandboxFaults[K], undefined> }> = {
    failEvery: null,
    malformedEvery: null,
    failWrites: 0,
    latencyMs: 0,
    tokenLatencyMs: 0,
    tokenHtml: false,
    throttle: true,
    randomFailures: null,
  };
  /** The generator of `randomFailures`' draws (reset whenever they are set). */
  private draw: () => number = Math.random;
  counters: SandboxCounters = MarketoSandbox.emptyCounters();
  private tokenTtlMs: number;
  private token: { value: string; expiresAt: number } | undefined;
  private readonly knownTokens = new Map<string, number>();
  private window: number[] = [];
  private quota = { day: '', used: 0 };
  private inFlight = 0;
  private app: FastifyInstance | undefined;

  constructor(options: MarketoSandboxOptions = {}) {
    this.clientId = options.clientId ?? randomUUID();
    this.clientSecret = options.clientSecret ?? randomUUID().replace(/-/g, '');
    this.limits = { ...DEFAULT_SANDBOX_LIMITS, ...options.limits };
    this.tokenTtlMs = (options.tokenTtlSeconds ?? 3600) * 1000;
    this.store = new SandboxStore(new LeadSchema(options.extras ?? false), options.firstLeadId);
  }

  static emptyCounters(): SandboxCounters {
    return {
      restCalls: 0,
      identityCalls: 0,
      byEndpoint: {},
      byErrorCode: {},
      throttled606: 0,
      concurrency615: 0,
      quota607: 0,
      maxInFlight: 0,
      recordsWritten: 0,
    };
  }

  /**
   * Listens and answers what a Marketo connection needs: the base URL, the documented environment variables
   * with this sandbox's credentials, and its instance id. Marketo has no call that names an instance; an
   * instance is named by its REST host (`https://<munchkin>.mktorest.com`), so a sandbox is named by its origin,
   * which is what the connector's `check()` reports for it.
   */
  async start(options: MarketoStartOptions = {}): Promise<RunningSandbox> {
    if (options.limits) this.setLimits(options.limits);
    if (options.tokenTtlSeconds !== undefined) this.tokenTtlMs = options.tokenTtlSeconds * 1000;
    if (options.seed) this.store.seed(options.people);
    const host = options.host ?? '127.0.0.1';
    const tls = options.https === true ? await makeCertificate(host) : options.https;
    const app = this.build(tls);
    this.app = app;
    await app.listen({ host, port: options.port ?? 0 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return {
      url,
      env: { [ENV.baseUrl]: url, [ENV.clientId]: this.clientId, [ENV.clientSecret]: this.clientSecret },
      ...(tls ? { caPem: tls.cert } : {}),
      instanceId: new URL(url).origin,
      close: () => this.close(),
    };
  }

  async close(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }

  // ---- control hooks -------------------------------------------------------------------------------------

  seed(count?: number, from?: number) {
    return this.store.seed(count, from);
  }
  createPerson(fields: Record<string, SandboxValue>) {
    return this.store.createPerson(fields);
  }
  /** Edits a person as a marketer would in the UI: recorded as Change Data Value activities. */
  editPerson(id: number, fields: Record<string, SandboxValue>) {
    return this.store.editPerson(id, fields);
  }
  deletePerson(id: number) {
    return this.store.deletePerson(id);
  }
  /** Hides a lead field, as an admin can (fields are never deleted): gone from Describe, 1006 when used. */
  hideField(name: string): boolean {
    return this.store.schema.hide(name);
  }
  listPersons() {
    return [...this.store.persons.values()];
  }
  getPerson(id: number) {
    return this.store.persons.get(id);
  }
  activityLog(id: number) {
    return this.store.activities.filter((a) => a.leadId === id);
  }
  /** Every access token handed out so far (a test scanning logs and answers for leaked credentials). */
  issuedTokens(): string[] {
    return [...this.knownTokens.keys()];
  }
  expireTokens(): void {
    for (const token of this.knownTokens.keys()) this.knownTokens.set(token, 0);
    this.token = undefined;
  }
  /** Revokes every token: they become unknown (601) rather than expired (602). */
  revokeTokens(): void {
    this.knownTokens.clear();
    this.token = undefined;
  }
  setLimits(limits: Partial<SandboxLimits>): void {
    this.limits = { ...this.limits, ...limits };
  }
  setFaults(faults: SandboxFaults): void {
    for (const [key, value] of Object.entries(faults)) {
      // `null` clears a fault; `undefined` leaves it as it is.
      if (value !== undefined) Object.assign(this.faults, { [key]: value });
    }
    if (faults.randomFailures) this.draw = seededRandom(faults.randomFailures.seed);
  }
  resetCounters(): void {
    this.counters = MarketoSandbox.emptyCounters();
  }
  /** Starts a new day: the daily quota comes back (Marketo resets it at midnight US Central). */
  resetQuota(): void {
    this.quota.used = 0;
  }
  /** Forgets the calls in the rolling window (as if the window had passed). */
  resetWindow(): void {
    this.window = [];
  }

  // ---- HTTP ----------------------------------------------------------------------------------------------

  private build(tls: { key: string; cert: string } | undefined): FastifyInstance {
    // Close every connection on close, even keep-alive ones a client abandoned mid-request (aborted reads).
    // Node's own header limit (16 KB) must not answer before the 8 KB URI limit below does.
    const server = { maxHeaderSize: 64 * 1024 };
    const options = { forceCloseConnections: true } as const;
    const app = (tls
      ? Fastify({ ...options, https: { ...tls, ...server } })
      : Fastify({ ...options, http: server })) as unknown as FastifyInstance;
    void app.register(formbody);
    // Marketo answers 609 for a body that is not JSON and 612 for a wrong content type, inside the envelope.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, raw, done) => {
      try {
        done(null, raw === '' ? undefined : JSON.parse(String(raw)));
      } catch {
        done(null, INVALID_JSON);
      }
    });
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, _raw, done) => done(null, INVALID_CONTENT_TYPE));

    // A request URI over the limit is answered 414 before anything else (error-codes.md, "HTTP-Level errors").
    app.addHook('onRequest', async (req, reply) => {
      if (req.url.startsWith('/__sandbox')) return;
      if (Buffer.byteLength(req.url) <= this.limits.maxUriBytes) return;
      if (req.url.startsWith('/rest/')) this.counters.restCalls++;
      this.countError('414');
      return reply.code(414).type('text/html').send('<html><body><h1>414 Request-URI Too Long</h1></body></html>');
    });

    app.route({
      method: ['GET', 'POST'],
      url: '/identity/oauth/token',
      handler: (req, reply) => this.identity(req, reply),
    });

    const readers = new Map<string, Handler>();
    const known: Array<{ method: string; url: string; pattern: RegExp }> = [];
    const rest = (method: 'GET' | 'POST', url: string, handler: Handler) => {
      if (method === 'GET') readers.set(url, handler);
      known.push({ method, url, pattern: new RegExp(`^/rest${url.replace(/\./g, '\\.').replace(/:\w+/g, '[^/]+')}$`) });
      app.route({
        method,
        url: `/rest${url}`,
        handler: (req, reply) => {
          // POST with `_method=GET` and the query form-encoded in the body: how a query longer than the URI limit
          // is sent (error-codes.md, 414; lead-database.md, "Long URIs").
          const reader =
            method === 'POST' && isObject(req.query) && req.query._method === 'GET' ? readers.get(url) : undefined;
          if (reader && isForm(req) && isObject(req.body)) {
            return this.rest(`GET ${url}`, req, reply, reader, {
              ...stringParams(req.query),
              ...stringParams(req.body),
            });
          }
          return this.rest(`${method} ${url}`, req, reply, handler);
        },
      });
    };
    const s = this.store;
    rest('GET', '/v1/leads/describe.json', () => routes.describe(s));
    rest('GET', '/v1/leads/describe2.json', () => routes.describe2(s));
    rest('GET', '/v1/leads.json', (r) => routes.getLeads(s, r));
    rest('POST', '/v1/leads.json', (r) => routes.syncLeads(s, r));
    rest('GET', '/v1/lead/:id.json', (r) => routes.getLead(s, r));
    rest('POST', '/v1/leads/delete.json', (r) => routes.deleteLeads(s, r));
    rest('GET', '/v1/activities/pagingtoken.json', (r) => routes.pagingToken(s, r));
    rest('GET', '/v1/activities/leadchanges.json', (r) => routes.leadChanges(s, r));
    rest('GET', '/v1/activities.json', (r) => routes.activities(s, r));
    rest('GET', '/v1/activities/deletedleads.json', (r) => routes.deletedLeads(s, r));
    rest('GET', '/v1/activities/types.json', () => routes.activityTypes(s));
    rest('GET', '/v1/activities/external/types.json', () => routes.customTypes(s));
    rest('POST', '/v1/activities/external/type.json', (r) => routes.createCustomType(s, r));
    rest('POST', '/v1/activities/external/type/:apiName/attributes/create.json', (r) =>
      routes.createCustomTypeAttributes(s, r),
    );
    rest('POST', '/v1/activities/external/type/:apiName/approve.json', (r) => routes.approveCustomType(s, r));
    rest('GET', '/v1/activities/external/type/:apiName/describe.json', (r) => routes.describeCustomType(s, r));
    rest('POST', '/v1/activities/external.json', (r) => routes.addCustomActivities(s, r));
    // Every read takes the POST `_method=GET` form (error-codes.md names it as the remedy for any 414; paging
    // tokens can make activity reads that long: paging-tokens.md); a POST without it is not supported.
    for (const [url, reader] of readers) {
      if (known.some((k) => k.method === 'POST' && k.url === url)) continue;
      app.post(`/rest${url}`, (req, reply) => {
        if (isObject(req.query) && req.query._method === 'GET' && isForm(req) && isObject(req.body)) {
          return this.rest(`GET ${url}`, req, reply, reader, { ...stringParams(req.query), ...stringParams(req.body) });
        }
        return this.unsupported(reply, '605');
      });
    }

    app.setNotFoundHandler((req, reply) => {
      const path = req.url.split('?')[0] ?? '';
      if (!path.startsWith('/rest/')) return reply.code(404).send({ error: 'not found' });
      // A known resource asked with another method is 605 "HTTP Method not supported"; else 610.
      return this.unsupported(reply, known.some((k) => k.pattern.test(path)) ? '605' : '610');
    });
    this.controlRoutes(app);
    return app;
  }

  /** 605 or 610, answered before auth and limits (a 605 counts toward neither: error-codes.md). */
  private unsupported(reply: FastifyReply, code: '605' | '610') {
    this.counters.restCalls++;
    this.countError(code);
    return reply.send(failure(code, code === '605' ? 'HTTP Method not supported' : 'Requested resource not found'));
  }

  private async identity(req: FastifyRequest, reply: FastifyReply) {
    this.counters.identityCalls++;
    if (this.faults.tokenLatencyMs > 0) await new Promise((r) => setTimeout(r, this.faults.tokenLatencyMs));
    if (this.faults.tokenHtml) {
      return reply.type('text/html').send('<html><body><h1>Service Unavailable</h1></body></html>');
    }
    // The Swagger declares the three parameters as query parameters, for GET and POST alike.
    const params = { ...(isObject(req.body) ? req.body : {}), ...(isObject(req.query) ? req.query : {}) };
    if (params.grant_type !== 'client_credentials') {
      return reply.code(400).send({ error: 'unsupported_grant_type', error_description: 'Unsupported grant type' });
    }
    // HTTP 401 for a bad client id or secret (error-codes.md); the body is not documented.
    if (params.client_id !== this.clientId || params.client_secret !== this.clientSecret) {
      return reply.code(401).send({ error: 'invalid_client', error_description: 'Bad client credentials' });
    }
    const now = Date.now();
    // Calling again before expiry returns the same token with its remaining lifetime (authentication.md).
    if (!this.token || this.token.expiresAt <= now) {
      this.token = { value: `${randomUUID()}:int`, expiresAt: now + this.tokenTtlMs };
      this.knownTokens.set(this.token.value, this.token.expiresAt);
    }
    return reply.send({
      access_token: this.token.value,
      token_type: 'bearer',
      expires_in: Math.max(0, Math.floor((this.token.expiresAt - now) / 1000) - 1),
      scope: API_USER,
    });
  }

  private countError(code: string): void {
    this.counters.byErrorCode[code] = (this.counters.byErrorCode[code] ?? 0) + 1;
    if (code === '606') this.counters.throttled606++;
    if (code === '615') this.counters.concurrency615++;
    if (code === '607') this.counters.quota607++;
  }

  /** Counts a call toward the rolling window and the day's quota. */
  private charge(now: number): void {
    this.window.push(now);
    this.quota.used++;
  }

  /**
   * Auth, then fault injection, then limits. Calls answered with a starred code of error-codes.md (601, 602,
   * 604, 605, 608, 611) count toward neither the window nor the quota; the rest do, 606 and 615 included.
   */
  private gate(req: FastifyRequest, endpoint: string): string | undefined {
    const header = req.headers.authorization;
    const query = isObject(req.query) ? req.query : {};
    // The header, or the `access_token` parameter that is being removed (authentication.md) but still works.
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : query.access_token;
    const expiresAt = typeof token === 'string' ? this.knownTokens.get(token) : undefined;
    if (expiresAt === undefined) return '601';
    if (expiresAt <= Date.now()) return '602';
    const now = Date.now();
    const failEvery = this.faults.failEvery;
    if (failEvery && failEvery.n > 0 && this.counters.restCalls % failEvery.n === 0) {
      const code = String(failEvery.code);
      if (!UNCOUNTED_CODES.has(code)) this.charge(now);
      return code;
    }
    const drawn = this.randomFailure();
    if (drawn !== undefined) {
      if (!UNCOUNTED_CODES.has(drawn)) this.charge(now);
      return drawn;
    }
    if (this.faults.failWrites > 0 && endpoint === SYNC_LEADS) {
      this.faults.failWrites -= 1;
      return '604';
    }
    const day = centralDay.format(now);
    if (day !== this.quota.day) this.quota = { day, used: 0 };
    if (this.faults.throttle) {
      this.window = this.window.filter((t) => t > now - this.limits.windowMs);
      if (this.quota.used >= this.limits.dailyQuota) return '607';
      if (this.window.length >= this.limits.callsPerWindow) {
        this.charge(now);
        return '606';
      }
      if (this.inFlight >= this.limits.maxConcurrent) {
        this.charge(now);
        return '615';
      }
    }
    this.charge(now);
    return undefined;
  }

  /** The code `randomFailures` answers this call with, if any (one draw per call). */
  private randomFailure(): string | undefined {
    const failures = this.faults.randomFailures;
    if (!failures) return undefined;
    let r = this.draw();
    for (const { code, share } of failures.codes) {
      if (r < share) return String(code);
      r -= share;
    }
    return undefined;
  }

  private async rest(
    endpoint: string,
    req: FastifyRequest,
    reply: FastifyReply,
    handler: Handler,
    formQuery?: Record<string, string>,
  ) {
    this.counters.restCalls++;
    this.counters.byEndpoint[endpoint] = (this.counters.byEndpoint[endpoint] ?? 0) + 1;
    const blocked = this.gate(req, endpoint);
    if (blocked !== undefined) {
      this.countError(blocked);
      const code = Number(blocked);
      if (code < 600) return reply.code(code).type('text/html').send(`<html><body>${code}</body></html>`);
      return reply.send(failure(blocked, errorMessage(blocked, this.limits, this.faults.failEvery?.message)));
    }
    this.inFlight++;
    this.counters.maxInFlight = Math.max(this.counters.maxInFlight, this.inFlight);
    try {
      if (this.faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.faults.latencyMs));
      if (req.body === INVALID_JSON) throw new MarketoApiError('609', 'Invalid JSON');
      // Form bodies (registered for the token endpoint) only carry a long query for a POST with _method=GET.
      if (req.body === INVALID_CONTENT_TYPE || (isForm(req) && !formQuery)) {
        throw new MarketoApiError('612', 'Invalid Content Type');
      }
      const sent = isObject(req.body) ? req.body.input : undefined;
      if (endpoint === SYNC_LEADS && Array.isArray(sent)) this.counters.recordsWritten += sent.length;
      const body = success(
        handler({
          query: formQuery ?? (isObject(req.query) ? req.query : {}),
          params: stringParams(req.params),
          body: formQuery ? undefined : req.body,
        }),
      );
      const every = this.faults.malformedEvery;
      if (every && every > 0 && this.counters.restCalls % every === 0) {
        return reply.type('application/json').send(JSON.stringify(body).slice(0, 25));
      }
      return reply.send(body);
    } catch (error) {
      if (!(error instanceof MarketoApiError)) throw error;
      this.countError(error.code);
      return reply.send(failure(error.code, error.message));
    } finally {
      this.inFlight--;
    }
  }

  private controlRoutes(app: FastifyInstance): void {
    const id = (req: FastifyRequest) => Number(stringParams(req.params).id);
    const fields = (req: FastifyRequest): Record<string, SandboxValue> => {
      const body = isObject(req.body) ? req.body : {};
      const values = isObject(body.fields) ? body.fields : body;
      const out: Record<string, SandboxValue> = {};
      for (const [key, value] of Object.entries(values)) {
        if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) out[key] = value as SandboxValue;
      }
      return out;
    };
    const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
    app.post('/__sandbox/seed', async (req) => {
      const body = isObject(req.body) ? req.body : {};
      return { seeded: this.seed(num(body.count), num(body.from)).length };
    });
    app.get('/__sandbox/persons', async () => this.listPersons());
    app.post('/__sandbox/persons', async (req) => this.createPerson(fields(req)));
    app.get(
      '/__sandbox/persons/:id',
      async (req, reply) => this.getPerson(id(req)) ?? reply.code(404).send({ error: 'not found' }),
    );
    app.patch(
      '/__sandbox/persons/:id',
      async (req, reply) => this.editPerson(id(req), fields(req)) ?? reply.code(404).send({ error: 'not found' }),
    );
    app.delete('/__sandbox/persons/:id', async (req) => ({ deleted: this.deletePerson(id(req)) }));
    app.get('/__sandbox/persons/:id/activities', async (req) => this.activityLog(id(req)));
    app.post('/__sandbox/fields/:name/hide', async (req, reply) =>
      this.hideField(stringParams(req.params).name ?? '')
        ? { hidden: true }
        : reply.code(404).send({ error: 'no such field' }),
    );
    app.get('/__sandbox/counters', async () => this.counters);
    app.post('/__sandbox/counters/reset', async () => {
      this.resetCounters();
      return { ok: true };
    });
    app.post('/__sandbox/tokens/expire', async () => {
      this.expireTokens();
      return { ok: true };
    });
    app.post('/__sandbox/quota/reset', async () => {
      this.resetQuota();
      return { ok: true };
    });
    app.post('/__sandbox/window/reset', async () => {
      this.resetWindow();
      return { ok: true };
    });
    app.post('/__sandbox/limits', async (req) => {
      this.setLimits(isObject(req.body) ? (req.body as Partial<SandboxLimits>) : {});
      return this.limits;
    });
    app.post('/__sandbox/faults', async (req) => {
      this.setFaults(isObject(req.body) ? (req.body as SandboxFaults) : {});
      return this.faults;
    });
  }
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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringParams(params: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(params)) for (const [k, v] of Object.entries(params)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** The messages of error-codes.md (606's template filled in as Marketo does). */
function errorMessage(code: string, limits: SandboxLimits, custom: string | undefined): string {
  if (custom) return custom;
  switch (code) {
    case '601':
      return 'Access token invalid';
    case '602':
      return 'Access token expired';
    case '604':
      return 'Request time-out';
    case '606':
      return `Max rate limit '${limits.callsPerWindow}' exceeded with in '${limits.windowMs / 1000}' secs`;
    case '607':
      return 'Daily quota reached';
    case '608':
      return 'API Temporarily Unavailable';
    case '611':
      return 'System error';
    case '615':
      return 'Concurrent access limit reached';
    default:
      return 'Injected failure';
  }
}
