/**
 * OAuth 2.0 sessions at `<My Domain>/services/oauth2/token`:
 * - client credentials: the app's consumer key and secret, for a token of its run-as integration user.
 *   https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm
 * - JWT bearer: an RS256 JWT (`iss` the consumer key, `sub` the username, `aud` the login host, `exp` a few
 *   minutes ahead) signed with the key of the certificate uploaded to the app; the user must be pre-approved.
 *   https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm
 *
 * Neither answer says when the token expires (a session ends after the org's inactivity timeout), so a token is
 * kept until Salesforce refuses it (401 INVALID_SESSION_ID) and then replaced once. The answer's `id` is the
 * identity URL, `/id/<orgId>/<userId>`: the org and the integration user without another call. Token requests
 * are not API calls (they do not count against the daily allocation).
 */
import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { request, type Agent } from 'undici';
import {
  ConnectorAuthError,
  ProtocolError,
  SingleFlight,
  RetryableError,
  TandemError,
  connectionError,
  networkFailure,
  withoutSecrets,
} from '@tandem/core/plugin';
import type { AuthMode } from './config';
import type { SalesforceMetrics } from './metrics';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** How long a JWT assertion is valid: Salesforce asks for an `exp` within 3 minutes. */
const JWT_LIFETIME_SECONDS = 180;

export interface Session {
  accessToken: string;
  /** The identity URL (`https://<host>/id/<orgId>/<userId>`). */
  identityUrl: string;
  /** The 18-character organization id (`00D…`). */
  orgId: string;
  /** The integration user's id (`005…`). */
  userId: string;
  /**
   * The origin REST requests go to: the answer's `instance_url` (it may differ from the host the token was asked of,
   * e.g. a login host or a domain being migrated), else the configured URL.
   */
  instanceUrl: string;
}

