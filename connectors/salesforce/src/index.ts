/**
 * `@tandem/connector-salesforce`: the Salesforce REST API connector plugin (Contacts and Leads). Importing it has no
 * side effects beyond the reflect-metadata polyfill tsyringe needs; `register` does no I/O. Its simulator is a
 * package of its own, `@tandem/sandbox-salesforce`, named in the manifest and loaded by the host in sandbox mode
 * only.
 */
import 'reflect-metadata';
import { Lifecycle, type DependencyContainer } from 'tsyringe';
import { defineConnector, PluginTokens } from '@tandem/core/plugin';
import { authMode, SALESFORCE_ENV, SalesforceConfigSchema, type SalesforceConfig } from './config';
import { SalesforceConnector } from './connector';

export const salesforceConnector = defineConnector({
  id: 'salesforce',
  configSchema: SalesforceConfigSchema,
  env: SALESFORCE_ENV,
  register(container: DependencyContainer) {
    container.register(
      PluginTokens.Connector,
      { useClass: SalesforceConnector },
      { lifecycle: Lifecycle.ContainerScoped },
    );
  },
  // The schema cannot say "a secret, or a username and a key"; check it at start, naming the variables.
  async init(container: DependencyContainer) {
    authMode(container.resolve<SalesforceConfig>(PluginTokens.Config));
  },
  async shutdown(container: DependencyContainer) {
    if (!container.isRegistered(PluginTokens.Connector)) return;
    const connector = container.resolve<unknown>(PluginTokens.Connector);
    if (connector instanceof SalesforceConnector) await connector.close();
  },
});

export default salesforceConnector;
export { SalesforceConnector } from './connector';
export { SalesforceConfigSchema, SALESFORCE_ENV, authMode, type SalesforceConfig } from './config';
export type { SalesforceStats } from './metrics';
