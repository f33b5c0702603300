/**
 * The composition root: the only place that builds the root container and wires Tandem together.
 * Start-up order: config → logger → MongoDB → sandboxes (sandbox mode) → plugins → indexes → default
 * pipeline → sync engine → API → listen. `close()` undoes it in reverse. Tests start several instances on
 * one database through `startTandem`; `main.ts` runs one for `npm start`.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { container as globalContainer } from 'tsyringe';
import type { FastifyInstance } from 'fastify';
import type { CommandStartedEvent } from 'mongodb';
import type { Logger } from 'pino';
import { buildApp } from './api';
import { generateToken, parseConnectorEnv, parseCoreEnv, type Env, type TandemConfig } from './config';
import { connectMongo } from './db';
import { Connections } from './connections/connections';
import { CoreTokens } from './di/tokens';
import { createLogger, createMetrics, redactionPaths, registerConnectionMetrics } from './observability';
import type { ConnectorDefinition } from './plugin';
import { discoverPlugins, findProjectRoot, loadPlugins, PluginHost, startSandboxes } from './plugins';
import { AuditRepository, PipelinesRepository, PolicySettingsRepository } from './repositories';
import { SyncStore } from './repositories/sync-store';
import { migrateFirstVersion, presetPipelines } from './pipelines/presets';
import { SyncRuntime } from './pipelines/runtime';
import { Notices } from './pipelines/notices';
import { DeliveriesRepository, WebhooksRepository } from './repositories/webhooks';
import { WebhookDispatcher, type WebhookDispatcherOptions } from './webhooks/dispatcher';

export interface StartOptions {
  /** Environment variables (CONTRACT.md); defaults to `process.env`. */
  env?: Env;
  /** Plugin packages (names or directories). When given, only these load unless `scan` is true. */
  plugins?: readonly string[];
  /** Scan the project for plugin packages (default: true unless `plugins` is given). */
  scan?: boolean;
  /** Config per plugin id, merged over what the environment gives (connector variables, sandboxes). */
  pluginConfig?: Readonly<Record<string, unknown>>;
  /** Overrides PORT (0: a free port) and HOST. */
  port?: number;
  host?: string;
  /** A logger to build on (tests pass a silent one). */
  logger?: Logger;
  /** Overrides MONGODB_URI; `dbName` picks the database (tests give each instance pair its own). */
  mongoUri?: string;
  dbName?: string;
  /** The project root that is scanned for plugins; defaults to the root of this checkout. */
  rootDir?: string;
  /** Run the sync schedule (default true); false: cycles only when forced through the API. */
  schedule?: boolean;
  /** Identifies this instance in leases and runs (several instances may share one database). */
  instanceId?: string;
  /**
   * Called for every MongoDB command Tandem sends (the driver's command monitoring; off when not given).
   * Benchmarks count commands with it.
   */
  onMongoCommand?: (event: CommandStartedEvent) => void;
  /** Webhook delivery timings (tests shorten the waits between retries). */
  webhooks?: Pick<WebhookDispatcherOptions, 'retryDelaysMs' | 'timeoutMs' | 'sweepMs' | 'claimGraceMs'>;
  /** The debounce window of change notices (`POST …/notify`), 2 s by default. */
  notifyWindowMs?: number;
}

export interface RunningTandem {
  app: FastifyInstance;
  /** Where the API listens, e.g. `http://127.0.0.1:3000`. */
  url: string;
  token: string;
  config: TandemConfig;
  /** The sync engine (every pipeline's schedule and cycles). */
  sync: SyncRuntime;
  close(): Promise<void>;
}

