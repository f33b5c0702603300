/**
 * The OAuth 2.0 token endpoint and sessions.
 * - Client credentials: the app's consumer key and secret (form body or HTTP Basic) for a token of its run-as
 *   integration user. The answer has no `expires_in` and no refresh token; `signature` is the Base64 HMAC-SHA256
 *   of `id` + `issued_at` keyed with the consumer secret.
 *   https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm
 * - JWT bearer: an RS256 JWT (`iss` = consumer key, `sub` = username, `aud` = the login URL, `exp`) signed with
 *   the key of the certificate uploaded to the app; the user must be pre-approved.
 *   https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm
 * - Errors are HTTP 400 `{ error, error_description }`.
 *   https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_flow_errors.htm
 * - A session ends after a period without requests (2 hours by default, an org setting); then the API answers
 *   401 INVALID_SESSION_ID.
 */
import { createHmac, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { decodeProtectedHeader, importX509, jwtVerify, errors as joseErrors } from 'jose';
import type { SandboxClock } from './clock';
import type { OrgIdentity } from './store';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface AuthSettings {
  clientId: string;
  clientSecret: string;
  /** The run-as user of the client credentials flow; without one the flow answers invalid_grant. */
  clientCredentialsEnabled: boolean;
  /** PEM of the certificate uploaded to the app for the JWT bearer flow; unset: the flow is not set up. */
  jwtCertificate?: string;
  /** Usernames pre-approved for the JWT bearer flow (the integration user's by default). */
  jwtApprovedUsers: string[];
  /** Audiences a JWT may name. */
  jwtAudiences: string[];
  sessionTimeoutSeconds: number;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, string>;
}

interface Session {
  issuedAt: number;
  lastUsed: number;
  revoked: boolean;
}

export class AuthModel {
  private readonly sessions = new Map<string, Session>();
  tokenRequests = 0;
  tokenFailures = 0;

  constructor(
    readonly settings: AuthSettings,
    private readonly identity: OrgIdentity,
    private readonly clock: SandboxClock,
    private readonly origin: () => string,
  ) {}

  identityUrl(): string {
    return `${this.origin()}/id/${this.identity.orgId}/${this.identity.userId}`;
  }

  async token(form: URLSearchParams, authorization: string | undefined): Promise<TokenAnswer> {
    this.tokenRequests += 1;
    const answer = await this.grant(form, authorization);
    if (answer.status !== 200) this.tokenFailures += 1;
    return answer;
  }

  private async grant(form: URLSearchParams, authorization: string | undefined): Promise<TokenAnswer> {
    const grantType = form.get('grant_type');
    if (grantType === 'client_credentials') return this.clientCredentials(form, authorization);
    if (grantType === JWT_BEARER_GRANT) return this.jwtBearer(form.get('assertion') ?? '');
    return fail('unsupported_grant_type', 'grant type not supported');
  }

  private clientCredentials(form: URLSearchParams, authorization: string | undefined): TokenAnswer {
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    if (basic?.[1]) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      id = decodeURIComponent(decoded.slice(0, colon < 0 ? undefined : colon));
      secret = colon < 0 ? '' : decodeURIComponent(decoded.slice(colon + 1));
    }
    if (!id || id !== this.settings.clientId) return fail('invalid_client_id', 'client identifier invalid');
    if (!secret || !sameText(secret, this.settings.clientSecret)) {
      return fail('invalid_client', 'invalid client credentials');
    }
    if (!this.settings.clientCredentialsEnabled) return fail('invalid_grant', 'no client credentials user enabled');
    return this.issue(true);
  }

  private async jwtBearer(assertion: string): Promise<TokenAnswer> {
    const certificate = this.settings.jwtCertificate;
    if (!assertion) return fail('invalid_request', 'assertion parameter is missing');
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(assertion).alg;
    } catch {
      return fail('invalid_grant', 'invalid assertion');
    }
    if (alg !== 'RS256') return fail('invalid_grant', 'invalid assertion');
    if (!certificate) return fail('invalid_grant', 'invalid assertion');
    try {
      const key = await importX509(certificate, 'RS256');
      const { payload } = await jwtVerify(assertion, key, {
        algorithms: ['RS256'],
        currentDate: new Date(this.clock.now()),
        requiredClaims: ['iss', 'sub', 'aud', 'exp'],
      });
      if (payload.iss !== this.settings.clientId) return fail('invalid_client_id', 'client identifier invalid');
      const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
      if (!audiences.some((a) => a !== undefined && this.settings.jwtAudiences.includes(a.replace(/\/$/, '')))) {
        return fail('invalid_grant', 'audience is invalid');
      }
      if (!this.settings.jwtApprovedUsers.includes(String(payload.sub))) {
        return fail('invalid_grant', "user hasn't approved this consumer");
      }
      return this.issue(false);
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) return fail('invalid_grant', 'expired authorization code');
      return fail('invalid_grant', 'invalid assertion');
    }
  }

  private issue(withSignature: boolean): TokenAnswer {
    const now = this.clock.now();
    // Session ids look like Salesforce's: the 15-character org id, '!', an opaque rest.
    const token = `${this.identity.orgId.slice(0, 15)}!${randomBytes(48).toString('base64url')}`;
    this.sessions.set(token, { issuedAt: now, lastUsed: now, revoked: false });
    const id = this.identityUrl();
    const issuedAt = String(now);
    const body: Record<string, string> = {
      access_token: token,
      ...(withSignature
        ? {
            signature: createHmac('sha256', this.settings.clientSecret)
              .update(id + issuedAt)
              .digest('base64'),
          }
        : {}),
      scope: 'api',
      instance_url: this.origin(),
      id,
      token_type: 'Bearer',
      ...(withSignature ? { issued_at: issuedAt } : {}),
    };
    return { status: 200, body };
  }

  /** Whether a request's bearer token is a live session; a live session's clock restarts. */
  authenticate(authorization: string | undefined): boolean {
    const m = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(authorization ?? '');
    const session = m?.[1] ? this.sessions.get(m[1]) : undefined;
    if (!session || session.revoked) return false;
    const now = this.clock.now();
    if (now - session.lastUsed > this.settings.sessionTimeoutSeconds * 1000) {
      session.revoked = true;
      return false;
    }
    session.lastUsed = now;
    return true;
  }

  /** Every session issued so far ends now (the next request with one of them gets 401). */
  expireAll(): void {
    for (const s of this.sessions.values()) s.revoked = true;
  }

  /** Sessions that would still be accepted. */
  liveSessions(): number {
    const now = this.clock.now();
    return [...this.sessions.values()].filter(
      (s) => !s.revoked && now - s.lastUsed <= this.settings.sessionTimeoutSeconds * 1000,
    ).length;
  }
}

function fail(error: string, description: string): TokenAnswer {
  return { status: 400, body: { error, error_description: description } };
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks that a PEM is an X.509 certificate before it is used to verify JWTs (a clear error at start). */
export function assertCertificate(pem: string): void {
  new X509Certificate(pem);
}
