/**
 * Sandbox mode: each connector's manifest names its sandbox package (a local simulator of its system), loaded
 * only here, so no deployment carries a simulator it does not run. A sandbox hands back the connection's
 * environment variables, the same ones an operator sets for a real org; the connector's own bindings turn them
 * into its config, exactly as in live mode.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  isSandboxDefinition,
  TandemError,
  type ConnectorDefinition,
  type RunningSandbox,
  type SandboxDefinition,
  type SandboxStartOptions,
} from '../plugin';
import { connectorConfigFromEnv } from '../config/connectors';
import type { LoadedPlugin } from './load';

/** The sandbox package a connector names, required from the connector's own directory. */
export function loadSandbox(plugin: LoadedPlugin): SandboxDefinition | { missing: string } | undefined {
  const name = plugin.manifest.sandbox;
  if (!name) return undefined;
  let mod: unknown;
  try {
    const require = createRequire(join(plugin.dir, 'package.json'));
    mod = require(require.resolve(name)) as unknown;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'MODULE_NOT_FOUND') return { missing: `its sandbox package ${name} is not installed (or not built)` };
    throw new TandemError(
      'PLUGIN_LOAD_FAILED',
      `Plugin ${plugin.package}: could not load its sandbox ${name}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const exported = typeof mod === 'object' && mod !== null && 'default' in mod ? mod.default : mod;
  if (!isSandboxDefinition(exported) || exported.connector !== plugin.id) {
    throw new TandemError(
      'PLUGIN_LOAD_FAILED',
      `Plugin ${plugin.package}: ${name} must default-export defineSandbox({ connector: "${plugin.id}", start })`,
    );
  }
  return exported;
}

/**
 * The connector config pointing at a running sandbox: its environment variables through the connector's
 * bindings, and its private CA in `tlsCa` when the connector's config has that setting (the convention for
 * "trust this PEM as well as the system's CAs").
 */
export function sandboxConnectorConfig(definition: ConnectorDefinition, sandbox: RunningSandbox): unknown {
  const config = connectorConfigFromEnv(sandbox.env, definition) as Record<string, unknown>;
  const properties = (definition.configSchema as { properties?: Record<string, unknown> }).properties ?? {};
  if (sandbox.caPem && 'tlsCa' in properties) config['tlsCa'] = sandbox.caPem;
  return config;
}

export interface StartedSandbox {
  connector: string;
  sandbox: RunningSandbox;
  config: unknown;
}

/** Starts the sandbox of each connector in `plugins` (those without one are left out, with a warning). */
export async function startSandboxes(
  plugins: readonly LoadedPlugin[],
  options: Pick<SandboxStartOptions, 'extras'> & { logger: Logger; skip?: (id: string) => boolean },
  started: (sandbox: StartedSandbox) => void,
): Promise<void> {
  for (const plugin of plugins) {
    if (plugin.kind !== 'connector' || options.skip?.(plugin.id)) continue;
    const definition = plugin.definition as ConnectorDefinition;
    const logger = options.logger.child({ sandbox: plugin.id });
    const found = loadSandbox(plugin);
    if (found === undefined || 'missing' in found) {
      // Older connectors carried their simulator inside; still honoured.
      if (definition.sandbox) {
        const legacy = await definition.sandbox.start({ seed: true, logger, extras: options.extras ?? false });
        started({
          connector: plugin.id,
          sandbox: { url: legacy.url, env: {}, instanceId: legacy.url, close: () => legacy.close() },
          config: legacy.config,
        });
        continue;
      }
      options.logger.warn(
        `connector ${plugin.id} has no sandbox${found ? `: ${found.missing}` : ''}; it is not a connection`,
      );
      continue;
    }
    const sandbox = await found.start({ seed: true, logger, extras: options.extras ?? false });
    try {
      started({ connector: plugin.id, sandbox, config: sandboxConnectorConfig(definition, sandbox) });
    } catch (error) {
      await sandbox.close();
      throw error;
    }
  }
}
