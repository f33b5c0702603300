/**
 * The Marketo sandbox: a Fastify server speaking the documented REST protocol over `SandboxStore`, with the
 * instance-wide limits (606/615/607), token expiry (601/602), and fault injection and control hooks under
 * `/__sandbox/...` so tests and other processes can drive it.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import { failure, success, type SuccessBody, MarketoApiError } from './envelope';
import * as routes from './routes';
import { SandboxStore, type SandboxValue } from './store';

export interface SandboxLimits {
  callsPerWindow: number;
  windowMs: number;
  maxConcurrent: number;
  dailyQuota: number;
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
  /** The token endpoint answers an HTML page (a proxy's login or maintenance page). */
  tokenHtml?: boolean;
  /** Enforce the rate, concurrency and quota limits (on by default). */
  throttle?: boolean;
}

export interface SandboxStartOptions {
  host?: string;
  port?: number;
  seed?: boolean;
  /** How many sample people to seed (default 300: `SANDBOX_SEED.marketo`). */
  people?: number;
  limits?: Partial<SandboxLimits>;
  https?: { key: string; cert: string };
  clientId?: string;
  clientSecret?: string;
  /** Access token lifetime in seconds (Marketo: 3600). */
  tokenTtlSeconds?: number;
}

export interface SandboxCounters {
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

function isForm(req: FastifyRequest): boolean {
  return String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  callsPerWindow: 100,
  windowMs: 20_000,
  maxConcurrent: 10,
  dailyQuota: 50_000,
};

type Handler = (req: routes.RestRequest) => SuccessBody;

/** Sync Leads, the endpoint that writes persons (as `rest` names endpoints). */
const SYNC_LEADS = 'POST /v1/leads.json';

export class MarketoSandbox {
  readonly store = new SandboxStore();
  readonly clientId: string;
  readonly clientSecret: string;
  limits: SandboxLimits;
  faults: {
    failEvery: { n: number; code: number; message?: string } | null;
    malformedEvery: number | null;
    failWrites: number;
    latencyMs: number;
    tokenHtml: boolean;
    throttle: boolean;
  } = {
    failEvery: null,
    malformedEvery: null,
    failWrites: 0,
    latencyMs: 0,
    tokenHtml: false,
    throttle: true,
  };
  counters: SandboxCounters = MarketoSandbox.emptyCounters();
  private tokenTtlMs: number;
  private token: { value: string; expiresAt: number } | undefined;
  private readonly knownTokens = new Map<string, number>();
  private window: number[] = [];
  private quotaUsed = 0;
  private inFlight = 0;
  private app: FastifyInstance | undefined;

