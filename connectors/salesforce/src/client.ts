/**
 * The REST client: every request to Salesforce goes through `send`, which adds the session, waits for a slot,
 * refuses calls once Tandem's share of the daily allocation is spent (`ApiUsage`), reads `Sforce-Limit-Info` and
 * the server's clock (`Date`) from each answer, replaces the session once on 401 INVALID_SESSION_ID, retries 503,
 * the concurrent-request limit and dropped connections with exponential backoff (only what is safe to send
 * again), and turns an answer that is not a success into a `TandemError` naming what to check. An aborted signal
 * stops it wherever it waits, backoff included.
 * Errors: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
 */
import { request, type Agent } from 'undici';
import type { Logger } from 'pino';
import {
  ConcurrencySlots,
  ConnectorAuthError,
  ConnectorRequestError,
  ProtocolError,
  RetryableError,
  TandemError,
  connectionError,
  networkFailure,
} from '@tandem/core/plugin';
import type { Session, TokenSource } from './auth';
import type { ResolvedLimits } from './config';
import type { SalesforceMetrics } from './metrics';
import { neverSent, transient } from './network';
import type { ApiUsage } from './usage';
import { LOCK_ERROR } from './write/results';
import { pause } from './pause';

export interface SfResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface SendOptions {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /**
   * A path under the REST base (`query?q=…`, `sobjects/Contact/describe`), or an absolute path on the org's host
   * (`/services/data/v63.0/query/01g…-2000`, `/id/<org>/<user>`).
   */
  path: string;
  body?: string;
  /** Content type of `body` (JSON unless said). */
  contentType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Safe to send again after a dropped connection (reads, updates, job state changes); creates are not. */
  idempotent?: boolean;
  /** Counts against the org's daily allocation (everything under /services/data but the Versions resource). */
  counted?: boolean;
  /** A 414, 431 or a connection dropped without an answer means the URI was too long: `UriTooLongError`. */
  lengthSensitive?: boolean;
}

/** One error of Salesforce's error array. */
export interface SfError {
  message: string;
  errorCode: string;
  fields?: string[];
}

/** The request's URI (and headers) were too long for the way to Salesforce: split the look-up. */
export class UriTooLongError extends TandemError {
  constructor(
    readonly uriBytes: number,
    readonly answer: string,
  ) {
    super('CONNECTOR_REQUEST', `Salesforce refused a ${uriBytes}-byte request URI (${answer}).`, { status: 502 });
  }
}

/** Salesforce's error array from a body, when it is one. */
export function sfErrors(text: string): SfError[] | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    const list = Array.isArray(parsed) ? parsed : [parsed];
    const errors = list.filter(
      (e): e is SfError => typeof e === 'object' && e !== null && typeof (e as SfError).errorCode === 'string',
    );
    return errors.length > 0 ? errors : undefined;
  } catch {
    return undefined;
  }
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function describeBody(res: SfResponse): string {
  const type = res.headers['content-type'] ?? 'no content type';
  const title = /<title>([^<]*)<\/title>/i.exec(res.text)?.[1] ?? /<h1>([^<]*)<\/h1>/i.exec(res.text)?.[1];
  const snippet = title ?? res.text.replace(/\s+/g, ' ').slice(0, 120);
  return `${type}${snippet ? `: "${snippet}"` : ''}`;
}

export class SalesforceClient {
  /** `/services/data/v63.0/` */
  readonly basePath: string;
  private readonly origin: string;
  private readonly slots: ConcurrencySlots;
  /** The server's clock minus ours, from the `Date` header of the last answer (Salesforce's windows are its own). */
  private clockOffsetMs = 0;

  constructor(
    url: string,
    readonly apiVersion: string,
    private readonly tokens: TokenSource,
    readonly usage: ApiUsage,
    private readonly metrics: SalesforceMetrics,
    private readonly logger: Logger,
    private readonly agent: Agent,
    readonly limits: ResolvedLimits,
  ) {
    this.origin = new URL(url).origin;
    this.basePath = `/services/data/${apiVersion}/`;
    this.slots = new ConcurrencySlots(limits.maxConcurrent);
  }

