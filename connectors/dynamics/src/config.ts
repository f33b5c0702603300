/**
 * The connection's configuration (TypeBox, validated by the host) and the environment variables that fill it
 * (CONTRACT.md). Which grant to use cannot be said in the schema alone, so `authMode` checks it with a message
 * naming the variables.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Secret, TandemError, type EnvBinding } from '@tandem/core/plugin';

export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

export const DynamicsConfigSchema = Type.Object(
  {
    url: Type.String({
      format: 'uri',
      pattern: '^https?://',
      description: 'Organisation URL, e.g. https://contoso.crm.dynamics.com',
    }),
    tenantId: Type.String({ minLength: 1, description: 'Entra ID tenant (GUID or domain)' }),
    clientId: Type.String({ minLength: 1, description: 'App registration (client) id' }),
    clientSecret: Type.Optional(
      Secret({ description: 'Client secret (client-credentials grant, also sent with ROPC)' }),
    ),
    username: Type.Optional(
      Type.String({ minLength: 1, description: 'ROPC user; with password, used instead of client credentials' }),
    ),
    password: Type.Optional(Secret({ description: 'ROPC password' })),
    authorityHost: Type.String({ default: DEFAULT_AUTHORITY_HOST, pattern: '^https://', description: 'Entra ID host' }),
    tlsCa: Type.Optional(
      Type.String({ minLength: 1, description: 'PEM certificate(s) trusted in addition to the system CAs' }),
    ),
    limits: Type.Optional(
      Type.Object(
        {
          maxConcurrent: Type.Integer({ minimum: 1, default: 52 }),
          requestsPerWindow: Type.Integer({ minimum: 1, default: 6000 }),
          windowMs: Type.Integer({ minimum: 1, default: 300_000 }),
          /** Attempts for one request on 429/5xx before giving up (the batch writer re-queues on its own). */
          maxRetries: Type.Optional(Type.Integer({ minimum: 0, default: 6 })),
          /** Base of exponential backoff when no Retry-After is given. */
          backoffMs: Type.Optional(Type.Integer({ minimum: 0, default: 500 })),
        },
        { additionalProperties: false },
      ),
    ),
    pageSize: Type.Integer({ minimum: 1, maximum: 5000, default: 5000 }),
    changeTracking: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')], { default: 'auto' }),
    /** Watermark mode: how far before the last seen modifiedon the next read starts (clock skew, same-second writes). */
    watermarkOverlapMs: Type.Integer({ minimum: 0, default: 300_000 }),
    /** Operations per `$batch` (Dataverse allows at most 1000). */
    batchSize: Type.Integer({ minimum: 1, maximum: 1000, default: 1000 }),
  },
  { additionalProperties: false },
);

export type DynamicsConfig = Static<typeof DynamicsConfigSchema>;

export const DYNAMICS_ENV: readonly EnvBinding[] = [
  { variable: 'DYNAMICS_URL', key: 'url', description: 'Organisation URL (Web API at /api/data/v9.2)' },
  { variable: 'DYNAMICS_TENANT_ID', key: 'tenantId', description: 'Entra ID tenant' },
  { variable: 'DYNAMICS_CLIENT_ID', key: 'clientId', description: 'App registration (client) id' },
  { variable: 'DYNAMICS_CLIENT_SECRET', key: 'clientSecret', description: 'Client secret', secret: true },
  { variable: 'DYNAMICS_USERNAME', key: 'username', description: 'ROPC user (instead of client credentials)' },
  { variable: 'DYNAMICS_PASSWORD', key: 'password', description: 'ROPC password', secret: true },
  { variable: 'DYNAMICS_AUTHORITY_HOST', key: 'authorityHost', description: 'Entra ID host' },
];

export type AuthMode = { grant: 'password'; username: string; password: string } | { grant: 'client_credentials' };

/** Which grant the config asks for; a clear BAD_CONFIG error when it names none. */
export function authMode(config: DynamicsConfig): AuthMode {
  if (config.username && config.password)
    return { grant: 'password', username: config.username, password: config.password };
  if (config.username || config.password) {
    throw new TandemError(
      'BAD_CONFIG',
      'Dynamics: DYNAMICS_USERNAME and DYNAMICS_PASSWORD must be set together (resource-owner password grant).',
      { status: 400 },
    );
  }
  if (!config.clientSecret) {
    throw new TandemError(
      'BAD_CONFIG',
      'Dynamics: set DYNAMICS_CLIENT_SECRET (client credentials) or DYNAMICS_USERNAME and DYNAMICS_PASSWORD (resource-owner password).',
      { status: 400 },
    );
  }
  return { grant: 'client_credentials' };
}

export interface ResolvedLimits {
  maxConcurrent: number;
  requestsPerWindow: number;
  windowMs: number;
  maxRetries: number;
  backoffMs: number;
}

export function resolvedLimits(config: DynamicsConfig): ResolvedLimits {
  return {
    maxConcurrent: config.limits?.maxConcurrent ?? 52,
    requestsPerWindow: config.limits?.requestsPerWindow ?? 6000,
    windowMs: config.limits?.windowMs ?? 300_000,
    maxRetries: config.limits?.maxRetries ?? 6,
    backoffMs: config.limits?.backoffMs ?? 500,
  };
}
