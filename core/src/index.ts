/** `@tandem/core`: the runtime. Plugin authors import `@tandem/core/plugin` instead. */
export * from './plugin';
export { startTandem, type StartOptions, type RunningTandem } from './app';
export { buildApp, type ApiDeps } from './api';
export { parseCoreEnv, parseConnectorEnv, type TandemConfig } from './config';
export { PluginHost, discoverPlugins, loadPlugins, sandboxConnectorConfig } from './plugins';
export { PipelinesRepository, PolicySettingsRepository, AuditRepository } from './repositories';
