/**
 * The TypeBox type provider for Fastify, for `@sinclair/typebox` schemas. `@fastify/type-provider-typebox`
 * v6 targets the newer `typebox` 1.x package, whose types do not accept the 0.34 schemas of the plugin
 * contract, so the few lines it takes are kept here. Validation is Fastify's own Ajv (TypeBox schemas are
 * JSON Schema), which also feeds @fastify/swagger.
 */
import type { FastifyPluginAsync, FastifyPluginOptions, FastifyTypeProvider, RawServerDefault } from 'fastify';
import type { Static, TSchema } from '@sinclair/typebox';

export interface TypeBoxProvider extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
  serializer: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
}

export type ApiPlugin<Options extends FastifyPluginOptions = Record<never, never>> = FastifyPluginAsync<
  Options,
  RawServerDefault,
  TypeBoxProvider
>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without the bearer token (only `GET /health`). */
    public?: boolean;
  }
}
