/**
 * `@tandem/connector-dynamics`: the Dynamics 365 (Dataverse Web API v9.2) connector plugin. Importing it has no
 * side effects beyond the reflect-metadata polyfill tsyringe needs; `register` does no I/O. Its simulator is a
 * package of its own, `@tandem/sandbox-dynamics`, named in the manifest and loaded by the host in sandbox mode only.
 */
import 'reflect-metadata';
import { Lifecycle, type DependencyContainer } from 'tsyringe';
import { defineConnector, PluginTokens } from '@tandem/core/plugin';
import { authMode, DYNAMICS_ENV, DynamicsConfigSchema, type DynamicsConfig } from './config';
import { DynamicsConnector } from './connector';

export const dynamicsConnector = defineConnector({
  id: 'dynamics',
  configSchema: DynamicsConfigSchema,
  env: DYNAMICS_ENV,
  register(container: DependencyContainer) {
    container.register(
      PluginTokens.Connector,
      { useClass: DynamicsConnector },
      { lifecycle: Lifecycle.ContainerScoped },
    );
  },
  // The schema cannot say "a secret, or a username and password"; check it at start, naming the variables.
  async init(container: DependencyContainer) {
    authMode(container.resolve<DynamicsConfig>(PluginTokens.Config));
  },
  async shutdown(container: DependencyContainer) {
    if (!container.isRegistered(PluginTokens.Connector)) return;
    const connector = container.resolve<unknown>(PluginTokens.Connector);
    if (connector instanceof DynamicsConnector) await connector.close();
  },
});

export default dynamicsConnector;
export { DynamicsConnector } from './connector';
export { DynamicsConfigSchema, DYNAMICS_ENV, authMode, type DynamicsConfig } from './config';
export type { DynamicsStats } from './metrics';