export async function startTandem(options: StartOptions = {}): Promise<RunningTandem> {
  const env = options.env ?? process.env;
  const core = parseCoreEnv(env);
  const rootDir = options.rootDir ?? findProjectRoot(__dirname);

  // Plugin definitions are needed before the logger (redaction paths) and the config (connector variables).
  const candidates = discoverPlugins({
    rootDir,
    scan: options.scan ?? options.plugins === undefined,
    explicit: [...core.plugins, ...(options.plugins ?? [])],
  });
  const { plugins, skipped } = loadPlugins(candidates);
  const connectorDefinitions = plugins
    .map((p) => p.definition)
    .filter((d): d is ConnectorDefinition => d.kind === 'connector');
  const parsed = parseConnectorEnv(env, connectorDefinitions);
  // Connectors the caller configures (tests, benchmarks) are live connections, as if their variables were set:
  // then it is not sandbox mode, and the connectors the caller left out are absent, like unset ones.
  const givenConfig = (id: string): boolean => options.pluginConfig?.[id] !== undefined;
  const given = connectorDefinitions.filter((d) => givenConfig(d.id)).map((d) => d.id);
  const connectorEnv =
    parsed.mode === 'sandbox' && given.length > 0
      ? {
          ...parsed,
          mode: 'live' as const,
          absent: connectorDefinitions.map((d) => d.id).filter((id) => !given.includes(id)),
        }
      : { ...parsed, absent: parsed.absent.filter((id) => !given.includes(id)) };
  const mode = connectorEnv.mode;

  const logger = createLogger({
    level: core.logLevel,
    redact: redactionPaths(plugins.map((p) => p.definition.configSchema)),
    ...(options.logger ? { base: options.logger } : {}),
  });
  const config: TandemConfig = {
    ...core,
    host: options.host ?? core.host,
    port: options.port ?? core.port,
    mongodbUri: options.mongoUri ?? core.mongodbUri,
    apiToken: core.apiToken ?? generateToken(),
    tokenGenerated: core.apiToken === undefined,
    mode,
    connectorConfigs: new Map(connectorEnv.configs),
  };

  // Undo stack: whatever has started is stopped in reverse, also when start-up fails half-way.
  const closers: Array<{ name: string; close: () => Promise<unknown> }> = [];
  const closeAll = async (): Promise<void> => {
    while (closers.length > 0) {
      const { name, close } = closers.pop()!;
      try {
        await close();
      } catch (error) {
        logger.error({ err: error }, `failed to stop ${name}`);
      }
    }
  };

  try {
    const mongo = await connectMongo({
      uri: config.mongodbUri,
      ...(options.dbName === undefined ? {} : { dbName: options.dbName }),
      embedded: config.embeddedMongod,
      dataDir: join(rootDir, '.tandem'),
      logger,
      ...(options.onMongoCommand ? { onCommand: options.onMongoCommand } : {}),
    });
    closers.push({ name: 'MongoDB', close: () => mongo.close() });
    if (mongo.info.warning) {
      if (config.mode === 'live') logger.warn(mongo.info.warning);
      else logger.info('sandbox mode: MongoDB data lives in memory');
    }

    if (config.mode === 'sandbox') {
      logger.info('no connector variable set: sandbox mode (local simulators seeded with sample people)');
      await startSandboxes(
        plugins,
        { logger, extras: core.sandboxExtras, skip: givenConfig },
        ({ connector, sandbox, config: connectorConfig }) => {
          closers.push({ name: `${connector} sandbox`, close: () => sandbox.close() });
          config.connectorConfigs.set(connector, connectorConfig);
          logger.info({ connector, url: sandbox.url }, `${connector} sandbox listening`);
        },
      );
    }
    for (const id of connectorEnv.absent) {
      logger.info(
        { connector: id },
        `connector ${id} is installed but none of its variables is set: it is not a connection`,
      );
    }
    if (connectorDefinitions.length === 0) {
      logger.warn('no connector plugin is installed (or built: run npm run build); nothing will sync until one is');
    }

    const metrics = createMetrics();
    const root = globalContainer.createChildContainer();
    root.register(CoreTokens.Config, { useValue: config });
    root.register(CoreTokens.Logger, { useValue: logger });
    root.register(CoreTokens.Metrics, { useValue: metrics.registry });
    root.register(CoreTokens.Db, { useValue: mongo.db });

    const host = new PluginHost({ plugins, skipped, parent: root, logger, metrics: metrics.registry });
    const pluginConfigs = new Map<string, unknown>(config.connectorConfigs);
    for (const [id, value] of Object.entries(options.pluginConfig ?? {})) pluginConfigs.set(id, value);
    await host.start(pluginConfigs);
    closers.push({ name: 'plugins', close: () => host.shutdown() });

    const pipelines = root.resolve(PipelinesRepository);
    const policySettings = root.resolve(PolicySettingsRepository);
    const audit = root.resolve(AuditRepository);
    const store = new SyncStore(mongo.db);
    // Indexes before anything reads or writes, and before the server listens.
    await pipelines.ensureIndexes();
    await policySettings.ensureIndexes();
    await audit.ensureIndexes();
    await store.ensureIndexes();
    const connectors = host.connectors();
    const connections = new Connections(connectors, config.mode, logger.child({ component: 'connections' }));
    // Asked at start, in the background: an unreachable system must not hold up start-up; `/ready` shows it.
    void connections.checkAll();
    // Documents of the first version are converted before anything reads them.
    await migrateFirstVersion(mongo.db, logger);
    for (const preset of presetPipelines(
      new Set(connectors.keys()),
      config.syncIntervalMinutes,
      config.mode === 'sandbox',
    )) {
      await pipelines.upsertPreset(preset);
    }
    const instanceId = options.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    // Deliveries are stored before they are sent and taken over from stopped instances, so this stops after the
    // sync engine (whose interrupted runs it is told of) and before MongoDB.
    const webhooks = { webhooks: new WebhooksRepository(mongo.db), deliveries: new DeliveriesRepository(mongo.db) };
    await webhooks.deliveries.ensureIndexes();
    const dispatcher = new WebhookDispatcher({
      ...webhooks,
      logger: logger.child({ component: 'webhooks' }),
      registry: metrics.registry,
      instanceId,
      ...options.webhooks,
    });
    dispatcher.start();
    closers.push({ name: 'webhook deliveries', close: () => dispatcher.stop() });
    const sync = new SyncRuntime({
      store,
      logger: logger.child({ component: 'sync' }),
      registry: metrics.registry,
      connections,
      policies: host.policies(),
      pipelines,
      policySettings,
      instanceId,
      intervalMinutes: config.syncIntervalMinutes,
      leaseTtlMs: config.leaseSeconds * 1000,
      schedule: options.schedule ?? true,
    });
    const notices = new Notices({
      start: (pipelineId) => sync.forceRun(pipelineId, 'notify'),
      running: (pipelineId) => sync.runningRunId(pipelineId) !== undefined,
      logger: logger.child({ component: 'notices' }),
      ...(options.notifyWindowMs === undefined ? {} : { windowMs: options.notifyWindowMs }),
    });
    sync.onRunEnd(dispatcher.runEnded);
    sync.onRunEnd(notices.runEnded);
    await sync.start();
    closers.push({
      name: 'sync engine',
      close: async () => {
        notices.stop();
        await sync.stop();
      },
    });
    registerConnectionMetrics(metrics.registry, connections);

    const app = await buildApp({
      logger,
      metrics,
      token: config.apiToken,
      mongo,
      plugins: host,
      pipelines,
      policySettings,
      audit,
      mode: config.mode,
      connectionConfigs: host.configs(),
      connections,
      store,
      sync,
      webhooks,
      notices,
      absentConnectors: connectorEnv.absent,
      connectionStatus: () => connections.status(),
      pipelineStatus: () => sync.pipelineStatus(),
    });
    closers.push({ name: 'REST API', close: () => app.close() });
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    logger.info({ url, mode: config.mode, mongo: mongo.info.engine }, `Tandem listening on ${url}`);
    if (config.tokenGenerated) logger.info('TANDEM_API_TOKEN is not set: an admin token was generated for this run');

    let closing: Promise<void> | undefined;
    return {
      app,
      url,
      token: config.apiToken,
      config,
      sync,
      close: () => (closing ??= closeAll()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
