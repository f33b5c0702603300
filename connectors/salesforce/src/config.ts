/**
 * The connection's configuration (TypeBox, validated by the host) and the environment variables that fill it
 * (CONTRACT.md, "Salesforce connection"). Which OAuth flow to use cannot be said in the schema alone, so
 * `authMode` checks it with a message naming the variables.
 */
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Secret, TandemError, type EnvBinding } from '@tandem/core/plugin';

/** A current REST API version (Spring '25); every version from 31.0 on serves what this connector uses. */
export const DEFAULT_API_VERSION = 'v63.0';
/** What a create lacking a required name field gets (see `requiredPlaceholder`). */
export const DEFAULT_PLACEHOLDER = '[not provided]';

export const SalesforceConfigSchema = Type.Object(
  {
    url: Type.String({
      format: 'uri',
      pattern: '^https?://',
      description: "The org's My Domain URL, e.g. https://acme.my.salesforce.com",
    }),
    clientId: Type.String({ minLength: 1, description: "The app's consumer key" }),
    clientSecret: Type.Optional(Secret({ description: "The app's consumer secret (client-credentials flow)" })),
    apiVersion: Type.Optional(
      Type.String({
        default: DEFAULT_API_VERSION,
        pattern: '^v?\\d{2,3}\\.0$',
        description: 'REST API version, e.g. v63.0',
      }),
    ),
    username: Type.Optional(
      Type.String({ minLength: 1, description: 'JWT bearer flow: the pre-approved integration user (its username)' }),
    ),
    jwtKey: Type.Optional(
      Secret({
        description: "JWT bearer flow: the PEM private key of the app's certificate, or the path of a PEM file",
      }),
    ),
    jwtAudience: Type.Optional(
      Type.String({
        pattern: '^https://',
        description:
          'JWT bearer flow: the `aud` claim (default https://login.salesforce.com, https://test.salesforce.com for a sandbox org)',
      }),
    ),
    tlsCa: Type.Optional(
      Type.String({ minLength: 1, description: 'PEM certificate(s) trusted in addition to the system CAs' }),
    ),
    /** The share of the org's daily API allocation Tandem may use; the rest is left to the org's other integrations. */
    maxApiShare: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.8 })),
    /**
     * Text given to a required name field a create lacks (Lead `Company`, Lead and Contact `LastName`), and read
     * back as blank; `off`: send the create as it is, and Salesforce refuses it (REQUIRED_FIELD_MISSING).
     */
    requiredPlaceholder: Type.Optional(Type.String({ minLength: 1, maxLength: 80, default: DEFAULT_PLACEHOLDER })),
    /** Most records one `readChanges` page holds (SOQL batches are 200 to 2,000; smaller pages slice a batch). */
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 2000, default: 2000 })),
    /**
     * How far back each incremental read looks before the newest change it saw, in seconds: records saved in the
     * same second as the cursor, or committed late by a long transaction, are found again (and left out when
     * unchanged). At least the same second is always re-read.
     */
    overlapSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, default: 60 })),
    /** Records (creates or updates) from which a write goes through Bulk API 2.0 instead of sObject Collections. */
    bulkThreshold: Type.Optional(Type.Integer({ minimum: 201, default: 2000 })),
    /**
     * Match emails stored with spaces around them too (`findByEmail`): a LIKE per email, which Salesforce answers
     * without its index on Email. Off: `Email IN (…)`, indexed, exact but for case.
     */
    matchPaddedEmails: Type.Optional(Type.Boolean({ default: true })),
    limits: Type.Optional(
      Type.Object(
        {
          /** Requests in flight at once (Salesforce allows 25 long-running ones per org). */
          maxConcurrent: Type.Integer({ minimum: 1, default: 8 }),
          /** Attempts after a 503, a dropped connection or a timeout before giving up. */
          maxRetries: Type.Integer({ minimum: 0, default: 5 }),
          /** Base of the exponential backoff, in milliseconds. */
          backoffMs: Type.Integer({ minimum: 0, default: 500 }),
          /** Rounds of sending records again that failed with UNABLE_TO_LOCK_ROW. */
          lockRetries: Type.Integer({ minimum: 0, default: 3 }),
          /** Minutes between two looks at the usage once Tandem's share of the allocation is spent. */
          quotaRecheckMinutes: Type.Number({ exclusiveMinimum: 0, default: 15 }),
          /** Bytes of URI (path and query) a look-up may send; less is learnt from 414, 431 or a dropped connection. */
          maxUriBytes: Type.Integer({ minimum: 1024, default: 16_384 }),
          /** Milliseconds between two looks at a Bulk API 2.0 job, at first (it doubles up to 30 s). */
          bulkPollMs: Type.Integer({ minimum: 0, default: 1000 }),
          /** Minutes a Bulk API 2.0 job may take before its records are reported as failed (retryable). */
          bulkTimeoutMinutes: Type.Number({ exclusiveMinimum: 0, default: 30 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type SalesforceConfig = Static<typeof SalesforceConfigSchema>;

export const SALESFORCE_ENV: readonly EnvBinding[] = [
  {
    variable: 'SALESFORCE_URL',
    key: 'url',
    description: 'My Domain URL (REST at /services/data, tokens at /services/oauth2/token)',
  },
  { variable: 'SALESFORCE_CLIENT_ID', key: 'clientId', description: "The app's consumer key" },
  {
    variable: 'SALESFORCE_CLIENT_SECRET',
    key: 'clientSecret',
    description: "The app's consumer secret (client credentials)",
    secret: true,
  },
  {
    variable: 'SALESFORCE_API_VERSION',
    key: 'apiVersion',
    description: `REST API version (default ${DEFAULT_API_VERSION})`,
  },
  { variable: 'SALESFORCE_USERNAME', key: 'username', description: 'JWT bearer flow: the integration user' },
  {
    variable: 'SALESFORCE_JWT_KEY',
    key: 'jwtKey',
    description: 'JWT bearer flow: PEM private key, or the path of a PEM file',
    secret: true,
  },
  { variable: 'SALESFORCE_JWT_AUDIENCE', key: 'jwtAudience', description: 'JWT bearer flow: the aud claim' },
  {
    variable: 'SALESFORCE_MAX_API_SHARE',
    key: 'maxApiShare',
    description: "Share of the org's daily API allocation Tandem may use (default 0.8)",
    type: 'number',
  },
  {
    variable: 'SALESFORCE_REQUIRED_PLACEHOLDER',
    key: 'requiredPlaceholder',
    description: `Text for a required name a create lacks: Lead Company, LastName (default "${DEFAULT_PLACEHOLDER}"; off: none)`,
  },
  {
    variable: 'SALESFORCE_BULK_THRESHOLD',
    key: 'bulkThreshold',
    description: 'Records from which a write uses Bulk API 2.0 (default 2000)',
    type: 'number',
  },
];

export type AuthMode =
  | { flow: 'client_credentials'; clientSecret: string }
  | { flow: 'jwt'; username: string; privateKey: string; audience: string };

/** The JWT `aud` Salesforce expects: its test login host for sandbox orgs, its login host otherwise. */
function defaultAudience(url: string): string {
  let host = '';
  try {
    host = new URL(url).hostname;
  } catch {
    // the schema checks the URL; a bad one fails elsewhere with its own message
  }
  return /\.sandbox\.my\.salesforce\.com$/i.test(host) ? 'https://test.salesforce.com' : 'https://login.salesforce.com';
}

/** The PEM itself, or the content of the file it names. */
function readKey(value: string): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (error) {
    throw new TandemError(
      'BAD_CONFIG',
      `Salesforce: SALESFORCE_JWT_KEY is neither a PEM key nor a readable file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}).`,
      { status: 400, details: { variables: ['SALESFORCE_JWT_KEY'] } },
    );
  }
}

/** Which OAuth flow the config asks for; a clear BAD_CONFIG error naming the variables when it names none. */
export function authMode(config: SalesforceConfig): AuthMode {
  if (config.username || config.jwtKey) {
    if (!config.username || !config.jwtKey) {
      throw new TandemError(
        'BAD_CONFIG',
        'Salesforce: SALESFORCE_USERNAME and SALESFORCE_JWT_KEY must be set together (JWT bearer flow).',
        { status: 400, details: { variables: ['SALESFORCE_USERNAME', 'SALESFORCE_JWT_KEY'] } },
      );
    }
    return {
      flow: 'jwt',
      username: config.username,
      privateKey: readKey(config.jwtKey),
      audience: (config.jwtAudience ?? defaultAudience(config.url)).replace(/\/+$/, ''),
    };
  }
  if (!config.clientSecret) {
    throw new TandemError(
      'BAD_CONFIG',
      'Salesforce: set SALESFORCE_CLIENT_SECRET (client-credentials flow) or SALESFORCE_USERNAME and SALESFORCE_JWT_KEY (JWT bearer flow).',
      {
        status: 400,
        details: { variables: ['SALESFORCE_CLIENT_SECRET', 'SALESFORCE_USERNAME', 'SALESFORCE_JWT_KEY'] },
      },
    );
  }
  return { flow: 'client_credentials', clientSecret: config.clientSecret };
}

export interface ResolvedLimits {
  maxConcurrent: number;
  maxRetries: number;
  backoffMs: number;
  lockRetries: number;
  quotaRecheckMs: number;
  maxUriBytes: number;
  bulkPollMs: number;
  bulkTimeoutMs: number;
}

/** Every setting with its default (the host validates; it need not fill defaults in). */
export interface Settings {
  url: string;
  apiVersion: string;
  maxApiShare: number;
  /** `undefined`: no placeholder (`off`). */
  placeholder: string | undefined;
  pageSize: number;
  overlapMs: number;
  bulkThreshold: number;
  matchPaddedEmails: boolean;
  limits: ResolvedLimits;
}

export function settingsOf(config: SalesforceConfig): Settings {
  const version = config.apiVersion ?? DEFAULT_API_VERSION;
  const placeholder = config.requiredPlaceholder ?? DEFAULT_PLACEHOLDER;
  return {
    url: config.url.replace(/\/+$/, ''),
    apiVersion: version.startsWith('v') ? version : `v${version}`,
    maxApiShare: config.maxApiShare ?? 0.8,
    placeholder: placeholder.toLowerCase() === 'off' ? undefined : placeholder,
    pageSize: config.pageSize ?? 2000,
    overlapMs: (config.overlapSeconds ?? 60) * 1000,
    bulkThreshold: config.bulkThreshold ?? 2000,
    matchPaddedEmails: config.matchPaddedEmails ?? true,
    limits: {
      maxConcurrent: config.limits?.maxConcurrent ?? 8,
      maxRetries: config.limits?.maxRetries ?? 5,
      backoffMs: config.limits?.backoffMs ?? 500,
      lockRetries: config.limits?.lockRetries ?? 3,
      quotaRecheckMs: (config.limits?.quotaRecheckMinutes ?? 15) * 60_000,
      maxUriBytes: config.limits?.maxUriBytes ?? 16_384,
      bulkPollMs: config.limits?.bulkPollMs ?? 1000,
      bulkTimeoutMs: (config.limits?.bulkTimeoutMinutes ?? 30) * 60_000,
    },
  };
}
