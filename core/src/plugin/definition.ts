/**
 * What a plugin package exports (after Backstage's backend system and n8n's manifest): a plain definition
 * object. Importing the package has no side effects and `register` does no I/O.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { DependencyContainer } from 'tsyringe';
import type { Logger } from 'pino';

/**
 * The plugin API this core implements. Version 2 names a pipeline's sides by connection id (collisions and
 * rejections); connectors of version 1 load unchanged, policies of version 1 run through an adapter on
 * pipelines whose sides are the connections they knew (see `core/src/sync/policies.ts`).
 */
export const PLUGIN_API_VERSION = 2;
export const SUPPORTED_PLUGIN_API_VERSIONS = [1, 2] as const;

export type PluginKind = 'connector' | 'policy';

/** The `"tandem"` block of a plugin's package.json. */
export const ManifestSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('connector'), Type.Literal('policy')]),
    id: Type.String({ pattern: '^[a-z][a-z0-9]*(-[a-z0-9]+)*$', maxLength: 64 }),
    apiVersion: Type.Union(SUPPORTED_PLUGIN_API_VERSIONS.map((v) => Type.Literal(v))),
    /**
     * A connector's sandbox package (a local simulator of the system it talks to): loaded only in sandbox mode,
     * so a connector never depends on its simulator at run time.
     */
    sandbox: Type.Optional(Type.String({ minLength: 1, maxLength: 214 })),
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
  readonly apiVersion: (typeof SUPPORTED_PLUGIN_API_VERSIONS)[number];
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
  /**
   * Start with what a vanilla org lacks (custom columns, fields of the vendor's own sync): off by default, so a
   * sandbox looks like the org a new customer really has.
   */
  extras?: boolean;
  /** The instance's identity (an org id, a munchkin id); a new one at every start unless given. */
  instanceId?: string;
}

export interface RunningSandbox {
  /** Base URL the sandbox listens on. */
  url: string;
  /**
   * The connection's environment variables, as the connector documents them, pointing at this sandbox with its
   * credentials: the same variables a real deployment sets (so the sandbox knows nothing of the connector).
   */
  env: Record<string, string>;
  /** PEM of the private CA that signed the sandbox's certificate, trusted like one in NODE_EXTRA_CA_CERTS. */
  caPem?: string;
  /** The identity the sandbox answers with (what `CheckResult.instance` reports for it). */
  instanceId: string;
  close(): Promise<void>;
}

/**
 * What a sandbox package default-exports (made with `defineSandbox`). A connector's manifest names its sandbox
 * package; the host loads it only in sandbox mode.
 */
export interface SandboxDefinition {
  readonly kind: 'sandbox';
  /** The manifest id of the connector whose system this sandbox simulates. */
  readonly connector: string;
  start(options?: SandboxStartOptions): Promise<RunningSandbox>;
}

export function defineSandbox(definition: Omit<SandboxDefinition, 'kind'>): SandboxDefinition {
  return { ...definition, kind: 'sandbox' };
}

export function isSandboxDefinition(value: unknown): value is SandboxDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v['kind'] === 'sandbox' && typeof v['connector'] === 'string' && typeof v['start'] === 'function';
}

export interface ConnectorDefinition<C = unknown> extends PluginDefinitionBase<C> {
  readonly kind: 'connector';
  /** Environment variables that configure the connection. */
  readonly env: readonly EnvBinding[];
  /**
   * Deprecated: a simulator inside the connector makes its web server a run-time dependency of every
   * deployment. Name a sandbox package in the manifest instead (`"tandem": { "sandbox": "…" }`).
   */
  readonly sandbox?: {
    start(options?: SandboxStartOptions): Promise<{ url: string; config: C; close(): Promise<void> }>;
  };
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
