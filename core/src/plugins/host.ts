/**
 * The plugin host (after Backstage's backend system): each plugin gets a child container holding its own
 * logger, its validated config and the shared metrics registry; the host runs register, then init in
 * dependency order, and shutdown in reverse. A plugin that fails stops start-up, naming its package.
 */
import 'reflect-metadata';
import type { DependencyContainer } from 'tsyringe';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Value } from '@sinclair/typebox/value';
import { PluginTokens, TandemError, type Connector, type Policy, type PluginKind } from '../plugin';
import { registerFormats } from '../config/formats';
import type { LoadedPlugin, SkippedPlugin } from './load';

export interface PluginInfo {
  id: string;
  kind: PluginKind;
  package: string;
  version: string;
}

export interface PluginHostOptions {
  plugins: readonly LoadedPlugin[];
  skipped?: readonly SkippedPlugin[];
  /** The root container; each plugin's container is a child of it. */
  parent: DependencyContainer;
  logger: Logger;
  metrics: Registry;
}

interface Running {
  plugin: LoadedPlugin;
  container: DependencyContainer;
  config: unknown;
  initialised: boolean;
}

function fail(plugin: LoadedPlugin, message: string, cause?: unknown): TandemError {
  return new TandemError('PLUGIN_LOAD_FAILED', `Plugin ${plugin.package} (${plugin.id}): ${message}`, {
    details: { package: plugin.package, id: plugin.id },
    ...(cause === undefined ? {} : { cause }),
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class PluginHost {
  private readonly running: Running[] = [];
  private readonly connectorMap = new Map<string, Connector>();
  private readonly policyMap = new Map<string, Policy>();

  constructor(private readonly options: PluginHostOptions) {
    registerFormats();
  }

  /** Validates the config of `plugin` (defaults applied); throws naming the package and the field. */
  validateConfig(plugin: LoadedPlugin, config: unknown): unknown {
    const schema = plugin.definition.configSchema;
    const value: unknown = Value.Default(schema, Value.Clone(config ?? {}));
    const problems = [...Value.Errors(schema, value)].map(
      (e) => `field "${e.path.replace(/^\//, '') || '(root)'}" ${e.message}`,
    );
    if (problems.length > 0) throw fail(plugin, `invalid config: ${problems.join('; ')}`);
    return value;
  }

  /** Registers and initialises every plugin. `configs` maps plugin id to raw config. */
  async start(configs: ReadonlyMap<string, unknown>): Promise<void> {
    const { logger, parent, metrics } = this.options;
    for (const skipped of this.options.skipped ?? []) {
      logger.warn({ package: skipped.package }, `plugin ${skipped.package} skipped: ${skipped.reason}`);
    }
    try {
      for (const plugin of this.options.plugins) {
        // A connector with no config (none of its variables set, no sandbox) is installed but not a connection.
        if (plugin.kind === 'connector' && configs.get(plugin.id) === undefined) continue;
        const config = this.validateConfig(plugin, configs.get(plugin.id));
        const container = parent.createChildContainer();
        container.register(PluginTokens.Logger, { useValue: logger.child({ plugin: plugin.id }) });
        container.register(PluginTokens.Config, { useValue: config });
        container.register(PluginTokens.Metrics, { useValue: metrics });
        try {
          plugin.definition.register(container);
        } catch (error) {
          throw fail(plugin, `register() failed: ${messageOf(error)}`, error);
        }
        this.running.push({ plugin, container, config, initialised: false });
      }
      for (const entry of this.running) {
        try {
          await entry.plugin.definition.init?.(entry.container);
        } catch (error) {
          throw fail(entry.plugin, `init() failed: ${messageOf(error)}`, error);
        }
        entry.initialised = true;
        this.collect(entry);
        logger.info({ plugin: entry.plugin.id, package: entry.plugin.package }, `plugin ${entry.plugin.id} ready`);
      }
    } catch (error) {
      await this.shutdown();
      throw error;
    }
  }

  private collect({ plugin, container }: Running): void {
    const token = plugin.kind === 'connector' ? PluginTokens.Connector : PluginTokens.Policy;
    if (!container.isRegistered(token, false)) {
      throw fail(
        plugin,
        `register() must register a ${plugin.kind} under PluginTokens.${plugin.kind === 'connector' ? 'Connector' : 'Policy'}`,
      );
    }
    try {
      if (plugin.kind === 'connector') this.connectorMap.set(plugin.id, container.resolve<Connector>(token));
      else this.policyMap.set(plugin.id, container.resolve<Policy>(token));
    } catch (error) {
      throw fail(plugin, `could not resolve its ${plugin.kind}: ${messageOf(error)}`, error);
    }
  }

  /** Shuts plugins down in reverse order; a failing shutdown is logged, not thrown, so the rest still run. */
  async shutdown(): Promise<void> {
    while (this.running.length > 0) {
      const entry = this.running.pop()!;
      if (!entry.initialised) continue;
      try {
        await entry.plugin.definition.shutdown?.(entry.container);
      } catch (error) {
        this.options.logger.error(
          { err: error, plugin: entry.plugin.id },
          `plugin ${entry.plugin.id} failed to shut down`,
        );
      }
    }
    this.connectorMap.clear();
    this.policyMap.clear();
  }

  connectors(): Map<string, Connector> {
    return new Map(this.connectorMap);
  }

  policies(): Map<string, Policy> {
    return new Map(this.policyMap);
  }

  /** The definition of a loaded plugin by id. */
  plugin(id: string): LoadedPlugin | undefined {
    return this.options.plugins.find((p) => p.id === id);
  }

  /** Each running plugin's validated config (defaults applied), by id. Secrets included: mask before showing. */
  configs(): Map<string, unknown> {
    return new Map(this.running.map((r) => [r.plugin.id, r.config]));
  }

  list(): PluginInfo[] {
    return this.options.plugins.map(({ id, kind, package: pkg, version }) => ({ id, kind, package: pkg, version }));
  }

  skipped(): readonly SkippedPlugin[] {
    return this.options.skipped ?? [];
  }
}
