/**
 * Entra ID tokens through msal-node's ConfidentialClientApplication: client credentials or, when a username
 * and password are configured, the resource-owner password grant. MSAL caches and renews tokens; a token Dataverse
 * refused (401) makes the next request skip its cache. MSAL talks through our undici Agent (INetworkModule) so that
 * it trusts `tlsCa` like the Web API client does, and `knownAuthorities` keeps it from asking Microsoft's instance
 * discovery about a non-Microsoft authority host (the sandbox, a sovereign cloud).
 *
 * MSAL reports a host it cannot reach as "endpoints_resolution_error: See https://aka.ms/…", having swallowed
 * what happened; the network module therefore records what each of its requests met, and `explain` turns that
 * (or Entra's own error) into a message naming Entra ID, the host, what failed and the variables to check.
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
import {
  ConnectorAuthError,
  ProtocolError,
  SingleFlight,
  RetryableError,
  connectionError,
  networkFailure,
  withoutSecrets,
  type NetworkFailure,
  type TandemError,
} from '@tandem/core/plugin';
import type { Logger } from 'pino';
import { authMode, type AuthMode, type DynamicsConfig } from './config';

/** What one of MSAL's requests met: a failure on the wire, or an answer that was not a success. */
export interface NetworkEvent {
  url: string;
  failure?: NetworkFailure;
  status?: number;
  /** Entra's `error` and `error_description`, when the answer was an Entra error body. */
  error?: string;
  description?: string;
  /** The content type of an answer that was not JSON. */
  notJson?: string;
}

/** MSAL's network calls over undici, with our TLS trust, our abort signal and a record of what went wrong. */
export class UndiciNetworkModule implements INetworkModule {
  /** What the requests of the current token acquisition met (reset by the token source before each). */
  events: NetworkEvent[] = [];
  /** Aborts the current acquisition's requests (MSAL's API takes no signal). */
  signal: AbortSignal | undefined;

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
    let res;
    try {
      res = await request(url, {
        method,
        dispatcher: this.agent,
        headers: options?.headers,
        body: method === 'POST' ? (options?.body ?? '') : undefined,
        signal: this.signal,
        ...(timeout ? { headersTimeout: timeout, bodyTimeout: timeout } : {}),
      });
    } catch (error) {
      const failure = networkFailure(error);
      if (failure) this.events.push({ url, failure });
      throw error;
    }
    const text = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      this.events.push({ url, status: res.statusCode, notJson: headers['content-type'] ?? 'no content type' });
      // MSAL expects JSON; what it makes of anything else is vaguer than what the record says.
      throw new ProtocolError(`Entra ID answered HTTP ${res.statusCode} with a body that is not JSON`);
    }
    if (res.statusCode >= 400) {
      const { error, error_description: description } = (body ?? {}) as Record<string, unknown>;
      this.events.push({
        url,
        status: res.statusCode,
        error: typeof error === 'string' ? error : undefined,
        description: typeof description === 'string' ? description : undefined,
      });
    }
    return { status: res.statusCode, headers, body: body as T };
  }
}

export interface TokenSource {
  /**
   * A bearer token for Dataverse; `failed` is a token Dataverse refused (401): get a new one, skipping caches.
   * An aborted `signal` rejects at once (and cancels the token request when nobody else waits for it).
   */
  token(failed?: string, signal?: AbortSignal): Promise<string>;
}

export class MsalTokenSource implements TokenSource {
  private readonly app: ConfidentialClientApplication;
  private readonly network: UndiciNetworkModule;
  private readonly mode: AuthMode;
  private readonly scope: string;
  private readonly authority: string;
  /**
   * The last result, reused until two minutes before it expires. ROPC results are not looked up in MSAL's cache
   * at all, and MSAL's cache look-up for client credentials (URL parsing, cache key scans) costs more CPU than
   * the Dataverse request it would authorize, so neither grant asks MSAL while this token is good.
   */
  private cached: AuthenticationResult | undefined;
  /** One token request at a time: a burst of 401s must not turn into a burst of token requests. */
  private readonly acquisition = new SingleFlight<string>();
  /** The last token handed out, so that parallel 401s for the same token cause one refresh, not one each. */
  private current: string | undefined;

