/**
 * Core's own environment variables (CONTRACT.md). Each is parsed on its own so that an error names the
 * variable and the value it got, rather than a JSON-pointer into an object nobody wrote.
 */
import { TandemError } from '../plugin';

export type Env = Readonly<Record<string, string | undefined>>;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type EmbeddedMongodPolicy = 'auto' | 'download';

/** The settings of core itself, before plugins are known. */
export interface CoreEnv {
  mongodbUri: string | undefined;
  host: string;
  port: number;
  /** The admin token from `TANDEM_API_TOKEN`, or undefined when one must be generated. */
  apiToken: string | undefined;
  syncIntervalMinutes: number;
  /** Seconds a cycle lease lives without a heartbeat: how soon another instance takes over a dead one. */
  leaseSeconds: number;
  logLevel: LogLevel;
  /** `download` allows mongodb-memory-server to fetch a real mongod; `auto` never downloads. */
  embeddedMongod: EmbeddedMongodPolicy;
  /** Extra plugin packages (names or paths) from `TANDEM_PLUGINS`. */
  plugins: string[];
  /** Sandbox mode: start sandboxes with what a vanilla org lacks (custom columns, the vendor sync's fields). */
  sandboxExtras: boolean;
}

function badConfig(message: string, variable: string): TandemError {
  return new TandemError('BAD_CONFIG', message, { status: 500, details: { variable } });
}

/** A set, non-blank variable's trimmed value. Blank counts as unset, as shells and `.env` files produce it. */
export function envValue(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  return trimmed === '' ? undefined : trimmed;
}

function parsePort(env: Env): number {
  const raw = envValue(env, 'PORT');
  if (raw === undefined) return 3000;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw badConfig(`PORT must be an integer between 0 and 65535, got "${raw}"`, 'PORT');
  }
  return port;
}

function parseInterval(env: Env): number {
  const raw = envValue(env, 'TANDEM_SYNC_INTERVAL');
  if (raw === undefined) return 5;
  const minutes = Number(raw);
  if (!/^\d*\.?\d+$/.test(raw) || !Number.isFinite(minutes) || minutes <= 0) {
    throw badConfig(`TANDEM_SYNC_INTERVAL must be a positive number of minutes, got "${raw}"`, 'TANDEM_SYNC_INTERVAL');
  }
  return minutes;
}

function parseLeaseSeconds(env: Env): number {
  const raw = envValue(env, 'TANDEM_LEASE_SECONDS');
  if (raw === undefined) return 30;
  const seconds = Number(raw);
  if (!/^\d*\.?\d+$/.test(raw) || !Number.isFinite(seconds) || seconds < 0.5 || seconds > 3600) {
    throw badConfig(
      `TANDEM_LEASE_SECONDS must be a number of seconds between 0.5 and 3600, got "${raw}"`,
      'TANDEM_LEASE_SECONDS',
    );
  }
  return seconds;
}

function parseLogLevel(env: Env): LogLevel {
  const raw = envValue(env, 'LOG_LEVEL');
  if (raw === undefined) return 'info';
  const level = LOG_LEVELS.find((l) => l === raw.toLowerCase());
  if (!level) throw badConfig(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`, 'LOG_LEVEL');
  return level;
}

function parseMongoUri(env: Env): string | undefined {
  const raw = envValue(env, 'MONGODB_URI');
  if (raw !== undefined && !/^mongodb(\+srv)?:\/\//.test(raw)) {
    throw badConfig('MONGODB_URI must start with mongodb:// or mongodb+srv://', 'MONGODB_URI');
  }
  return raw;
}

function parseToken(env: Env): string | undefined {
  const raw = envValue(env, 'TANDEM_API_TOKEN');
  if (raw !== undefined && raw.length < 16) {
    // Do not echo the value: it is a secret even when it is a bad one.
    throw badConfig(`TANDEM_API_TOKEN must be at least 16 characters long, got ${raw.length}`, 'TANDEM_API_TOKEN');
  }
  return raw;
}

function parseEmbedded(env: Env): EmbeddedMongodPolicy {
  const raw = envValue(env, 'TANDEM_EMBEDDED_MONGOD');
  if (raw === undefined || raw === 'auto') return 'auto';
  if (raw === 'download') return 'download';
  throw badConfig(`TANDEM_EMBEDDED_MONGOD must be "auto" or "download", got "${raw}"`, 'TANDEM_EMBEDDED_MONGOD');
}

function parseSandboxExtras(env: Env): boolean {
  const raw = envValue(env, 'TANDEM_SANDBOX_EXTRAS');
  if (raw === undefined || /^(false|0|no)$/i.test(raw)) return false;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  throw badConfig(`TANDEM_SANDBOX_EXTRAS must be true or false, got "${raw}"`, 'TANDEM_SANDBOX_EXTRAS');
}

export function parseCoreEnv(env: Env): CoreEnv {
  return {
    mongodbUri: parseMongoUri(env),
    host: envValue(env, 'HOST') ?? '127.0.0.1',
    port: parsePort(env),
    apiToken: parseToken(env),
    syncIntervalMinutes: parseInterval(env),
    leaseSeconds: parseLeaseSeconds(env),
    logLevel: parseLogLevel(env),
    embeddedMongod: parseEmbedded(env),
    plugins: (envValue(env, 'TANDEM_PLUGINS') ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== ''),
    sandboxExtras: parseSandboxExtras(env),
  };
}
