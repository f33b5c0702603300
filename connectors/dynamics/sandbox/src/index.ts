/**
 * `@tandem/sandbox-dynamics`: a local simulator of a Dataverse org and its Entra ID tenant, for sandbox mode, tests
 * and benchmarks. It knows nothing of the connector: it hands back the connection's documented environment variables
 * (DYNAMICS_URL, DYNAMICS_TENANT_ID, DYNAMICS_CLIENT_ID, DYNAMICS_CLIENT_SECRET, DYNAMICS_AUTHORITY_HOST) and the
 * private CA its certificate is signed by, exactly what an operator configures for a real org.
 */
import { defineSandbox, type SandboxStartOptions } from '@tandem/core/plugin';
import { DataverseSandbox } from './server';

export * from './server';
export { entityDefs, type ColumnDef, type EntityDef, type EntityName } from './schema';
export type { BusinessRule, ColumnGrant, Value } from './store';

export default defineSandbox({
  connector: 'dynamics',
  async start(options: SandboxStartOptions = {}) {
    const sandbox = new DataverseSandbox({
      host: options.host,
      port: options.port,
      seed: options.seed,
      logger: options.logger,
      extras: options.extras,
      instanceId: options.instanceId,
    });
    const { url, env, caPem, instanceId, close } = await sandbox.start();
    return { url, env, caPem, instanceId, close };
  },
});
