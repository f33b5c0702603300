/** `@tandem/connector-dynamics/sandbox`: the local Dataverse + Entra ID simulator. */
export * from './server';
export { ENTITIES, type EntityName, type ColumnDef } from './schema';
export type { BusinessRule, ColumnGrant, Value } from './store';
export { sandboxConfig } from '../config';
