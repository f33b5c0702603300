/**
 * Entra ID tokens through msal-node's ConfidentialClientApplication: client credentials or, when a username
 * and password are configured, the resource-owner password grant. MSAL caches and renews tokens; `token(true)`
 * skips its cache after Dataverse answered 401. MSAL talks through our undici Agent (INetworkModule) so that it
 * trusts `tlsCa` like the Web API client does, and `knownAuthorities` keeps it from asking Microsoft's
 * instance discovery about a non-Microsoft authority host (the sandbox, a sovereign cloud).
 */
import {
  ConfidentialClientApplication,
  LogLevel,
  type AuthenticationResult,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import { request, type Agent } from 'undici';
import { ConnectorAuthError, ProtocolError, RetryableError } from '@tandem/core/plugin';
import type { Logger } from 'pino';
import { authMode, type AuthMode, type DynamicsConfig } from './config';

/** MSAL's network calls over undici, with our TLS trust. */
export class UndiciNetworkModule implements INetworkModule {
  constructor(private readonly agent: Agent) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(
    method: 'GET' | 'POST',
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    const res = await request(url, {
      method,
      dispatcher: this.agent,
      headers: options?.headers,
      body: method === 'POST' ? (options?.body ?? '') : undefined,
      ...(timeout ? { headersTimeout: timeout, bodyTimeout: timeout } : {}),
    });
    const text = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // MSAL expects JSON; an HTML page from a proxy becomes a clear error here rather than inside MSAL.
      throw new ProtocolError(
        `Entra ID answered HTTP ${res.statusCode} with a body that is not JSON (${headers['content-type'] ?? 'no content type'}) from ${url}`,
      );
    }
    return { status: res.statusCode, headers, body: body as T };
  }
}

export interface TokenSource {
  /** A bearer token for Dataverse; `failed` is a token Dataverse refused (401): get a new one, skipping caches. */
  token(failed?: string, signal?: AbortSignal): Promise<string>;
}

export class MsalTokenSource implements TokenSource {
  private readonly app: ConfidentialClientApplication;
  private readonly mode: AuthMode;
  private readonly scope: string;
  /**
   * The last result, reused until two minutes before it expires. ROPC results are not looked up in MSAL's cache
   * at all, and MSAL's cache look-up for client credentials (URL parsing, cache key scans) costs more CPU than
   * the Dataverse request it would authorize, so neither grant asks MSAL while this token is good.
   */
  private cached: AuthenticationResult | undefined;
  private pending: Promise<string> | undefined;
  /** The last token handed out, so that parallel 401s for the same token cause one refresh, not one each. */
  private current: string | undefined;

  constructor(
    config: DynamicsConfig,
    agent: Agent,
    private readonly logger: Logger,
    private readonly onTokenRequest: () => void,
  ) {
    this.mode = authMode(config);
    const host = new URL(config.authorityHost).host;
    this.scope = `${config.url.replace(/\/+$/, '')}/.default`;
    this.app = new ConfidentialClientApplication({
      auth: {
        clientId: config.clientId,
        // ROPC from a confidential client sends the secret too; without one MSAL still needs a credential value.
        clientSecret: config.clientSecret ?? '',
        authority: `${config.authorityHost.replace(/\/+$/, '')}/${config.tenantId}`,
        knownAuthorities: [host],
      },
      system: {
        networkClient: new UndiciNetworkModule(agent),
        loggerOptions: {
          logLevel: LogLevel.Warning,
          piiLoggingEnabled: false,
          // MSAL's warnings (e.g. "No client info in response" for app-only tokens) are not actionable for
          // operators: keep them at debug; its errors stay visible.
          loggerCallback: (level, message) => {
            if (level === LogLevel.Error) this.logger.warn({ msal: true }, message);
            else if (level === LogLevel.Warning) this.logger.debug({ msal: true }, message);
          },
        },
      },
    });
  }

  token(failed?: string): Promise<string> {
    // One token request at a time: a burst of 401s must not turn into a burst of token requests.
    if (this.pending) return this.pending;
    const force = failed !== undefined && failed === this.current;
    this.pending = this.acquire(force)
      .then((token) => {
        this.current = token;
        return token;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  private async acquire(force: boolean): Promise<string> {
    const cached = this.cached;
    if (!force && cached?.expiresOn && cached.expiresOn.getTime() - Date.now() > 120_000) return cached.accessToken;
    let result: AuthenticationResult | null;
    try {
      if (this.mode.grant === 'password') {
        this.onTokenRequest();
        result = await this.app.acquireTokenByUsernamePassword({
          scopes: [this.scope],
          username: this.mode.username,
          password: this.mode.password,
        });
      } else {
        // MSAL answers from its cache unless skipCache; we count only real trips, which MSAL reports as `fromCache`.
        result = await this.app.acquireTokenByClientCredential({ scopes: [this.scope], skipCache: force });
        if (result && !result.fromCache) this.onTokenRequest();
      }
    } catch (error) {
      throw mapMsalError(error);
    }
    if (!result?.accessToken) throw new ConnectorAuthError('Entra ID returned no access token.');
    this.cached = result;
    return result.accessToken;
  }
}

function mapMsalError(error: unknown): Error {
  if (error instanceof ProtocolError) return error;
  const e = error as { errorCode?: unknown; errorMessage?: unknown; message?: unknown; subError?: unknown };
  const code = typeof e.errorCode === 'string' ? e.errorCode : 'unknown';
  const message =
    typeof e.errorMessage === 'string' && e.errorMessage
      ? e.errorMessage
      : typeof e.message === 'string'
        ? e.message
        : String(error);
  // Network trouble is worth a retry; a refused credential or scope is not.
  if (/network|timed?out|ECONN|ENOTFOUND|socket/i.test(`${code} ${message}`)) {
    return new RetryableError(`Entra ID token request failed: ${message}`, { cause: error });
  }
  return new ConnectorAuthError(`Entra ID refused the token request (${code}): ${message}`, {
    cause: error,
    details: { errorCode: code },
  });
}
