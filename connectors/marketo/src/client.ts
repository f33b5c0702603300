/**
 * Marketo REST over HTTP: the access token (cached, refreshed before expiry and on 601/602), the proactive
 * limiter, retries with backoff and jitter, reads too long for a URI, and the mapping of Marketo's error layers
 * onto Tandem's typed errors. Everything above this module sees either a successful envelope or a `TandemError`.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
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
import { networkFailure, type NetworkFailure } from './network';
import { centralDay, nextCentralMidnight } from './quota';
import { Shared } from './shared';

/** A successful response envelope (`success:true`). `result` is `[]` when Marketo left it out. */
export interface Envelope {
  requestId?: string;
  result: unknown[];
  /** As Marketo sent it; `undefined` when it left it out (the Swagger marks it optional). */
  moreResult: boolean | undefined;
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
  /** Reads refused for their URI length (414, 431, or a connection closed on them) and sent again as POST. */
  longUriRetries: number;
  /** The longest URI a read is sent with as GET (Marketo's 8 KB, or less once a proxy refused one). */
  uriLimit: number;
};

export type Query = Record<string, string | number | undefined>;

/**
 * Response-level codes worth retrying: rate (606), concurrency (615), timeouts/unavailable (604, 608, 611, 713),
 * a subscription "usually" only temporarily unreachable (614), bulk queue (1029), and the 5xx the docs list as codes
 * (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes).
 */
const RETRYABLE_CODES = new Set(['500', '502', '604', '606', '608', '611', '614', '615', '713', '1029']);
const AUTH_CODES = new Set(['601', '602']);
/** "No data found for a given search scenario". */
const NO_DATA = '702';

/**
 * Marketo refuses a URI over 8 KB with 414; the documented remedy is the same read as POST with `_method=GET` in
 * the URL and the query form-encoded in the body
 * (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes, "HTTP-Level errors").
 */
export const MARKETO_URI_LIMIT = 8 * 1024;
/** A connection closed on a URI shorter than this is a network failure, not a length a proxy refused. */
const SHORTEST_REFUSED_URI = 1024;

const CREDENTIALS = ['MARKETO_CLIENT_ID', 'MARKETO_CLIENT_SECRET'];

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A body that is a Marketo error envelope (`success:false` with an error code), whatever the HTTP status. */
function errorEnvelope(text: string): { code: string; message: string; requestId: unknown } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || value.success !== false) return undefined;
  const first = firstError(value);
  return first.code === 'unknown' ? undefined : { ...first, requestId: value.requestId };
}

/** Reads `errors[0]` of an envelope as `{code, message}`, tolerating integer codes. */
function firstError(body: Record<string, unknown>): { code: string; message: string } {
  const [first] = Array.isArray(body.errors) ? (body.errors as unknown[]) : [];
  if (isRecord(first) && (typeof first.code === 'string' || typeof first.code === 'number')) {
    return { code: String(first.code), message: typeof first.message === 'string' ? first.message : '' };
  }
  return { code: 'unknown', message: 'success:false without errors[]' };
}

/**
 * One REST request. A read (`GET`) may be sent as POST `_method=GET` with its query form-encoded in the body
 * (`viaPost`), which is as safe to send again as the GET itself.
 */
interface RestRequest {
  method: 'GET' | 'POST';
  path: string;
  query: Query;
  body?: unknown;
  viaPost?: boolean;
}

/** The same read as POST with `_method=GET` and the query in a form-encoded body. */
function asPost(req: RestRequest): RestRequest {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(req.query)) if (value !== undefined) form.set(key, String(value));
  return { method: 'POST', path: req.path, query: { _method: 'GET' }, body: form, viaPost: true };
}

/** An outcome of one attempt the retry loop decides on. */
type Attempt =
  | { kind: 'ok'; envelope: Envelope }
  | { kind: 'token'; code: string; message: string }
  | { kind: 'retry'; error: RetryableError; throttled: boolean; concurrency?: boolean }
  /** A GET refused for its URI: 414 or 431 (`refused`), or a connection closed on a long one (maybe so). */
  | { kind: 'uri'; length: number; refused: boolean }
  | { kind: 'fail'; error: TandemError };

