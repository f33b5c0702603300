/** `@tandem/connector-marketo/sandbox`: the local Marketo simulator, for tests, benchmarks and sandbox mode. */
export { MarketoSandbox, DEFAULT_SANDBOX_LIMITS } from './server';
export type { SandboxCounters, SandboxFaults, SandboxLimits, SandboxStartOptions } from './server';
export { SandboxStore, ACTIVITY, sampleValues } from './store';
export type { ActivityRecord, Person, SandboxValue } from './store';
export { LEAD_FIELDS } from './fields';
