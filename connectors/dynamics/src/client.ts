/**
 * The Web API client: every request to Dataverse goes through `send`, which adds the OData headers and the
 * bearer token, waits for the limiter, refreshes the token once on 401, honours 429 Retry-After (with
 * exponential backoff and jitter when none is given), retries 5xx and dropped connections for idempotent requests
 * only, sends a GET whose URL something in front of Dataverse will not take inside `$batch` instead (see
 * `UrlLengthLimit`), and turns what Dataverse (or a proxy in front of it) answered, or a connection that could not
 * be made, into a `TandemError` naming what to check. An aborted signal stops it wherever it waits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Agent } from 'undici';
import type { Logger } from 'pino';
import {
  ConnectorAuthError,
  ConnectorRequestError,
  ProtocolError,
  RetryableError,
  TandemError,
  connectionError,
  networkFailure,
} from '@tandem/core/plugin';
import type { TokenSource } from './auth';
import { buildBatch, parseBatchResponse } from './batch';
import type { ResolvedLimits } from './config';
import type { RequestLimiter } from './limiter';
import type { DynamicsMetrics } from './metrics';
import { closedWithoutAnswer, transient } from './network';
import { UrlLengthLimit } from './url-limit';

export interface DvResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface SendOptions {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Absolute URL under the Web API, or a path relative to it (`contacts?$select=...`). */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Safe to send again after a 5xx or a network error (GETs are; a `$batch` of creates is not). */
  idempotent?: boolean;
}

export interface DataverseError {
  code: string;
  message: string;
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** `{"error":{"code","message"}}` from a JSON body, when there is one. */
export function dataverseError(text: string): DataverseError | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
      const e = (parsed as { error: unknown }).error;
      if (typeof e === 'object' && e !== null) {
        const { code, message } = e as { code?: unknown; message?: unknown };
        return { code: typeof code === 'string' ? code : '', message: typeof message === 'string' ? message : '' };
      }
    }
  } catch {
    // not JSON
  }
  return undefined;
}

function describeBody(res: DvResponse): string {
  const type = res.headers['content-type'] ?? 'no content type';
  const title = /<title>([^<]*)<\/title>/i.exec(res.text)?.[1];
  const snippet = title ?? res.text.replace(/\s+/g, ' ').slice(0, 120);
  return `${type}${snippet ? `: "${snippet}"` : ''}`;
}

/** What the last answer said about the server, for `check()` (clock skew, service protection allowance). */
export interface LastAnswer {
  /** The HTTP `Date` header. */
  date?: string;
  /** `x-ms-ratelimit-burst-remaining-xrm-requests`: requests left in the 5-minute window (sent when near the limit). */
  requestsRemaining?: number;
}

export class DataverseClient {
  readonly apiBase: string;
  readonly urlLimit: UrlLengthLimit;
  lastAnswer: LastAnswer = {};

  constructor(
    orgUrl: string,
    private readonly tokens: TokenSource,
    private readonly limiter: RequestLimiter,
    private readonly metrics: DynamicsMetrics,
    private readonly logger: Logger,
    private readonly agent: Agent,
    private readonly limits: ResolvedLimits,
  ) {
    this.apiBase = `${orgUrl.replace(/\/+$/, '')}/api/data/v9.2/`;
    this.urlLimit = new UrlLengthLimit(this.apiBase);
  }

