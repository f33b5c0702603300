import { randomBytes } from 'node:crypto';
import type { CoreEnv } from './env';
import type { RunMode } from './connectors';

export * from './env';
export * from './connectors';

/** Everything Tandem was started with, after validation. */
export interface TandemConfig extends CoreEnv {
  apiToken: string;
  /** True when no TANDEM_API_TOKEN was set and the token was generated at start (it is printed once). */
  tokenGenerated: boolean;
  mode: RunMode;
  /** Validated connector configs by connector id (in sandbox mode: the sandboxes' configs). */
  connectorConfigs: Map<string, unknown>;
}

/** 32 random bytes, URL-safe: long enough that guessing is hopeless, short enough to paste. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}
export * from './formats';
