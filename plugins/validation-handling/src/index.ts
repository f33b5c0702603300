/**
 * `@tandem/policy-validation-handling`: the rejection policy plugin. Importing this module has no side
 * effects; `register` only puts the (stateless) policy object in the plugin's child container.
 */
import { PluginTokens, definePolicy } from '@tandem/core/plugin';
import { validationHandlingPolicy } from './policy';

export const POLICY_ID = 'validation-handling';

export const validationHandling = definePolicy({
  id: POLICY_ID,
  register(container) {
    container.register(PluginTokens.Policy, { useValue: validationHandlingPolicy });
  },
});

export default validationHandling;

export { onRejected, validationHandlingPolicy } from './policy';
export * from './settings';
