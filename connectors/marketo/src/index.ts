/**
 * `@tandem/connector-marketo`: the plugin definition. Importing it has no side effects and `register` does
 * no I/O; the sandbox module is loaded only when sandbox mode starts it.
 */
import { Lifecycle, type DependencyContainer } from 'tsyringe';
import { defineConnector, PluginTokens, type Connector, type SandboxStartOptions } from '@tandem/core/plugin';
import { MARKETO_ENV, MarketoConfigSchema, type MarketoConfig } from './config';
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
  sandbox: {
    async start(options: SandboxStartOptions = {}) {
      const { MarketoSandbox } = await import('./sandbox/server.js');
      const sandbox = new MarketoSandbox();
      const running = await sandbox.start({
        host: options.host ?? '127.0.0.1',
        port: options.port ?? 0,
        seed: options.seed ?? false,
      });
      const config: MarketoConfig = {
        baseUrl: running.url,
        clientId: sandbox.clientId,
        clientSecret: sandbox.clientSecret,
      };
      return { url: running.url, config, close: running.close };
    },
  },
});

export default marketoConnector;
export { MarketoConnector } from './connector';
export { MarketoClient } from './client';
export { MarketoConfigSchema, type MarketoConfig, DEFAULT_LIMITS } from './config';
export { nextCentralMidnight } from './quota';
