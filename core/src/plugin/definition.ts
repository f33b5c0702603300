/**
 * What a plugin package exports (after Backstage's backend system and n8n's manifest): a plain definition
 * object. Importing the package has no side effects and `register` does no I/O.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { DependencyContainer } from 'tsyringe';
import type { Logger } from 'pino';

export const PLUGIN_API_VERSION = 1;

export type PluginKind = 'connector' | 'policy';

/** The `"tandem"` block of a plugin's package.json. */
export const ManifestSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('connector'), Type.Literal('policy')]),
    id: Type.String({ pattern: '^[a-z][a-z0-9]*(-[a-z0-9]+)*$', maxLength: 64 }),
    apiVersion: Type.Literal(PLUGIN_API_VERSION),
    /** Plugin ids this plugin needs loaded first. */
    dependsOn: Type.Optional(Type.Array(Type.String())),
    /** Entry module relative to the package; defaults to the package's main export. */
    entry: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type Manifest = Static<typeof ManifestSchema>;

/** Marks a config field as a secret: it is redacted from logs and masked in API answers. */
export const SECRET_KEYWORD = 'x-tandem-secret';
export function Secret(options: { description?: string; minLength?: number } = {}) {
  return Type.String({ minLength: 1, ...options, [SECRET_KEYWORD]: true });
}

/** How an environment variable fills a config key (CONTRACT.md names them). */
export interface EnvBinding {
  variable: string;
  key: string;
  description: string;
  secret?: boolean;
  type?: 'string' | 'number' | 'boolean';
}

export interface PluginDefinitionBase<C> {
  readonly id: string;
  readonly kind: PluginKind;
  readonly apiVersion: typeof PLUGIN_API_VERSION;
  /** TypeBox schema of the plugin's config. Fields made with `Secret()` are redacted. */
  readonly configSchema: TSchema;
  readonly dependsOn?: readonly string[];
  /** Register the plugin's services in its child container. No I/O here. */
  register(container: DependencyContainer): void;
  init?(container: DependencyContainer): Promise<void>;
  shutdown?(container: DependencyContainer): Promise<void>;
  /** Phantom field carrying the config type. */
  readonly __config?: C;
}

export interface SandboxStartOptions {
  /** Seed the sandbox with its sample people. */
  seed?: boolean;
  host?: string;
  /** 0 or unset: a free port. */
  port?: number;
  logger?: Logger;
}

export interface RunningSandbox<C> {
  /** Base URL the sandbox listens on. */
  url: string;
  /** A connector config pointing at this sandbox, credentials included. */
  config: C;
  close(): Promise<void>;
}

export interface ConnectorDefinition<C = unknown> extends PluginDefinitionBase<C> {
  readonly kind: 'connector';
  /** Environment variables that configure the connection. */
  readonly env: readonly EnvBinding[];
  /** A local simulator of the remote API, for sandbox mode, tests, benchmarks and demos. */
  readonly sandbox?: { start(options?: SandboxStartOptions): Promise<RunningSandbox<C>> };
}

export interface PolicyDefinition<C = unknown> extends PluginDefinitionBase<C> {
  readonly kind: 'policy';
}

export type PluginDefinition = ConnectorDefinition | PolicyDefinition;

export function defineConnector<S extends TSchema>(
  definition: Omit<ConnectorDefinition<Static<S>>, 'kind' | 'apiVersion' | 'configSchema'> & { configSchema: S },
): ConnectorDefinition<Static<S>> {
  return { ...definition, kind: 'connector', apiVersion: PLUGIN_API_VERSION };
}

export function definePolicy<S extends TSchema>(
  definition: Omit<PolicyDefinition<Static<S>>, 'kind' | 'apiVersion' | 'configSchema'> & { configSchema?: S },
): PolicyDefinition<Static<S>> {
  return {
    ...definition,
    configSchema: definition.configSchema ?? Type.Object({}),
    kind: 'policy',
    apiVersion: PLUGIN_API_VERSION,
  };
}
