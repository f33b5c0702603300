/**
 * `@tandem/connector-marketo`: the plugin definition. Importing it has no side effects beyond the
 * reflect-metadata polyfill tsyringe needs, and `register` does no I/O. Its simulator is a package of its own, `@tandem/sandbox-marketo`, named in the manifest: core loads it
 * in sandbox mode only.
 */
import 'reflect-metadata';
import { Lifecycle, type DependencyContainer } from 'tsyringe';
import { defineConnector, PluginTokens, type Connector } from '@tandem/core/plugin';
import { MARKETO_ENV, MarketoConfigSchema } from './config';
import { MarketoConnector } from './connector';

export const marketoConnector = defineConnector({
  id: 'marketo',
  configSchema: MarketoConfigSchema,
  env: MARKETO_ENV,
  register(container: DependencyContainer): void {
    // One connector (one token cache, one limiter) per plugin container, so shutdown closes the one in use.
    container.register<Connector>(
      PluginTokens.Connector,
      { useClass: MarketoConnector },
      { lifecycle: Lifecycle.ContainerScoped },
    );
  },
  async shutdown(container: DependencyContainer): Promise<void> {
    if (container.isRegistered(PluginTokens.Connector)) {
      const connector = container.resolve<Connector>(PluginTokens.Connector);
      if (connector instanceof MarketoConnector) await connector.close();
    }
  },
});

export default marketoConnector;
export { MarketoConnector } from './connector';
export { MarketoClient } from './client';
export { MarketoConfigSchema, type MarketoConfig, DEFAULT_LIMITS } from './config';
export { nextCentralMidnight } from './quota';
