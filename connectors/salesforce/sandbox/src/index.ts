/**
 * `@tandem/sandbox-salesforce`: a local simulator of a vanilla Salesforce org's documented REST API, for tests,
 * benchmarks and sandbox mode. The default export is the sandbox definition core loads; `start()` answers the
 * connection's environment variables (SALESFORCE_URL, SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET,
 * SALESFORCE_API_VERSION) and the private CA the sandbox's certificate is signed with.
 */
import { defineSandbox, type RunningSandbox, type SandboxStartOptions } from '@tandem/core/plugin';
import { SalesforceSandbox, type SalesforceSandboxOptions } from './server';

export * from './server';
export { sampleFields, SALESFORCE_SEED } from './seed';
export type { SandboxFaults } from './faults';
export type { FieldAccess } from './fieldsecurity';
export type { ValidationRule, RuleCondition, DuplicateRuleSettings } from './rules';
export type { DataObjectName, ObjectName, FieldDef } from './schema';
export { formatDateTime } from './datetime';
export { normalizeId, idSuffix } from './ids';

export interface RunningSalesforceSandbox extends RunningSandbox {
  caPem: string;
  /** The sandbox itself: control methods, faults and counters for tests. */
  sandbox: SalesforceSandbox;
}

/** Starts a sandbox org and answers the connection's variables, as an operator sets them for a real org. */
export async function startSalesforceSandbox(
  options: SandboxStartOptions & Omit<SalesforceSandboxOptions, 'orgId'> = {},
): Promise<RunningSalesforceSandbox> {
  const { instanceId, ...rest } = options;
  const sandbox = new SalesforceSandbox({ ...rest, ...(instanceId ? { orgId: instanceId } : {}) });
  const started = await sandbox.start();
  return {
    url: started.url,
    env: {
      SALESFORCE_URL: started.url,
      SALESFORCE_CLIENT_ID: started.clientId,
      SALESFORCE_CLIENT_SECRET: started.clientSecret,
      SALESFORCE_API_VERSION: started.apiVersion,
    },
    caPem: started.caPem,
    instanceId: started.orgId,
    sandbox,
    close: () => started.close(),
  };
}

export default defineSandbox({
  connector: 'salesforce',
  start: (options) => startSalesforceSandbox(options),
});
