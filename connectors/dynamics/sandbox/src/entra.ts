/**
 * Microsoft Entra ID's v2.0 endpoints, as far as msal-node uses them: the OpenID discovery document, instance
 * discovery and the token endpoint (client_credentials and password grants). Errors follow the documented
 * body `{error, error_description, error_codes, timestamp, trace_id, correlation_id}`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { SandboxUser } from './store';

export interface EntraSettings {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
  /** The resource (organisation URL) whose `/.default` scope tokens are for. */
  resource: () => string;
  authorityHost: () => string;
  tokenLifetimeSeconds: number;
}

export interface IssuedToken {
  user: SandboxUser;
  expiresAt: number;
  revoked: boolean;
}

export interface EntraResponse {
  status: number;
  body: Record<string, unknown>;
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export class EntraModel {
  readonly tokens = new Map<string, IssuedToken>();
  tokenRequests = 0;

  constructor(
    private readonly settings: EntraSettings,
    private readonly users: Record<'app' | 'ropc', SandboxUser>,
  ) {}

  private error(status: number, error: string, code: number, description: string): EntraResponse {
    const trace = randomUUID();
    return {
      status,
      body: {
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${trace} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString()}`,
        error_codes: [code],
        timestamp: new Date()
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, 'Z'),
        trace_id: trace,
        correlation_id: randomUUID(),
      },
    };
  }

  private tenantOk(tenant: string, grant: string): boolean {
    if (tenant === this.settings.tenantId) return true;
    return grant === 'password' && tenant === 'organizations';
  }

  openidConfiguration(tenant: string): EntraResponse {
    const host = this.settings.authorityHost();
    const t =
      tenant === this.settings.tenantId || tenant === 'organizations' || tenant === 'common' ? tenant : undefined;
    if (!t) return this.error(400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found.`);
    return {
      status: 200,
      body: {
        token_endpoint: `${host}/${t}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${host}/${t}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${host}/${this.settings.tenantId}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${host}/oidc/userinfo`,
        authorization_endpoint: `${host}/${t}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${host}/${t}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${host}/${t}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'name', 'preferred_username', 'oid', 'tid'],
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
      },
    };
  }

  instanceDiscovery(): EntraResponse {
    const host = new URL(this.settings.authorityHost()).host;
    return {
      status: 200,
      body: {
        tenant_discovery_endpoint: `${this.settings.authorityHost()}/${this.settings.tenantId}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      },
    };
  }

  token(tenant: string, form: URLSearchParams, basicAuth?: { id: string; secret: string }): EntraResponse {
    this.tokenRequests += 1;
    const grant = form.get('grant_type') ?? '';
    const clientId = basicAuth?.id ?? form.get('client_id') ?? '';
    const secret = basicAuth?.secret ?? form.get('client_secret') ?? '';
    if (!this.tenantOk(tenant, grant)) {
      return this.error(
        400,
        'invalid_request',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID.`,
      );
    }
    if (grant !== 'client_credentials' && grant !== 'password') {
      return this.error(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grant}'.`,
      );
    }
    if (clientId !== this.settings.clientId) {
      return this.error(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory.`,
      );
    }
    if (secret !== this.settings.clientSecret) {
      return this.error(
        401,
        'invalid_client',
        7000215,
        'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
      );
    }
    const resourceScope = `${this.settings.resource()}/.default`;
    const scopes = (form.get('scope') ?? '').split(/\s+/).filter(Boolean);
    const resourceScopes = scopes.filter((s) => !['openid', 'profile', 'offline_access', 'email'].includes(s));
    const requested = resourceScopes[0]?.replace(/\/\/\.default$/, '/.default');
    if (resourceScopes.length !== 1 || !requested?.endsWith('/.default')) {
      return this.error(
        400,
        'invalid_scope',
        70011,
        `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${scopes.join(' ')} is not valid.`,
      );
    }
    if (requested !== resourceScope) {
      // A well-formed scope for a resource the tenant does not know (a wrong organisation URL): AADSTS500011.
      return this.error(
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${requested.replace(/\/\.default$/, '')} was not found in the tenant named ${this.settings.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      );
    }
    let user: SandboxUser;
    if (grant === 'password') {
      if (form.get('username') !== this.settings.username || form.get('password') !== this.settings.password) {
        return this.error(
          400,
          'invalid_grant',
          50126,
          'Error validating credentials due to invalid username or password.',
        );
      }
      user = this.users.ropc;
    } else {
      user = this.users.app;
    }
    const now = Math.floor(Date.now() / 1000);
    const lifetime = this.settings.tokenLifetimeSeconds;
    const claims = {
      aud: this.settings.resource(),
      iss: `https://sts.windows.net/${this.settings.tenantId}/`,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      appid: clientId,
      oid: user.id,
      tid: this.settings.tenantId,
      ver: '1.0',
      ...(grant === 'password' ? { upn: this.settings.username, scp: 'user_impersonation' } : { roles: [] }),
    };
    // Shaped like a JWT (header.payload.signature); the sandbox checks tokens by lookup, not by signature.
    const accessToken = `${b64url({ typ: 'JWT', alg: 'RS256', kid: 'sandbox' })}.${b64url(claims)}.${randomBytes(32).toString('base64url')}`;
    this.tokens.set(accessToken, { user, expiresAt: (now + lifetime) * 1000, revoked: false });
    const body: Record<string, unknown> = {
      token_type: 'Bearer',
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: accessToken,
    };
    if (grant === 'password') {
      body.scope =
        `${resourceScope.replace(/\/\.default$/, '/user_impersonation')} ${scopes.filter((s) => s !== resourceScopes[0]).join(' ')}`.trim();
      if (scopes.includes('offline_access')) body.refresh_token = randomBytes(48).toString('base64url');
      if (scopes.includes('openid')) {
        body.id_token = `${b64url({ typ: 'JWT', alg: 'RS256', kid: 'sandbox' })}.${b64url({
          aud: clientId,
          iss: `${this.settings.authorityHost()}/${this.settings.tenantId}/v2.0`,
          iat: now,
          nbf: now,
          exp: now + lifetime,
          name: user.name,
          oid: user.id,
          preferred_username: this.settings.username,
          sub: user.id,
          tid: this.settings.tenantId,
          ver: '2.0',
        })}.${randomBytes(32).toString('base64url')}`;
      }
      // msal-node asks for client_info (`client_info=1`) to key its account cache.
      if (form.get('client_info') === '1' || scopes.includes('openid')) {
        body.client_info = b64url({ uid: user.id, utid: this.settings.tenantId });
      }
    }
    return { status: 200, body };
  }

  /** The user a bearer token belongs to, or why it is refused. */
  authenticate(authorization: string | undefined): { user: SandboxUser } | { error: string } {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m?.[1]) return { error: 'MissingCrmAuthenticationToken' };
    const token = this.tokens.get(m[1]);
    if (!token || token.revoked) return { error: 'InvalidAuthTicket' };
    if (token.expiresAt <= Date.now()) return { error: 'ExpiredAuthTicket' };
    return { user: token.user };
  }

  /** Fault hook: every token issued so far stops working, as if it had expired. */
  expireAll(): void {
    for (const t of this.tokens.values()) t.expiresAt = 0;
  }
}