  constructor(
    private readonly config: DynamicsConfig,
    agent: Agent,
    private readonly logger: Logger,
    private readonly onTokenRequest: () => void,
  ) {
    this.mode = authMode(config);
    const host = new URL(config.authorityHost).host;
    this.scope = `${config.url.replace(/\/+$/, '')}/.default`;
    this.authority = `${config.authorityHost.replace(/\/+$/, '')}/${config.tenantId}`;
    this.network = new UndiciNetworkModule(agent);
    this.app = new ConfidentialClientApplication({
      auth: {
        clientId: config.clientId,
        // ROPC from a confidential client sends the secret too; without one MSAL still needs a credential value.
        clientSecret: config.clientSecret ?? '',
        authority: this.authority,
        knownAuthorities: [host],
      },
      system: {
        networkClient: this.network,
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

  async token(failed?: string, signal?: AbortSignal): Promise<string> {
    signal?.throwIfAborted();
    return this.acquisition.run((acquiring) => {
      // Decided when a request starts: a caller joining one under way gets its token, whatever it was refused.
      const force = failed !== undefined && failed === this.current;
      return this.acquire(force, acquiring).then((token) => {
        this.current = token;
        return token;
      });
    }, signal);
  }

  private async acquire(force: boolean, signal: AbortSignal): Promise<string> {
    const cached = this.cached;
    if (!force && cached?.expiresOn && cached.expiresOn.getTime() - Date.now() > 120_000) return cached.accessToken;
    this.network.events = [];
    this.network.signal = signal;
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
      if (signal.aborted) throw signal.reason;
      throw this.explain(error, this.network.events);
    } finally {
      this.network.signal = undefined;
    }
    if (!result?.accessToken) throw new ConnectorAuthError('Entra ID returned no access token.');
    this.cached = result;
    return result.accessToken;
  }

  /** The error a failed token request means, from what the network saw rather than from MSAL's summary. */
  private explain(error: unknown, events: readonly NetworkEvent[]): TandemError {
    const secrets = [this.config.clientSecret, this.config.password];
    const host = new URL(this.authority).host;
    const wire = events.find((e) => e.failure);
    if (wire?.failure) {
      return connectionError('Entra ID', wire.url, wire.failure, ['DYNAMICS_AUTHORITY_HOST'], error);
    }
    const refusal = events.find((e) => e.error) ?? serverError(error);
    if (refusal?.error) {
      const aadsts = /AADSTS(\d+)/.exec(refusal.description ?? '')?.[1];
      const summary = withoutSecrets(
        (refusal.description ?? refusal.error).split(/\r?\n| Trace ID:/)[0] ?? '',
        secrets,
      );
      const variables = this.variablesFor(refusal.error, aadsts);
      return new ConnectorAuthError(
        `Entra ID (${host}) refused the token request: ${refusal.error}${summary ? `: ${summary.trim()}` : ''}. Check ${variables.join(', ')}.`,
        { cause: error, details: { system: 'Entra ID', host, errorCode: refusal.error, aadsts, variables } },
      );
    }
    const odd = events.find((e) => e.notJson);
    if (odd) {
      return new ProtocolError(
        `Entra ID at ${host} answered HTTP ${odd.status ?? '?'} with ${odd.notJson}, not an Entra ID answer: is DYNAMICS_AUTHORITY_HOST (${this.config.authorityHost}) an Entra ID host, or is a proxy in the way?`,
        { cause: error, details: { system: 'Entra ID', host, status: odd.status } },
      );
    }
    const e = error as { errorCode?: unknown; errorMessage?: unknown; message?: unknown };
    const code = typeof e.errorCode === 'string' ? e.errorCode : 'unknown';
    const message = withoutSecrets(
      typeof e.errorMessage === 'string' && e.errorMessage ? e.errorMessage : String(e.message ?? error),
      secrets,
    );
    return new RetryableError(
      `Entra ID (${host}) token request failed (${code}): ${message}. Check DYNAMICS_AUTHORITY_HOST and DYNAMICS_TENANT_ID.`,
      { cause: error, details: { system: 'Entra ID', host, errorCode: code } },
    );
  }

  /** The variables behind an Entra error (https://learn.microsoft.com/entra/identity-platform/reference-error-codes). */
  private variablesFor(error: string, aadsts: string | undefined): string[] {
    const credentials =
      this.mode.grant === 'password'
        ? ['DYNAMICS_USERNAME', 'DYNAMICS_PASSWORD']
        : ['DYNAMICS_CLIENT_ID', 'DYNAMICS_CLIENT_SECRET'];
    if (aadsts === '90002' || error === 'invalid_tenant') return ['DYNAMICS_TENANT_ID', 'DYNAMICS_AUTHORITY_HOST'];
    if (aadsts === '700016' || error === 'unauthorized_client') return ['DYNAMICS_CLIENT_ID', 'DYNAMICS_TENANT_ID'];
    if (aadsts === '500011' || error === 'invalid_resource' || error === 'invalid_scope') return ['DYNAMICS_URL'];
    if (error === 'invalid_grant') return [...credentials, 'DYNAMICS_TENANT_ID'];
    if (error === 'invalid_client') return ['DYNAMICS_CLIENT_SECRET', 'DYNAMICS_CLIENT_ID'];
    return ['DYNAMICS_TENANT_ID', ...credentials];
  }
}

/** Entra's error as MSAL's ServerError carries it (`errorCode` is Entra's `error`, `errorMessage` its description). */
function serverError(error: unknown): NetworkEvent | undefined {
  const e = error as { name?: unknown; errorCode?: unknown; errorMessage?: unknown };
  if (e?.name !== 'ServerError' || typeof e.errorCode !== 'string') return undefined;
  return { url: '', error: e.errorCode, description: typeof e.errorMessage === 'string' ? e.errorMessage : undefined };
}