function encodeBody(body: unknown): { contentType: string; text: string } | undefined {
  if (body === undefined) return undefined;
  if (body instanceof URLSearchParams)
    return { contentType: 'application/x-www-form-urlencoded', text: body.toString() };
  return { contentType: 'application/json', text: JSON.stringify(body) };
}

/**
 * Marketo names an instance by its REST host, `https://<munchkin>.mktorest.com`, and has no call that says which
 * instance answers: the munchkin id is the instance's name, and for any other base URL (a proxy, a sandbox) its
 * origin is the best name there is.
 */
export function instanceOf(baseUrl: string): string {
  const url = new URL(baseUrl);
  const munchkin = /^([a-z0-9]+(?:-[a-z0-9]+)*)\.mktorest\.com$/i.exec(url.hostname);
  return munchkin?.[1] && url.protocol === 'https:' ? munchkin[1].toUpperCase() : url.origin;
}

export class MarketoClient {
  readonly limits: MarketoLimits;
  /** Which instance this client talks to (see `instanceOf`). */
  readonly instance: string;
  private readonly limiter: Limiter;
  private readonly base: string;
  /** The host, as messages name it. */
  private readonly host: string;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private dispatcher: Dispatcher | undefined;
  private token: { value: string; refreshAt: number } | undefined;
  private readonly tokenFetch: Shared<string>;
  /** The API user the token belongs to (the token's `scope`), for `check()`. */
  identity: string | undefined;
  /**
   * How far Marketo's clock is ahead of ours (ms), from the HTTP `Date` header of the last REST answer (whole
   * seconds: the half second centres the estimate), for `check()`; undefined until an answer carried one.
   */
  clockOffsetMs: number | undefined;
  private readonly counters: ClientStats = {
    requests: 0,
    identityCalls: 0,
    throttled: 0,
    retries: 0,
    tokenRefreshes: 0,
    quotaExhausted: 0,
    protocolErrors: 0,
    callsToday: 0,
    longUriRetries: 0,
    uriLimit: MARKETO_URI_LIMIT,
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
    this.host = new URL(this.base).host;
    this.instance = instanceOf(this.base);
    // Marketo's own timeouts reach 90 s (Sync Leads) and 300 s (paging tokens): do not give up before it does.
    this.timeoutMs = config.requestTimeoutMs ?? 120_000;
    this.maxAttempts = config.maxAttempts ?? 6;
    this.backoff = { baseMs: config.backoff?.baseMs ?? 1000, maxMs: config.backoff?.maxMs ?? 20_000 };
    this.tokenFetch = new Shared((signal) => this.fetchToken(signal), false);
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

  /**
   * The daily quota as this process counted it: REST calls since midnight US Central, when Marketo starts the
   * day over ([MK-DEV] rest-api.md). Other integrations share the quota, so Marketo may count more
   * (`GET /rest/v1/stats/usage.json` tells, for one more call).
   */
  dailyUsage(now = Date.now()): { used: number; limit: number; resetsAt: Date } {
    const used = centralDay(now) === this.today ? this.counters.callsToday : 0;
    return { used, limit: this.limits.dailyQuota, resetsAt: nextCentralMidnight(now) };
  }

  async close(): Promise<void> {
    const dispatcher = this.dispatcher;
    this.dispatcher = undefined;
    if (dispatcher instanceof Agent) await dispatcher.close();
  }

  /**
   * A read. One whose URI would pass the longest one known to get through (Marketo's 8 KB, or less once a proxy
   * refused a shorter one) goes as POST with `_method=GET`, so every call carries its whole batch.
   */
  get(path: string, query: Query, signal?: AbortSignal): Promise<Envelope> {
    const req: RestRequest = { method: 'GET', path, query };
    return this.call(this.url(`/rest${path}`, query).length > this.counters.uriLimit ? asPost(req) : req, signal);
  }

  post(path: string, body: unknown, signal?: AbortSignal): Promise<Envelope> {
    return this.call({ method: 'POST', path, query: {}, body }, signal);
  }

  /**
   * One REST call with its retries. 601/602 get a new token and one more try; a read refused for its URI goes
   * again at once as POST `_method=GET`; retryable failures back off with jitter up to `maxAttempts`; the rest
   * surface as typed errors.
   */
  private async call(first: RestRequest, signal?: AbortSignal): Promise<Envelope> {
    let req = first;
    let tokenRetried = false;
    let concurrencyRetries = 0;
    /** The URI length of a GET whose connection closed, proven too long once the same read as POST gets through. */
    let suspectLength: number | undefined;
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
        outcome = await this.attempt(req, token, signal);
      } finally {
        this.limiter.release();
      }
      if (outcome.kind === 'ok') {
        if (suspectLength !== undefined) this.lowerUriLimit(suspectLength);
        return outcome.envelope;
      }
      if (outcome.kind === 'fail') throw outcome.error;
      if (outcome.kind === 'uri') {
        // Only a GET is ever refused for its URI, so this happens once per call.
        this.counters.longUriRetries++;
        if (outcome.refused) this.lowerUriLimit(outcome.length);
        else suspectLength = outcome.length;
        req = asPost(req);
        attempt--;
        continue;
      }
      if (outcome.kind === 'token') {
        // The token was revoked or expired early: drop it, fetch a new one, and retry once.
        if (this.token?.value === token) this.token = undefined;
        if (tokenRetried) {
          throw new ConnectorAuthError(
            `Marketo at ${this.host} refused a fresh access token (${outcome.code} ${outcome.message}); check ${CREDENTIALS.join(' and ')}`,
            { details: { code: outcome.code } },
          );
        }
        tokenRetried = true;
        attempt--;
        continue;
      }
      if (attempt >= this.maxAttempts) throw outcome.error;
      this.counters.retries++;
      // An answer past authentication (a rate limit, a server error): should the token expire while this call
      // waits to try again, it may be refreshed once more (only a fresh token refused at once is the credentials').
      tokenRetried = false;
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
      this.logger.debug({ path: req.path, attempt, wait, code: outcome.error.details?.code }, 'marketo: retrying');
      await delay(wait, signal);
    }
  }

  /**
   * Something between here and Marketo refused a URI of `length`: from now on reads go as GET only up to half of
   * it (each refusal at least halves the limit, so a process pays a handful of refused calls at most).
   */
  private lowerUriLimit(length: number): void {
    const limit = Math.floor(length / 2);
    if (limit >= this.counters.uriLimit) return;
    this.counters.uriLimit = limit;
    this.logger.warn(
      { refusedLength: length, uriLimit: limit },
      'marketo: a read was refused for its URI length (a proxy?); longer reads go as POST with _method=GET',
    );
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

  private async attempt(req: RestRequest, token: string, signal: AbortSignal | undefined): Promise<Attempt> {
    this.counters.requests++;
    const { method, path } = req;
    const url = this.url(`/rest${path}`, req.query);
    const payload = encodeBody(req.body);
    const isRead = method === 'GET' || req.viaPost === true;
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
      const date = Date.parse(String(response.headers['date'] ?? ''));
      if (!Number.isNaN(date)) this.clockOffsetMs = date + 500 - Date.now();
      text = await response.body.text();
    } catch (error) {
      signal?.throwIfAborted();
      this.countCall('rest', 'error');
      const failure = networkFailure(error);
      // Some proxies close the connection on a URI they will not take instead of answering 414.
      if (method === 'GET' && failure.kind === 'closed' && url.length >= SHORTEST_REFUSED_URI) {
        return { kind: 'uri', length: url.length, refused: false };
      }
      const message = this.connectionMessage(failure, `${method} ${path}`, error);
      if (failure.kind === 'tls')
        return {
          kind: 'fail',
          error: new ConnectorRequestError(message, { cause: error, details: { code: failure.code } }),
        };
      const retryable = new RetryableError(message, { cause: error, details: { code: failure.code } });
      // A write that may have reached Marketo (the connection closed, or no answer came in time) must not be sent
      // again blindly; one that never left (no address, refused, no connection made) may.
      const neverSent = failure.kind === 'dns' || failure.kind === 'refused' || failure.kind === 'timeout';
      if (isRead || neverSent) return { kind: 'retry', error: retryable, throttled: false };
      return { kind: 'fail', error: retryable };
    }
    if (method === 'GET' && (status === 414 || status === 431)) {
      this.countCall('rest', 'error');
      return { kind: 'uri', length: url.length, refused: true };
    }
    // The docs put Marketo's errors in an HTTP 200 envelope (error-codes.md, "Response-Level errors"), but a gateway
    // or another implementation may send the same envelope with an HTTP error status: its code says more than the
    // status does (a 601 under a 401 wants a new token, not a credentials error), so it is read first.
    const failed = status !== 200 ? errorEnvelope(text) : undefined;
    if (failed) return this.byCode(path, failed.code, failed.message, failed.requestId, isRead);
    if (status >= 500 || status === 429) {
      this.countCall('rest', 'error');
      return {
        kind: 'retry',
        error: new RetryableError(`Marketo at ${this.host}: ${path} answered HTTP ${status}`, { details: { status } }),
        throttled: status === 429,
      };
    }
    if (status === 401 || status === 403) {
      this.countCall('rest', 'error');
      return {
        kind: 'fail',
        error: new ConnectorAuthError(
          `Marketo at ${this.host}: ${path} answered HTTP ${status}; check ${CREDENTIALS.join(' and ')}`,
          { details: { status } },
        ),
      };
    }
    if (status !== 200) {
      this.countCall('rest', 'error');
      return {
        kind: 'fail',
        error: new ConnectorRequestError(`Marketo at ${this.host}: ${path} answered HTTP ${status}`, {
          details: { status },
        }),
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
    return this.byCode(path, code, message, parsed.requestId, isRead);
  }

  /** What a response-level error code means for the call: a new token, a retry, the quota, or a failure. */
  private byCode(path: string, code: string, message: string, requestId: unknown, isRead: boolean): Attempt {
    const details = { code, message, requestId };
    if (AUTH_CODES.has(code)) {
      this.countCall('rest', 'auth');
      return { kind: 'token', code, message };
    }
    if (code === NO_DATA && isRead) {
      // "No data found for a given search scenario" (error-codes.md): a read that found nothing, as most answer it
      // (success with an empty result).
      this.countCall('rest', 'ok');
      return { kind: 'ok', envelope: { result: [], moreResult: undefined, warnings: [] } };
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
        error: new RetryableError(`Marketo ${path}: ${code} ${message}`, {
          details,
          ...(code === '606' ? { retryAfterMs: this.rateWindowMs(message) } : {}),
        }),
        throttled,
        concurrency: code === '615',
      };
    }
    this.countCall('rest', 'error');
    if (code === '603')
      return {
        kind: 'fail',
        error: new ConnectorAuthError(
          `Marketo at ${this.host}: ${path}: access denied (603 ${message}); the API user's role lacks a permission, or an IP allowlist blocks this host`,
          { details },
        ),
      };
    return { kind: 'fail', error: new ConnectorRequestError(`Marketo ${path}: ${code} ${message}`, { details }) };
  }

  /**
   * How long to hold every call back after a 606. A throttled call counts toward the rate limit too (only the
   * starred codes of error-codes.md do not count), so a retry inside the window only keeps it full: wait for the
   * whole window, which the 606 message names ("Max rate limit '100' exceeded with in '20' secs"), else the
   * configured one.
   */
  private rateWindowMs(message: string): number {
    const seconds = Number(/with ?in '([\d.]+)' secs/.exec(message)?.[1]);
    return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : this.limits.windowMs;
  }

  /** A failed connection, for an operator: Marketo, the host, what failed, the step, and what to check. */
  private connectionMessage(failure: NetworkFailure, step: string, error: unknown): string {
    const detail = this.redact(error instanceof Error ? error.message : String(error));
    const tlsCa = failure.kind === 'tls' ? ' (or the tlsCa setting)' : '';
    return `Marketo at ${this.host}: ${failure.what} (${failure.code}: ${detail}) on ${step}; check ${failure.check.join(' and ')}${tlsCa}`;
  }

  /** Never a secret in a message: the client secret and the access token are blanked out. */
  private redact(text: string): string {
    let out = text;
    for (const secret of [this.config.clientSecret, this.token?.value]) {
      if (!secret) continue;
      for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('[redacted]');
    }
    return out;
  }

  /** Parses a body as a JSON object, or explains clearly what came back instead. */
  private parse(path: string, contentType: string, text: string): Record<string, unknown> | TandemError {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.counters.protocolErrors++;
      const what = /html/i.test(contentType) || /^\s*</.test(text) ? 'an HTML page' : 'malformed JSON';
      return new ProtocolError(
        `Marketo at ${this.host}: ${path} answered ${what} instead of a JSON envelope: ${this.snippet(text)}`,
        { cause: error, details: { contentType } },
      );
    }
    if (!isRecord(value) || typeof value.success !== 'boolean') {
      this.counters.protocolErrors++;
      return new ProtocolError(
        `Marketo at ${this.host}: ${path} answered JSON without the response envelope: ${this.snippet(text)}`,
      );
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
      moreResult: typeof body.moreResult === 'boolean' ? body.moreResult : undefined,
      ...(typeof body.nextPageToken === 'string' ? { nextPageToken: body.nextPageToken } : {}),
      warnings: Array.isArray(body.warnings) ? body.warnings : [],
    };
  }

  /**
   * The cached token, or a new one; refreshed a minute before expiry. Concurrent callers share one fetch, which
   * each waits for with its own signal; the fetch is dropped once none waits.
   */
  private async accessToken(signal?: AbortSignal): Promise<string> {
    if (this.token && Date.now() < this.token.refreshAt) return this.token.value;
    return this.tokenFetch.get(signal);
  }

  private async fetchToken(signal: AbortSignal): Promise<string> {
    this.counters.identityCalls++;
    this.counters.tokenRefreshes++;
    const endpoint = `${this.base}/identity/oauth/token`;
    // GET with the three parameters in the query, as the Identity endpoint documents them
    // (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/authentication).
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
        signal: this.withTimeout(signal),
      });
      status = response.statusCode;
      contentType = String(response.headers['content-type'] ?? '');
      const date = Date.parse(String(response.headers['date'] ?? ''));
      if (!Number.isNaN(date)) this.clockOffsetMs = date + 500 - Date.now();
      text = await response.body.text();
    } catch (error) {
      signal.throwIfAborted();
      this.countCall('identity', 'error');
      const failure = networkFailure(error);
      const message = this.connectionMessage(failure, 'the access token request', error);
      if (failure.kind === 'tls')
        throw new ConnectorRequestError(message, { cause: error, details: { code: failure.code } });
      throw new RetryableError(message, { cause: error, details: { code: failure.code } });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    // The Identity endpoint answers 401 for a bad client id or secret (error-codes.md, "HTTP-Level errors"), a body
    // or none; 400 and 403 with a JSON body alike, and an OAuth error body (`{error, error_description}`) whatever
    // the status it comes with.
    const oauthError = isRecord(body) && typeof body.error === 'string' && status < 500;
    if (status === 401 || ((status === 400 || status === 403) && body !== undefined) || oauthError) {
      this.countCall('identity', 'error');
      const reason = isRecord(body)
        ? [body.error, body.error_description].filter((v) => typeof v === 'string').join(': ')
        : '';
      throw new ConnectorAuthError(
        `Marketo at ${this.host} refused the client credentials (HTTP ${status}${reason ? `, ${this.redact(reason)}` : ''}); check ${CREDENTIALS.join(' and ')}`,
      );
    }
    if (body === undefined && status < 500) {
      this.countCall('identity', 'error');
      const what = /html/i.test(contentType) || /^\s*</.test(text) ? 'an HTML page' : 'malformed JSON';
      throw new ProtocolError(
        `Marketo token endpoint ${endpoint} answered ${what} (HTTP ${status}) instead of a token; check MARKETO_BASE_URL: ${this.snippet(text)}`,
      );
    }
    if (status >= 500) {
      this.countCall('identity', 'error');
      throw new RetryableError(`Marketo at ${this.host}: the token endpoint answered HTTP ${status}`);
    }
    if (
      !isRecord(body) ||
      typeof body.access_token !== 'string' ||
      body.access_token === '' ||
      typeof body.expires_in !== 'number'
    ) {
      this.countCall('identity', 'error');
      throw new ProtocolError(
        `Marketo token endpoint ${endpoint} answered an unexpected shape (HTTP ${status}): ${this.snippet(text)}`,
      );
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

  private snippet(text: string): string {
    const flat = this.redact(text).replace(/\s+/g, ' ').trim();
    return JSON.stringify(flat.length > 120 ? `${flat.slice(0, 120)}…` : flat);
  }
}
