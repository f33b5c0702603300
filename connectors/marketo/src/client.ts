/**
 * Marketo REST over HTTP: the access token (cached, refreshed before expiry and on 601/602), the proactive
 * limiter, retries with backoff and jitter, and the mapping of Marketo's error layers onto Tandem's typed
 * errors. Everything above this module sees either a successful envelope or a `TandemError`.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, request, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  ConnectorAuthError,
  ConnectorRequestError,
  ProtocolError,
  QuotaExhaustedError,
  RetryableError,
  sharedMetric,
  TandemError,
} from '@tandem/core/plugin';
import { DEFAULT_LIMITS, type MarketoConfig, type MarketoLimits } from './config';
import { Limiter, delay } from './limiter';
import { centralDay, nextCentralMidnight } from './quota';

/** A successful response envelope (`success:true`). `result` is `[]` when Marketo left it out. */
export interface Envelope {
  requestId?: string;
  result: unknown[];
  moreResult: boolean;
  nextPageToken?: string;
  warnings: unknown[];
}

export type ClientStats = {
  requests: number;
  identityCalls: number;
  throttled: number;
  retries: number;
  tokenRefreshes: number;
  quotaExhausted: number;
  protocolErrors: number;
  callsToday: number;
};

export type Query = Record<string, string | number | undefined>;

/** Response-level codes worth retrying: rate (606), concurrency (615), timeouts/unavailable (604, 608, 611, 713), bulk queue (1029), and the 5xx the docs list as codes. */
const RETRYABLE_CODES = new Set(['500', '502', '604', '606', '608', '611', '615', '713', '1029']);
const AUTH_CODES = new Set(['601', '602']);

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads `errors[0]` of an envelope as `{code, message}`, tolerating integer codes. */
function firstError(body: Record<string, unknown>): { code: string; message: string } {
  const [first] = Array.isArray(body.errors) ? (body.errors as unknown[]) : [];
  if (isRecord(first) && (typeof first.code === 'string' || typeof first.code === 'number')) {
    return { code: String(first.code), message: typeof first.message === 'string' ? first.message : '' };
  }
  return { code: 'unknown', message: 'success:false without errors[]' };
}

/** An outcome of one attempt the retry loop decides on. */
type Attempt =
  | { kind: 'ok'; envelope: Envelope }
  | { kind: 'token'; code: string; message: string }
  | { kind: 'retry'; error: RetryableError; throttled: boolean; concurrency?: boolean }
  | { kind: 'fail'; error: TandemError };

/**
 * A request body: JSON, or a form-encoded query (a read sent as POST `_method=GET`, see `getViaPost`), which is
 * as safe to send again as a GET.
 */
function encodeBody(body: unknown): { contentType: string; text: string; isQuery: boolean } | undefined {
  if (body === undefined) return undefined;
  if (body instanceof URLSearchParams)
    return { contentType: 'application/x-www-form-urlencoded', text: body.toString(), isQuery: true };
  return { contentType: 'application/json', text: JSON.stringify(body), isQuery: false };
}

export class MarketoClient {
  readonly limits: MarketoLimits;
  private readonly limiter: Limiter;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private dispatcher: Dispatcher | undefined;
  private token: { value: string; refreshAt: number } | undefined;
  private tokenRequest: Promise<string> | undefined;
  /** The API user the token belongs to (the token's `scope`), for `check()`. */
  identity: string | undefined;
  private readonly counters: ClientStats = {
    requests: 0,
    identityCalls: 0,
    throttled: 0,
    retries: 0,
    tokenRefreshes: 0,
    quotaExhausted: 0,
    protocolErrors: 0,
    callsToday: 0,
  };
  private today = centralDay();
  private readonly callsMetric: Counter<'kind' | 'outcome'>;
  private readonly dailyMetric: Gauge;