  /**
   * Resolves a path relative to the Web API, a server-relative one (`/api/data/...`) or an absolute URL, and refuses
   * one on another host (a stored cursor must not send our token away). OData lets a service write its links
   * relative (OData JSON Format 4.0, 4.5.1), and an absolute one may spell the host in another case or with its
   * default port: each is taken as a URL under this org's Web API (the version segment as the link gives it), its
   * path and query kept byte for byte, as Dataverse asks of its paging links.
   */
  resolve(url: string): string {
    const absolute = /^https?:\/\//i.test(url);
    if (!absolute && !url.startsWith('/')) return this.apiBase + url;
    const base = new URL(this.apiBase);
    const root = base.pathname.replace(/\/v[^/]*\/$/, '/');
    let target: URL | undefined;
    try {
      target = new URL(url, base);
    } catch {
      target = undefined;
    }
    if (!target || target.origin !== base.origin || !target.pathname.toLowerCase().startsWith(root.toLowerCase())) {
      throw new TandemError(
        'BAD_REQUEST',
        `Refusing to call ${url.slice(0, 80)}: not this connection's Web API (${this.apiBase}).`,
        { status: 400 },
      );
    }
    return base.origin + (absolute ? url.replace(/^https?:\/\/[^/?#]*/i, '') : url);
  }

  async send(options: SendOptions): Promise<DvResponse> {
    const url = this.resolve(options.url);
    // A GET as long as one that was refused before goes inside $batch straight away: the failure is paid once.
    if (options.method === 'GET' && this.urlLimit.refuses(url)) return this.sendInBatch(options, url);
    const idempotent = options.idempotent ?? options.method === 'GET';
    let refreshed = false;
    let failedToken: string | undefined;
    for (let attempt = 0; ; attempt += 1) {
      options.signal?.throwIfAborted();
      const token = await this.tokens.token(failedToken, options.signal);
      failedToken = undefined;
      let res: DvResponse;
      try {
        res = await this.limiter.run(() => this.once(options, url, token), options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (error instanceof TandemError) throw error;
        // A gateway that drops a request it will not take, rather than answer 414: try the URL inside $batch.
        if (options.method === 'GET' && this.urlLimit.suspect(url) && closedWithoutAnswer(error)) {
          return this.tooLong(options, url, 'the connection was closed with no answer');
        }
        const failure = networkFailure(error);
        // Only a request that may have got through is sent again; a connection that could not be made (refused,
        // no such name, TLS) is reported now: the next cycle tries again, and an operator can act meanwhile.
        if (failure && transient(failure) && idempotent && attempt < this.limits.maxRetries) {
          this.metrics.retry();
          await this.backoff(attempt, undefined, options.signal);
          continue;
        }
        if (failure) throw connectionError('Dynamics (Dataverse)', url, failure, ['DYNAMICS_URL'], error);
        throw new RetryableError(`Dataverse request failed: ${(error as Error).message}`, { cause: error });
      }
      if ((res.status === 414 || res.status === 431) && options.method === 'GET' && this.urlLimit.suspect(url)) {
        return this.tooLong(options, url, `HTTP ${res.status}`);
      }
      if (res.status === 401 && !refreshed) {
        // An expired or revoked token: get a new one (skipping MSAL's cache) and try once more.
        refreshed = true;
        failedToken = token;
        this.metrics.stats.unauthorizedRetries += 1;
        this.logger.debug({ url }, 'dynamics: 401, refreshing the token');
        continue;
      }
      // Any other answer means the token was accepted: should it expire while this request waits out a 429 or a
      // 5xx, it may be refreshed once more (only a fresh token refused at once is the credentials' fault).
      if (res.status !== 401) refreshed = false;
      if (res.status === 429) {
        this.metrics.throttled();
        if (attempt < this.limits.maxRetries) {
          this.metrics.retry();
          await this.backoff(attempt, retryAfterMs(res.headers['retry-after']), options.signal);
          continue;
        }
        return res;
      }
      if (res.status >= 500 && idempotent && attempt < this.limits.maxRetries) {
        this.metrics.retry();
        await this.backoff(attempt, retryAfterMs(res.headers['retry-after']), options.signal);
        continue;
      }
      return res;
    }
  }

  /** Remembers that URLs this long are refused, and sends this one inside `$batch`. */
  private async tooLong(options: SendOptions, url: string, why: string): Promise<DvResponse> {
    const limit = this.urlLimit.refused(url.length);
    this.metrics.urlTooLong();
    this.logger.info(
      { urlLength: url.length, limit },
      `dynamics: a ${url.length}-character URL was refused (${why}), probably by a proxy or gateway in front of Dataverse; GETs of ${limit} characters or more now go inside $batch`,
    );
    return this.sendInBatch(options, url);
  }

  /**
   * A GET sent as the one operation of a `$batch`, where Dataverse takes URLs up to 64 KB
   * (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/overview#url-length-limitations);
   * its answer is handed back as if the GET had been sent directly.
   */
  private async sendInBatch(options: SendOptions, url: string): Promise<DvResponse> {
    const batch = buildBatch(this.apiBase, [
      { method: 'GET', url, headers: { Accept: 'application/json', ...options.headers } },
    ]);
    const res = await this.send({
      method: 'POST',
      url: '$batch',
      headers: { 'content-type': batch.contentType },
      body: batch.body,
      signal: options.signal,
      // Reading is safe to repeat, even in a batch.
      idempotent: true,
    });
    if (!/multipart\/mixed/i.test(res.headers['content-type'] ?? '')) return res;
    const [part] = parseBatchResponse(res.headers['content-type'], res.text, 1);
    if (!part) throw new ProtocolError('Dataverse answered a $batch holding one GET with no answer for it.');
    return { status: part.status, headers: part.headers, text: part.body };
  }

  private async once(options: SendOptions, url: string, token: string): Promise<DvResponse> {
    const res = await request(url, {
      method: options.method,
      dispatcher: this.agent,
      signal: options.signal,
      headers: {
        accept: 'application/json',
        'odata-maxversion': '4.0',
        'odata-version': '4.0',
        ...(options.body !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : {}),
        ...options.headers,
        authorization: `Bearer ${token}`,
      },
      body: options.body,
    });
    const text = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    this.metrics.request(options.method, res.statusCode);
    const remaining = Number(headers['x-ms-ratelimit-burst-remaining-xrm-requests'] ?? Number.NaN);
    this.lastAnswer = {
      ...(headers['date'] ? { date: headers['date'] } : {}),
      ...(Number.isFinite(remaining) ? { requestsRemaining: remaining } : {}),
    };
    return { status: res.statusCode, headers, text };
  }

  /** Waits Retry-After (plus up to 20% jitter) or an exponential backoff with jitter. */
  private async backoff(attempt: number, hintMs: number | undefined, signal?: AbortSignal): Promise<void> {
    const base = hintMs ?? this.limits.backoffMs * 2 ** attempt;
    const wait = Math.min(base * (1 + Math.random() * 0.2), 5 * 60_000);
    await sleep(wait, undefined, { signal });
  }

  /** A JSON object from a successful response, or the error the response means. */
  async json(options: SendOptions): Promise<Record<string, unknown>> {
    const res = await this.send(options);
    if (res.status < 200 || res.status >= 300) throw this.toError(res, `${options.method} ${options.url}`);
    return this.parse(res, `${options.method} ${options.url}`);
  }

  parse(res: DvResponse, what: string): Record<string, unknown> {
    if (!/json/i.test(res.headers['content-type'] ?? '')) {
      throw new ProtocolError(
        `Dataverse answered ${what} with HTTP ${res.status} and a body that is not JSON (${describeBody(res)}); is a proxy in the way?`,
        {
          details: { status: res.status },
        },
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.text);
    } catch (error) {
      throw new ProtocolError(
        `Dataverse answered ${what} with malformed JSON (${res.text.length} bytes): ${(error as Error).message}`,
        {
          cause: error,
          details: { status: res.status },
        },
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ProtocolError(`Dataverse answered ${what} with JSON that is not an object.`);
    }
    return parsed as Record<string, unknown>;
  }

  /** The error an unsuccessful response means. */
  toError(res: DvResponse, what: string): TandemError {
    const dv = dataverseError(res.text);
    const details = { status: res.status, code: dv?.code, message: dv?.message };
    if (!dv && (res.status === 401 || res.status === 403 || res.status === 429)) {
      // These mean the same with or without a body: Dataverse refuses a token with an empty 401 whose reason is in
      // `WWW-Authenticate` (RFC 6750), and a 429 is service protection whatever its body.
      const reason = res.headers['www-authenticate'];
      const text = `Dataverse ${what}: HTTP ${res.status}${reason ? ` (WWW-Authenticate: ${reason.slice(0, 200)})` : ''}`;
      if (res.status === 429)
        return new RetryableError(text, { retryAfterMs: retryAfterMs(res.headers['retry-after']), details });
      if (res.status === 403) return new ConnectorAuthError(text, { details });
      return new ConnectorAuthError(
        `${text}. Check that the app registration DYNAMICS_CLIENT_ID is an application user of the org at DYNAMICS_URL.`,
        { details },
      );
    }
    if (!dv) {
      return new ProtocolError(
        `Dataverse answered ${what} with HTTP ${res.status} and no Dataverse error body (${describeBody(res)}); is a proxy in the way?`,
        { details },
      );
    }
    const text = `Dataverse ${what}: HTTP ${res.status}${dv.code ? ` ${dv.code}` : ''} ${dv.message}`;
    const unknown = /Could not find a property named '([^']+)'/.exec(dv.message);
    if (res.status === 400 && unknown) {
      return new TandemError('UNKNOWN_FIELD', `Dynamics has no column '${unknown[1]}': ${dv.message}`, {
        status: 400,
        details: { ...details, field: unknown[1], fields: [unknown[1]] },
      });
    }
    if (res.status === 401) {
      // A token Entra issued that the org refuses: the app registration has no application user in this org.
      return new ConnectorAuthError(
        `${text}. Check that the app registration DYNAMICS_CLIENT_ID is an application user of the org at DYNAMICS_URL.`,
        { details },
      );
    }
    if (res.status === 403) return new ConnectorAuthError(text, { details });
    if (res.status === 429 || res.status >= 500) {
      return new RetryableError(text, { retryAfterMs: retryAfterMs(res.headers['retry-after']), details });
    }
    return new ConnectorRequestError(text, { details });
  }
}