  /** Salesforce's time now, as its last answer's `Date` header placed it against ours. */
  serverNow(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** The session in use (fetching one if there is none). */
  session(signal?: AbortSignal): Promise<Session> {
    return this.tokens.get(undefined, signal);
  }

  /**
   * The absolute URL of a path, on the session's instance (the token answer's `instance_url`, which need not be
   * SALESFORCE_URL: https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm).
   * An absolute URL is taken only on the instance or on SALESFORCE_URL's host: a stored cursor must not send our
   * session elsewhere.
   */
  resolve(path: string, instance = this.tokens.current()?.instanceUrl ?? this.origin): string {
    if (/^https?:\/\//i.test(path)) {
      const origin = new URL(path).origin;
      if (origin !== instance && origin !== this.origin) {
        throw new TandemError('BAD_REQUEST', `Refusing to call ${path.slice(0, 80)}: not this org (${instance}).`, {
          status: 400,
        });
      }
      return path;
    }
    if (path.startsWith('/')) return instance + path;
    return instance + this.basePath + path;
  }

  /** The bytes of a request's target (path and query), as the org's URI limit counts them. */
  uriBytes(path: string): number {
    const url = new URL(this.resolve(path));
    return Buffer.byteLength(url.pathname + url.search);
  }

  async send(options: SendOptions): Promise<SfResponse> {
    const idempotent = options.idempotent ?? options.method === 'GET';
    const counted = options.counted ?? true;
    let refused: string | undefined;
    let renewed = false;
    for (let attempt = 0; ; attempt += 1) {
      options.signal?.throwIfAborted();
      if (counted) this.usage.admit();
      let session: Session;
      try {
        session = await this.tokens.get(refused, options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (error instanceof RetryableError && attempt < this.limits.maxRetries) {
          this.metrics.retry('network');
          await this.backoff(attempt, error.retryAfterMs, options.signal);
          continue;
        }
        throw error;
      }
      refused = undefined;
      this.usage.org = session.orgId;
      const url = this.resolve(options.path, session.instanceUrl);
      let res: SfResponse;
      try {
        res = await this.slots.run(() => this.once(options, url, session.accessToken), options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        const failure = networkFailure(error);
        if (options.lengthSensitive && failure?.kind === 'closed') {
          throw new UriTooLongError(this.uriBytes(options.path), 'the connection was closed with no answer');
        }
        if (failure && transient(failure) && (idempotent || neverSent(failure)) && attempt < this.limits.maxRetries) {
          this.metrics.retry('network');
          this.logger.debug({ code: failure.code, attempt }, 'salesforce: connection trouble, trying again');
          await this.backoff(attempt, undefined, options.signal);
          continue;
        }
        if (failure) throw connectionError('Salesforce', url, failure, ['SALESFORCE_URL'], error);
        throw new RetryableError(`Salesforce request failed: ${(error as Error).message}`, { cause: error });
      }
      this.observe(res, counted);
      if (options.lengthSensitive && (res.status === 414 || res.status === 431)) {
        throw new UriTooLongError(this.uriBytes(options.path), `HTTP ${res.status}`);
      }
      const errors = res.status >= 400 ? sfErrors(res.text) : undefined;
      if (res.status === 401 && !renewed) {
        // The session ended (inactivity timeout, revoked): get a new one and send the request once more.
        renewed = true;
        refused = session.accessToken;
        this.metrics.retry('session');
        this.logger.debug({ path: options.path }, 'salesforce: INVALID_SESSION_ID, renewing the session');
        continue;
      }
      const limit = errors?.find((e) => e.errorCode === 'REQUEST_LIMIT_EXCEEDED');
      if (res.status === 403 && limit) {
        // The daily allocation is spent ("TotalRequests Limit exceeded."; the code alone says as much: "you've
        // exceeded API request limits in your org", errorcodes.htm), unless the message names the concurrent
        // long-request limit ("ConcurrentPerOrgLongTxn Limit exceeded."): then wait a little.
        if (!/concurren/i.test(limit.message)) throw this.usage.exceeded(limit.message);
        if (attempt < this.limits.maxRetries) {
          this.metrics.retry('concurrency');
          await this.backoff(attempt, retryAfterMs(res.headers['retry-after']), options.signal);
          continue;
        }
      }
      if (errors?.some((e) => e.errorCode === LOCK_ERROR) && attempt < this.limits.maxRetries) {
        // A whole request refused because a record was locked by another transaction: nothing was applied (the
        // transaction rolled back), so it is safe to send again once the other one has ended.
        this.metrics.retry('lock');
        await this.backoff(attempt, undefined, options.signal);
        continue;
      }
      if (res.status === 503 && attempt < this.limits.maxRetries) {
        // SERVER_UNAVAILABLE: the request was not processed; safe to send again, whatever it was.
        this.metrics.retry('unavailable');
        await this.backoff(attempt, retryAfterMs(res.headers['retry-after']), options.signal);
        continue;
      }
      return res;
    }
  }

  private observe(res: SfResponse, counted: boolean): void {
    const date = Date.parse(res.headers.date ?? '');
    // Second precision: the half second keeps the estimate centred.
    if (!Number.isNaN(date)) this.clockOffsetMs = date + 500 - Date.now();
    if (counted) this.usage.observe(res.headers['sforce-limit-info']);
  }

  private async once(options: SendOptions, url: string, token: string): Promise<SfResponse> {
    const res = await request(url, {
      method: options.method,
      dispatcher: this.agent,
      signal: options.signal,
      headers: {
        accept: 'application/json',
        ...(options.body !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
        ...options.headers,
        authorization: `Bearer ${token}`,
      },
      body: options.body,
    });
    const text = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    this.metrics.request(options.method, res.statusCode, options.counted ?? true);
    return { status: res.statusCode, headers, text };
  }

  /** Waits Retry-After, or an exponential backoff with jitter (at most a minute); an abort ends the wait. */
  private async backoff(attempt: number, hintMs: number | undefined, signal?: AbortSignal): Promise<void> {
    const base = hintMs ?? this.limits.backoffMs * 2 ** attempt;
    const wait = Math.min(base * (1 + Math.random() * 0.2), 60_000);
    await pause(wait, signal);
  }

  /** A JSON value from a successful answer, or the error the answer means. */
  async json<T = unknown>(options: SendOptions): Promise<T> {
    const res = await this.send(options);
    const what = `${options.method} ${options.path.split('?')[0] ?? options.path}`;
    if (res.status < 200 || res.status >= 300) throw this.toError(res, what);
    return this.parse<T>(res, what);
  }

  parse<T>(res: SfResponse, what: string): T {
    if (!/json/i.test(res.headers['content-type'] ?? '')) {
      throw new ProtocolError(
        `Salesforce answered ${what} with HTTP ${res.status} and a body that is not JSON (${describeBody(res)}); is SALESFORCE_URL the org's My Domain URL, or is a proxy in the way?`,
        { details: { status: res.status } },
      );
    }
    try {
      return JSON.parse(res.text) as T;
    } catch (error) {
      throw new ProtocolError(
        `Salesforce answered ${what} with malformed JSON (${res.text.length} bytes): ${(error as Error).message}`,
        { cause: error, details: { status: res.status } },
      );
    }
  }

  /** The error an unsuccessful answer means. */
  toError(res: SfResponse, what: string): TandemError {
    const errors = sfErrors(res.text);
    const first = errors?.[0];
    const details = { status: res.status, errorCode: first?.errorCode, fields: first?.fields };
    if (!first) {
      const error = `Salesforce answered ${what} with HTTP ${res.status} and no Salesforce error body (${describeBody(res)}); is a proxy in the way?`;
      return res.status >= 500
        ? new RetryableError(error, { details })
        : new ProtocolError(error, { details: { ...details, variables: ['SALESFORCE_URL'] } });
    }
    const text = `Salesforce ${what}: HTTP ${res.status} ${first.errorCode}: ${first.message}`;
    const column = /No such column '([^']+)'/i.exec(first.message);
    if (res.status === 400 && column?.[1]) {
      return new TandemError(
        'UNKNOWN_FIELD',
        `Salesforce has no field '${column[1]}' for this user: ${first.message}`,
        {
          status: 400,
          details: { ...details, field: column[1], fields: [column[1]] },
        },
      );
    }
    if (res.status === 401) {
      return new ConnectorAuthError(
        `${text}. A new session was refused too: check that the integration user may use the API (the "API Enabled" permission) and that the app's policies allow it.`,
        { details },
      );
    }
    // The concurrent long-request limit, still met after the retries: it passes as long requests end.
    if (res.status === 403 && first.errorCode === 'REQUEST_LIMIT_EXCEEDED')
      return new RetryableError(text, { details });
    if (res.status === 403) return new ConnectorAuthError(text, { details });
    if (res.status === 404 && /NOT_FOUND/.test(first.errorCode) && !what.includes('/id/')) {
      return new ConnectorRequestError(
        `${text}. If every call answers this, check SALESFORCE_API_VERSION (${this.apiVersion}): the org may not serve it.`,
        { details },
      );
    }
    if (res.status >= 500 || first.errorCode === LOCK_ERROR) return new RetryableError(text, { details });
    return new ConnectorRequestError(text, { details });
  }
}