/** The origin of the token answer's `instance_url`, when it is an http(s) URL. */
export function instanceOrigin(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/** The org and user ids from an identity URL, or undefined when it is not one. */
export function parseIdentityUrl(url: string): { orgId: string; userId: string } | undefined {
  const m = /\/id\/(00D[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?)\/(005[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?)\/?$/.exec(url);
  return m?.[1] && m[2] ? { orgId: m[1], userId: m[2] } : undefined;
}

export class TokenSource {
  private session: Session | undefined;
  /** One token request at a time: a burst of 401s must not turn into a burst of token requests. */
  private readonly acquisition = new SingleFlight<Session>();

  constructor(
    private readonly url: string,
    private readonly clientId: string,
    private readonly mode: AuthMode,
    private readonly agent: Agent,
    private readonly metrics: SalesforceMetrics,
  ) {}

  /** The session in use, if any (for `check()`). */
  current(): Session | undefined {
    return this.session;
  }

  /**
   * A session for the REST API. `refused` is a token Salesforce refused (401): a new one is fetched unless another
   * caller already replaced it. An aborted `signal` rejects at once (and cancels the token request when nobody
   * else waits for it).
   */
  async get(refused?: string, signal?: AbortSignal): Promise<Session> {
    signal?.throwIfAborted();
    const session = this.session;
    if (session && (refused === undefined || refused !== session.accessToken)) return session;
    return this.acquisition.run(
      (acquiring) =>
        this.fetchSession(acquiring).then((fresh) => {
          this.session = fresh;
          return fresh;
        }),
      signal,
    );
  }

  private async form(): Promise<URLSearchParams> {
    if (this.mode.flow === 'client_credentials') {
      return new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.clientId,
        client_secret: this.mode.clientSecret,
      });
    }
    let key;
    try {
      key = createPrivateKey(this.mode.privateKey);
    } catch (error) {
      throw new TandemError('BAD_CONFIG', 'Salesforce: SALESFORCE_JWT_KEY is not a PEM private key Node can read.', {
        status: 400,
        cause: error,
        details: { variables: ['SALESFORCE_JWT_KEY'] },
      });
    }
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(this.clientId)
      .setSubject(this.mode.username)
      .setAudience(this.mode.audience)
      .setExpirationTime(now + JWT_LIFETIME_SECONDS)
      .sign(key);
    return new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion });
  }

  private async fetchSession(signal: AbortSignal): Promise<Session> {
    const tokenUrl = `${this.url}/services/oauth2/token`;
    const body = (await this.form()).toString();
    this.metrics.tokenRequest(this.mode.flow);
    let res;
    try {
      res = await request(tokenUrl, {
        method: 'POST',
        dispatcher: this.agent,
        signal,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const failure = networkFailure(error);
      if (failure) throw connectionError('Salesforce', tokenUrl, failure, ['SALESFORCE_URL'], error);
      throw new RetryableError(`Salesforce token request failed: ${(error as Error).message}`, { cause: error });
    }
    const text = await res.body.text();
    const type = String(res.headers['content-type'] ?? '');
    let parsed: Record<string, unknown> | undefined;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value))
        parsed = value as Record<string, unknown>;
    } catch {
      parsed = undefined;
    }
    const host = new URL(tokenUrl).host;
    if (!parsed) {
      const error = `Salesforce's token endpoint at ${host} answered HTTP ${res.statusCode} with ${type || 'no content type'}, not an OAuth answer: is SALESFORCE_URL the org's My Domain URL (https://<domain>.my.salesforce.com)?`;
      if (res.statusCode >= 500) throw new RetryableError(error, { details: { status: res.statusCode } });
      throw new ProtocolError(error, { details: { status: res.statusCode, variables: ['SALESFORCE_URL'] } });
    }
    if (res.statusCode !== 200) {
      const code = typeof parsed.error === 'string' ? parsed.error : `HTTP_${res.statusCode}`;
      const description = typeof parsed.error_description === 'string' ? parsed.error_description : '';
      if (res.statusCode >= 500) {
        throw new RetryableError(`Salesforce's token endpoint at ${host} failed: HTTP ${res.statusCode} ${code}`, {
          details: { status: res.statusCode },
        });
      }
      const variables = this.variablesFor(code, description);
      const said = withoutSecrets(description, [this.secret()]);
      throw new ConnectorAuthError(
        `Salesforce (${host}) refused the token request (${this.flowName()}): ${code}${said ? `: ${said}` : ''}. Check ${variables.join(', ')}.`,
        { details: { system: 'Salesforce', host, errorCode: code, variables } },
      );
    }
    const accessToken = parsed.access_token;
    const identityUrl = parsed.id;
    const ids = typeof identityUrl === 'string' ? parseIdentityUrl(identityUrl) : undefined;
    if (typeof accessToken !== 'string' || !accessToken || typeof identityUrl !== 'string' || !ids) {
      throw new ProtocolError(
        `Salesforce's token endpoint at ${host} answered without an access token or an identity URL (/id/<org>/<user>).`,
      );
    }
    const instanceUrl = instanceOrigin(parsed.instance_url) ?? new URL(this.url).origin;
    return { accessToken, identityUrl, ...ids, instanceUrl };
  }

  private secret(): string | undefined {
    return this.mode.flow === 'client_credentials' ? this.mode.clientSecret : undefined;
  }

  private flowName(): string {
    return this.mode.flow === 'client_credentials' ? 'client credentials' : 'JWT bearer';
  }

  /** The variables behind a token endpoint error (OAuth 2.0 error codes, and Salesforce's descriptions). */
  private variablesFor(code: string, description: string): string[] {
    if (code === 'invalid_client_id') return ['SALESFORCE_CLIENT_ID'];
    if (this.mode.flow === 'client_credentials') {
      if (code === 'invalid_client') return ['SALESFORCE_CLIENT_SECRET', 'SALESFORCE_CLIENT_ID'];
      // "no client credentials user enabled": the app has no run-as user for the flow.
      if (code === 'invalid_grant') return ["the app's client-credentials Run As user", 'SALESFORCE_CLIENT_ID'];
      if (code === 'unsupported_grant_type') return ['that the app enables the client-credentials flow'];
      return ['SALESFORCE_CLIENT_ID', 'SALESFORCE_CLIENT_SECRET', 'SALESFORCE_URL'];
    }
    if (/audience/i.test(description)) return ['SALESFORCE_JWT_AUDIENCE'];
    if (/approv/i.test(description)) return ['SALESFORCE_USERNAME (pre-approved for the app)', 'SALESFORCE_CLIENT_ID'];
    if (/expired/i.test(description)) return ["this machine's clock"];
    if (code === 'invalid_client') return ['SALESFORCE_CLIENT_ID'];
    return ['SALESFORCE_JWT_KEY', 'SALESFORCE_USERNAME', 'SALESFORCE_CLIENT_ID'];
  }
}
