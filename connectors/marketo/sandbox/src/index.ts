/**
 * `@tandem/sandbox-marketo`: a local simulator of Adobe Marketo Engage's documented REST API, as a vanilla
 * instance has it, for Tandem's sandbox mode, tests and benchmarks. It knows nothing of the connector: it hands
 * back the connection's documented environment variables (MARKETO_BASE_URL, MARKETO_CLIENT_ID,
 * MARKETO_CLIENT_SECRET), as an operator would set them for a real instance.
 */
import { defineSandbox, type SandboxStartOptions } from '@tandem/core/plugin';
import { MarketoSandbox } from './server';

export default defineSandbox({
  connector: 'marketo',
  async start(options: SandboxStartOptions = {}) {
    // A Marketo instance is named by its REST host (there is no call that says which instance answers), so
    // this sandbox is named by the origin it listens on and cannot take another name.
    if (options.instanceId !== undefined) {
      throw new Error(
        `The Marketo sandbox is named by its URL, as a Marketo instance is by its host: instanceId '${options.instanceId}' cannot be given`,
      );
    }
    const sandbox = new MarketoSandbox({ extras: options.extras ?? false });
    return sandbox.start({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      seed: options.seed ?? false,
    });
  },
});

export { MarketoSandbox, DEFAULT_SANDBOX_LIMITS, API_USER, ENV } from './server';
export type {
  MarketoSandboxOptions,
  MarketoStartOptions,
  SandboxCounters,
  SandboxFaults,
  SandboxLimits,
} from './server';
export { SandboxStore, ACTIVITY, sampleValues, marketoDate } from './store';
export type { ActivityRecord, Person, SandboxValue } from './store';
export { LeadSchema, STANDARD_FIELDS, EXTRA_FIELDS, DEFAULT_READ_FIELDS } from './fields';
export type { SandboxField, SandboxDataType } from './fields';