  constructor(options: Pick<SandboxStartOptions, 'clientId' | 'clientSecret' | 'limits' | 'tokenTtlSeconds'> = {}) {
    this.clientId = options.clientId ?? randomUUID();
    this.clientSecret = options.clientSecret ?? randomUUID().replace(/-/g, '');
    this.limits = { ...DEFAULT_SANDBOX_LIMITS, ...options.limits };
    this.tokenTtlMs = (options.tokenTtlSeconds ?? 3600) * 1000;
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

  async start(options: SandboxStartOptions = {}): Promise<{ url: string; close(): Promise<void> }> {
    if (options.limits) this.setLimits(options.limits);
    if (options.tokenTtlSeconds !== undefined) this.tokenTtlMs = options.tokenTtlSeconds * 1000;
    if (options.seed) this.store.seed(options.people);
    const app = this.build(options.https);
    this.app = app;
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const host = options.host ?? '127.0.0.1';
    const url = `${options.https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return { url, close: () => this.close() };
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
  listPersons() {
    return [...this.store.persons.values()];
  }
  getPerson(id: number) {
    return this.store.persons.get(id);
  }
  activityLog(id: number) {
    return this.store.activities.filter((a) => a.leadId === id);
  }
  expireTokens(): void {
    for (const token of this.knownTokens.keys()) this.knownTokens.set(token, 0);
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
  }
  resetCounters(): void {
    this.counters = MarketoSandbox.emptyCounters();
  }
  /** Starts a new day: the daily quota comes back (Marketo resets it at midnight US Central). */
  resetQuota(): void {
    this.quotaUsed = 0;
  }
  /** Forgets the calls in the rolling window (as if the window had passed). */
  resetWindow(): void {
    this.window = [];
  }

  // ---- HTTP ----------------------------------------------------------------------------------------------

  private build(https: SandboxStartOptions['https']): FastifyInstance {
    // Close every connection on close, even keep-alive ones a client abandoned mid-request (aborted reads).
    const options = { forceCloseConnections: true } as const;
    const app = (https ? Fastify({ ...options, https }) : Fastify(options)) as unknown as FastifyInstance;
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

    app.route({
      method: ['GET', 'POST'],
      url: '/identity/oauth/token',
      handler: (req, reply) => this.identity(req, reply),
    });

    const readers = new Map<string, Handler>();
    const rest = (method: 'GET' | 'POST', url: string, handler: Handler) => {
      if (method === 'GET') readers.set(url, handler);
      app.route({
        method,
        url: `/rest${url}`,
        handler: (req, reply) => {
          // POST with `_method=GET`: the documented way to send a query longer than the 8 KB URI limit.
          const reader =
            method === 'POST' && isObject(req.query) && req.query._method === 'GET' ? readers.get(url) : undefined;
          if (reader && isForm(req) && isObject(req.body)) {
            return this.rest(`GET ${url}`, req, reply, reader, stringParams(req.body));
          }
          return this.rest(`${method} ${url}`, req, reply, handler);
        },
      });
    };
    const s = this.store;
    rest('GET', '/v1/leads/describe.json', () => routes.describe());
    rest('GET', '/v1/leads/describe2.json', () => routes.describe2());
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

    app.setNotFoundHandler((req, reply) => {
      if (req.url.startsWith('/rest/')) return reply.send(failure('610', 'Requested resource not found'));
      return reply.code(404).send({ error: 'not found' });
    });
    this.controlRoutes(app);
    return app;
  }

  private identity(req: FastifyRequest, reply: FastifyReply) {
    this.counters.identityCalls++;
    if (this.faults.tokenHtml) {
      return reply.type('text/html').send('<html><body><h1>Service Unavailable</h1></body></html>');
    }
    const params = { ...(isObject(req.body) ? req.body : {}), ...(isObject(req.query) ? req.query : {}) };
    if (params.grant_type !== 'client_credentials') {
      return reply.code(400).send({ error: 'unsupported_grant_type', error_description: 'Unsupported grant type' });
    }
    if (params.client_id !== this.clientId || params.client_secret !== this.clientSecret) {
      return reply.code(401).send({ error: 'invalid_client', error_description: 'Bad client credentials' });
    }
    const now = Date.now();
    // Calling again before expiry returns the same token with its remaining lifetime ([MK-DEV] authentication.md).
    if (!this.token || this.token.expiresAt <= now) {
      this.token = { value: `${randomUUID()}:int`, expiresAt: now + this.tokenTtlMs };
      this.knownTokens.set(this.token.value, this.token.expiresAt);
    }
    return reply.send({
      access_token: this.token.value,
      token_type: 'bearer',
      expires_in: Math.max(0, Math.floor((this.token.expiresAt - now) / 1000) - 1),
      scope: 'tandem-api@example.com',
    });
  }

  private countError(code: string): void {
    this.counters.byErrorCode[code] = (this.counters.byErrorCode[code] ?? 0) + 1;
    if (code === '606') this.counters.throttled606++;
    if (code === '615') this.counters.concurrency615++;
    if (code === '607') this.counters.quota607++;
  }

  /** Auth, then fault injection, then limits; only calls that pass count toward the window and the quota. */
  private gate(req: FastifyRequest, endpoint: string): string | undefined {
    const header = req.headers.authorization;
    const query = isObject(req.query) ? req.query : {};
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : query.access_token;
    const expiresAt = typeof token === 'string' ? this.knownTokens.get(token) : undefined;
    if (expiresAt === undefined) return '601';
    if (expiresAt <= Date.now()) return '602';
    const failEvery = this.faults.failEvery;
    if (failEvery && failEvery.n > 0 && this.counters.restCalls % failEvery.n === 0) return String(failEvery.code);
    if (this.faults.failWrites > 0 && endpoint === SYNC_LEADS) {
      this.faults.failWrites -= 1;
      return '604';
    }
    if (this.faults.throttle) {
      const now = Date.now();
      this.window = this.window.filter((t) => t > now - this.limits.windowMs);
      if (this.quotaUsed >= this.limits.dailyQuota) return '607';
      if (this.window.length >= this.limits.callsPerWindow) return '606';
      if (this.inFlight >= this.limits.maxConcurrent) return '615';
      this.window.push(now);
    }
    this.quotaUsed++;
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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringParams(params: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(params)) for (const [k, v] of Object.entries(params)) if (typeof v === 'string') out[k] = v;
  return out;
}

function errorMessage(code: string, limits: SandboxLimits, custom: string | undefined): string {
  if (custom) return custom;
  switch (code) {
    case '601':
      return 'Access token invalid';
    case '602':
      return 'Access token expired';
    case '606':
      return `Max rate limit '${limits.callsPerWindow}' exceeded with in '${limits.windowMs / 1000}' secs`;
    case '607':
      return `Max daily quota '${limits.dailyQuota}' exceeded`;
    case '615':
      return `Concurrent access limit '${limits.maxConcurrent}' reached`;
    case '604':
      return 'Request timed out';
    default:
      return 'Injected failure';
  }
}
