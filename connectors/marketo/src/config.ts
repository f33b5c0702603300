/** The connector's config schema (validated by the host before the connector is built). */
import { Type, type Static } from '@sinclair/typebox';
import { Secret, type EnvBinding } from '@tandem/core/plugin';

export const LimitsSchema = Type.Object(
  {
    /** Calls allowed per rolling window; Marketo's instance-wide limit is 100 per 20 s (606 beyond). */
    callsPerWindow: Type.Integer({ minimum: 1, default: 100 }),
    windowMs: Type.Integer({ minimum: 1, default: 20_000 }),
    /** Calls in flight at once; Marketo allows 10 per instance (615 beyond). */
    maxConcurrent: Type.Integer({ minimum: 1, default: 10 }),
    /** Daily call quota, for the metric and logs (607 beyond; resets at midnight US Central). */
    dailyQuota: Type.Integer({ minimum: 1, default: 50_000 }),
  },
  { additionalProperties: false },
);

export const MarketoConfigSchema = Type.Object(
  {
    baseUrl: Type.String({
      pattern: '^https?://',
      description: 'e.g. https://123-ABC-456.mktorest.com (REST at /rest, identity at /identity)',
    }),
    clientId: Type.String({ minLength: 1, description: 'LaunchPoint custom service client id' }),
    clientSecret: Secret({ description: 'LaunchPoint custom service client secret' }),
    tlsCa: Type.Optional(Type.String({ description: 'PEM CA certificate(s) trusted in addition to the system CAs' })),
    limits: Type.Optional(Type.Partial(LimitsSchema)),
    activityTypeApiName: Type.Optional(
      Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$', description: 'Custom activity type for sync events' }),
    ),
    requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 1, description: 'Per-request timeout (default 120000)' })),
    /** The initial load reads leads by id in ranges of 300 and stops after this many consecutive missing ids. */
    initialLoad: Type.Optional(
      Type.Object(
        {
          maxIdGap: Type.Optional(Type.Integer({ minimum: 300, default: 3000 })),
          lookahead: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, default: 4 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** How many attempts a retryable failure (606, 615, 5xx, timeouts) gets before it surfaces. */
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
    /** Backoff between retries: exponential from `baseMs`, capped at `maxMs`, with full jitter. */
    backoff: Type.Optional(
      Type.Object(
        { baseMs: Type.Optional(Type.Integer({ minimum: 1 })), maxMs: Type.Optional(Type.Integer({ minimum: 1 })) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type MarketoConfig = Static<typeof MarketoConfigSchema>;
export type MarketoLimits = Static<typeof LimitsSchema>;

export const DEFAULT_LIMITS: MarketoLimits = {
  callsPerWindow: 100,
  windowMs: 20_000,
  maxConcurrent: 10,
  dailyQuota: 50_000,
};

export const MARKETO_ENV: readonly EnvBinding[] = [
  { variable: 'MARKETO_BASE_URL', key: 'baseUrl', description: 'https://<munchkin>.mktorest.com' },
  { variable: 'MARKETO_CLIENT_ID', key: 'clientId', description: 'LaunchPoint custom service client id' },
  {
    variable: 'MARKETO_CLIENT_SECRET',
    key: 'clientSecret',
    description: 'LaunchPoint custom service client secret',
    secret: true,
  },
];
