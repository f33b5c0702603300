/**
 * Typed injection tokens for core's own services. Plugins never see these: they get `PluginTokens` only.
 * The root container is built in the composition root (`app.ts`); everything else receives what it needs.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Db } from 'mongodb';
import type { TandemConfig } from '../config';

/** A symbol that remembers the type it resolves to, so `resolveToken` needs no casts at call sites. */
export type Token<T> = symbol & { readonly __type?: T };

function token<T>(name: string): Token<T> {
  return Symbol.for(`tandem.core.${name}`) as Token<T>;
}

export const CoreTokens = {
  Config: token<TandemConfig>('Config'),
  Logger: token<Logger>('Logger'),
  Metrics: token<Registry>('Metrics'),
  Db: token<Db>('Db'),
} as const;