  constructor(
    private readonly config: MarketoConfig,
    private readonly logger: Logger,
    metrics: Registry,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...config.limits };
    this.limiter = new Limiter(this.limits);
    this.base = config.baseUrl.replace(/\/+$/, '');
    // Marketo's own timeouts reach 90 s (Sync Leads) and 300 s (paging tokens): do not give up before it does.
    this.timeoutMs = config.requestTimeoutMs ?? 120_000;
    this.maxAttempts = config.maxAttempts ?? 6;
    this.backoff = { baseMs: config.backoff?.baseMs ?? 1000, maxMs: config.backoff?.maxMs ?? 20_000 };
    // Several connector instances may share one registry: reuse the metric when it already exists.
    this.callsMetric = sharedMetric(
      metrics,
      'tandem_marketo_api_calls_total',
      () =>
        new Counter({
          name: 'tandem_marketo_api_calls_total',
          help: 'Marketo API calls made, by kind (rest, identity) and outcome (ok, throttled, quota, error)',
          labelNames: ['kind', 'outcome'] as const,
          registers: [metrics],
        }),
    );
    this.dailyMetric = sharedMetric(
      metrics,
      'tandem_marketo_api_calls_today',
      () =>
        new Gauge({
          name: 'tandem_marketo_api_calls_today',
          help: 'Marketo REST calls made since midnight US Central (the daily quota resets then)',
          registers: [metrics],
        }),
    );
  }

  stats(): ClientStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    const dispatcher = this.dispatcher;
    this.dispatcher = undefined;
    if (dispatcher instanceof Agent) await dispatcher.close();
  }

  get(path: string, query: Query, signal?: AbortSignal): Promise<Envelope> {
    return this.call('GET', path, query, undefined, signal);
  }

  post(path: string, body: unknown, signal?: AbortSignal): Promise<Envelope> {
    return this.call('POST', path, {}, body, signal);
  }

  /**
   * A GET whose query string would pass Marketo's 8 KB URI limit (414), sent the documented way: POST with
   * `_method=GET` in the URL and the query form-encoded in the body. Still a read: safe to send again.
   */
  getViaPost(path: string, query: Query, signal?: AbortSignal): Promise<Envelope> {
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) form.set(key, String(value));
    return this.call('POST', path, { _method: 'GET' }, form, signal);
  }

  /**
   * One REST call with its retries. 601/602 get a new token and one more try; retryable failures back off
   * with jitter up to `maxAttempts`; the rest surface as typed errors.
   */
  async call(
    method: 'GET' | 'POST',
    path: string,
    query: Query,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<Envelope> {
    let tokenRetried = false;
    let concurrencyRetries = 0;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let token: string;
      try {
        token = await this.accessToken(signal);
      } catch (error) {
        // An unreachable identity endpoint is retried like any other call; anything else surfaces.
        if (!(error instanceof RetryableError) || attempt >= this.maxAttempts) throw error;
        this.counters.retries++;
        await delay(this.backoffMs(attempt, undefined), signal);
        continue;
      }
      await this.limiter.acquire(signal);
      let outcome: Attempt;
      try {
        outcome = await this.attempt(method, path, query, body, token, signal);
      } finally {
        this.limiter.release();
      }
      if (outcome.kind === 'ok') return outcome.envelope;
      if (outcome.kind === 'fail') throw outcome.error;
      if (outcome.kind === 'token') {
        // The token was revoked or expired early: drop it, fetch a new one, and retry once.
        if (this.token?.value === token) this.token = undefined;
        if (tokenRetried) {
          throw new ConnectorAuthError(`Marketo refused a fresh access token (${outcome.code} ${outcome.message})`, {
            details: { code: outcome.code },
          });
        }
        tokenRetried = true;
        attempt--;
        continue;
      }
      if (attempt >= this.maxAttempts) throw outcome.error;
      this.counters.retries++;
      if (outcome.concurrency) {
        // 615: no need to wait out a window, only for a slot; the limiter now holds fewer calls in flight.
        this.limiter.concurrencyExceeded();
        attempt--;
        if (++concurrencyRetries > 50) throw outcome.error;
        // A short jittered pause, in case the slots are all held by others (cap 1, nothing of ours in flight).
        await delay(50 + Math.round(Math.random() * 100), signal);
        continue;
      }
      const wait = this.backoffMs(attempt, outcome.error.retryAfterMs);
      if (outcome.throttled) this.limiter.pause(wait);
      this.logger.debug({ path, attempt, wait, code: outcome.error.details?.code }, 'marketo: retrying');
      await delay(wait, signal);
    }
  }

  /** Exponential backoff with full jitter, never below the server's hint. */
  private backoffMs(attempt: number, hint: number | undefined): number {
    const cap = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (attempt - 1));
    return Math.max(hint ?? 0, Math.round(cap / 2 + (Math.random() * cap) / 2));
  }

  private countCall(kind: 'rest' | 'identity', outcome: string): void {
    this.callsMetric.inc({ kind, outcome });
    if (kind === 'identity') return;
    const day = centralDay();
    if (day !== this.today) {
      this.today = day;
      this.counters.callsToday = 0;
    }
    this.counters.callsToday++;
    this.dailyMetric.set(this.counters.callsToday);
  }

  private async attempt(
    method: 'GET' | 'POST',
    path: string,
    query: Query,
    body: unknown,
    token: string,
    signal: AbortSignal | undefined,
  ): Promise<Attempt> {
    this.counters.requests++;
    const url = this.url(`/rest${path}`, query);
    const payload = encodeBody(body);
    let status: number;
    let text: string;
    let contentType: string;
    try {
      const response = await request(url, {
        method,
        ...this.dispatcherOption(),
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(payload ? { 'content-type': payload.contentType } : {}),
        },
        ...(payload ? { body: payload.text } : {}),
        signal: this.withTimeout(signal),
      });
      status = response.statusCode;
      contentType = String(response.headers['content-type'] ?? '');
      text = await response.body.text();
    } catch (error) {
      signal?.throwIfAborted();
      this.countCall('rest', 'error');
      const tls = tlsFailure(error, this.base);
      if (tls) return { kind: 'fail', error: tls };
      const message = `Marketo ${method} ${path} failed: ${error instanceof Error ? error.message : String(error)}`;
      // A POST that timed out may have been applied: only reads are safe to send again.
      if (method === 'GET' || payload?.isQuery || !isTimeout(error))
        return { kind: 'retry', error: new RetryableError(message, { cause: error }), throttled: false };
      return { kind: 'fail', error: new RetryableError(message, { cause: error }) };
    }
    if (status >= 500 || status === 429) {
      this.countCall('rest', 'error');
      return {
        kind: 'retry',
        error: new RetryableError(`Marketo ${path} answered HTTP ${status}`, { details: { status } }),
        throttled: status === 429,
      };
    }
    if (status === 401 || status === 403) {
      this.countCall('rest', 'error');
      return {
        kind: 'fail',
        error: new ConnectorAuthError(`Marketo ${path} answered HTTP ${status}`, { details: { status } }),
      };
    }
    if (status !== 200) {
      this.countCall('rest', 'error');
      return {
        kind: 'fail',
        error: new ConnectorRequestError(`Marketo ${path} answered HTTP ${status}`, { details: { status } }),
      };
    }
    const parsed = this.parse(path, contentType, text);
    if (parsed instanceof TandemError) {
      this.countCall('rest', 'error');
      return { kind: 'fail', error: parsed };
    }
    if (parsed.success === true) {
      this.countCall('rest', 'ok');
      return { kind: 'ok', envelope: this.envelope(path, parsed) };
    }
    const { code, message } = firstError(parsed);
    const details = { code, message, requestId: parsed.requestId };
    if (AUTH_CODES.has(code)) {
      this.countCall('rest', 'auth');
      return { kind: 'token', code, message };
    }
    if (code === '607') {
      this.counters.quotaExhausted++;
      this.countCall('rest', 'quota');
      const resetsAt = nextCentralMidnight();
      return {
        kind: 'fail',
        error: new QuotaExhaustedError(
          `Marketo daily API quota exhausted (${message}); it resets at ${resetsAt.toISOString()}`,
          { resetsAt },
        ),
      };
    }
    if (RETRYABLE_CODES.has(code)) {
      const throttled = code === '606' || code === '615';
      if (throttled) this.counters.throttled++;
      this.countCall('rest', throttled ? 'throttled' : 'error');
      return {
        kind: 'retry',
        error: new RetryableError(`Marketo ${path}: ${code} ${message}`, { details }),
        throttled,
        concurrency: code === '615',
      };
    }
    this.countCall('rest', 'error');
    if (code === '603')
      return {
        kind: 'fail',
        error: new ConnectorAuthError(`Marketo ${path}: access denied (603 ${message})`, { details }),
      };
    return { kind: 'fail', error: new ConnectorRequestError(`Marketo ${path}: ${code} ${message}`, { details }) };
  }

  /** Parses a body as a JSON object, or explains clearly what came back instead. */
  private parse(path: string, contentType: string, text: string): Record<string, unknown> | TandemError {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.counters.protocolErrors++;
      const what = /html/i.test(contentType) || /^\s*</.test(text) ? 'an HTML page' : 'malformed JSON';
      return new ProtocolError(`Marketo ${path} answered ${what} instead of a JSON envelope: ${snippet(text)}`, {
        cause: error,
        details: { contentType },
      });
    }
    if (!isRecord(value) || typeof value.success !== 'boolean') {
      this.counters.protocolErrors++;
      return new ProtocolError(`Marketo ${path} answered JSON without the response envelope: ${snippet(text)}`);
    }
    return value;
  }

  private envelope(path: string, body: Record<string, unknown>): Envelope {
    if (body.result !== undefined && !Array.isArray(body.result)) {
      throw new ProtocolError(`Marketo ${path} answered a non-array result`);
    }
    return {
      ...(typeof body.requestId === 'string' ? { requestId: body.requestId } : {}),
      result: Array.isArray(body.result) ? body.result : [],
      moreResult: body.moreResult === true,
      ...(typeof body.nextPageToken === 'string' ? { nextPageToken: body.nextPageToken } : {}),
      warnings: Array.isArray(body.warnings) ? body.warnings : [],
    };
  }

  /** The cached token, or a new one; refreshed a minute before expiry; concurrent callers share one fetch. */
  private async accessToken(signal?: AbortSignal): Promise<string> {
    if (this.token && Date.now() < this.token.refreshAt) return this.token.value;
    // One fetch shared by every caller, so it does not take any one caller's signal (only the timeout).
    this.tokenRequest ??= this.fetchToken().finally(() => {
      this.tokenRequest = undefined;
    });
    const token = await this.tokenRequest;
    signal?.throwIfAborted();
    return token;
  }

  private async fetchToken(): Promise<string> {
    this.counters.identityCalls++;
    this.counters.tokenRefreshes++;
    const url = this.url('/identity/oauth/token', {
      grant_type: 'client_credentials',
      client_id: this.config.clientId,
      client_secret: this.config.clientSecret,
    });
    let status: number;
    let text: string;
    let contentType: string;
    try {
      const response = await request(url, {
        method: 'GET',
        ...this.dispatcherOption(),
        signal: this.withTimeout(undefined),
      });
      status = response.statusCode;
      contentType = String(response.headers['content-type'] ?? '');
      text = await response.body.text();
    } catch (error) {
      this.countCall('identity', 'error');
      const tls = tlsFailure(error, this.base);
      if (tls) throw tls;
      throw new RetryableError(
        `Marketo identity endpoint unreachable: ${error instanceof Error ? error.message : String(error)}`,
        {
          cause: error,
        },
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      this.countCall('identity', 'error');
      const what = /html/i.test(contentType) || /^\s*</.test(text) ? 'an HTML page' : 'malformed JSON';
      throw new ProtocolError(
        `Marketo token endpoint ${this.base}/identity/oauth/token answered ${what} (HTTP ${status}) instead of a token; check MARKETO_BASE_URL: ${snippet(text)}`,
      );
    }
    if (status === 401 || status === 400 || status === 403) {
      this.countCall('identity', 'error');
      const reason = isRecord(body)
        ? [body.error, body.error_description].filter((v) => typeof v === 'string').join(': ')
        : '';
      throw new ConnectorAuthError(
        `Marketo refused the client credentials (HTTP ${status}${reason ? `, ${reason}` : ''})`,
      );
    }
    if (status >= 500) {
      this.countCall('identity', 'error');
      throw new RetryableError(`Marketo identity endpoint answered HTTP ${status}`);
    }
    if (
      !isRecord(body) ||
      typeof body.access_token !== 'string' ||
      body.access_token === '' ||
      typeof body.expires_in !== 'number'
    ) {
      this.countCall('identity', 'error');
      throw new ProtocolError(`Marketo token endpoint answered an unexpected shape (HTTP ${status}): ${snippet(text)}`);
    }
    this.countCall('identity', 'ok');
    if (typeof body.scope === 'string') this.identity = body.scope;
    // Renew a minute before expiry (or at half-life for short-lived tokens), as the docs recommend.
    const lifetimeMs = body.expires_in * 1000;
    const margin = Math.min(60_000, lifetimeMs / 2);
    this.token = { value: body.access_token, refreshAt: Date.now() + lifetimeMs - margin };
    return body.access_token;
  }

  private url(path: string, query: Query): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const qs = params.toString();
    return `${this.base}${path}${qs ? `?${qs}` : ''}`;
  }

  private withTimeout(signal: AbortSignal | undefined): AbortSignal {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    return signal ? AbortSignal.any([signal, timeout]) : timeout;
  }

  /**
   * With `tlsCa`, an agent trusting the system CAs, NODE_EXTRA_CA_CERTS and that CA; without it, undici's
   * global dispatcher, which already honours NODE_EXTRA_CA_CERTS through Node's default CA store.
   */
  private dispatcherOption(): { dispatcher?: Dispatcher } {
    if (!this.config.tlsCa) return {};
    if (!this.dispatcher) {
      const ca = [...rootCertificates, this.config.tlsCa];
      const extra = process.env.NODE_EXTRA_CA_CERTS;
      if (extra) {
        try {
          ca.push(readFileSync(extra, 'utf8'));
        } catch (error) {
          this.logger.warn({ err: error, file: extra }, 'marketo: cannot read NODE_EXTRA_CA_CERTS');
        }
      }
      this.dispatcher = new Agent({ connect: { ca } });
    }
    return { dispatcher: this.dispatcher };
  }
}

/**
 * A certificate the connector does not trust will not fix itself: not retryable, and the message says how
 * to trust a private CA.
 */
function tlsFailure(error: unknown, base: string): ConnectorRequestError | undefined {
  const code = (e: unknown) => (e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : '');
  const found = [code(error), code(error instanceof Error ? error.cause : undefined)].find((c) =>
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS/.test(c),
  );
  if (!found) return undefined;
  return new ConnectorRequestError(
    `TLS certificate of ${base} is not trusted (${found}: ${error instanceof Error ? error.message : String(error)}); ` +
      'give its CA as the tlsCa setting or through NODE_EXTRA_CA_CERTS',
    { cause: error, details: { code: found } },
  );
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
  );
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > 120 ? `${flat.slice(0, 120)}…` : flat);
}
