/**
 * Typed injection tokens: the only names plugins use to reach what the host gives them and to hand back
 * what they provide. Core-internal services have their own tokens in `core/src/di/tokens.ts`.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Connector } from './connector';
import type { Policy } from './policy';

export const PluginTokens = {
  /** pino child logger bound to `{ plugin: id }`. */
  Logger: Symbol.for('tandem.plugin.Logger'),
  /** The plugin's config, already validated against its `configSchema`. */
  Config: Symbol.for('tandem.plugin.Config'),
  /** prom-client registry shared with `/metrics`. Prefix metric names with `tandem_<plugin>_`. */
  Metrics: Symbol.for('tandem.plugin.Metrics'),
  /** What a connector plugin registers: a `Connector`. */
  Connector: Symbol.for('tandem.plugin.Connector'),
  /** What a policy plugin registers: a `Policy`. */
  Policy: Symbol.for('tandem.plugin.Policy'),
} as const;

export interface PluginTokenTypes {
  Logger: Logger;
  Metrics: Registry;
  Connector: Connector;
  Policy: Policy;
}
