/**
 * `@tandem/policy-collision-authority`: the collision policy plugin. Importing this module has no side
 * effects; `register` only puts the (stateless) policy object in the plugin's child container.
 */
import { PluginTokens, definePolicy } from '@tandem/core/plugin';
import { collisionAuthorityPolicy } from './policy';

export const POLICY_ID = 'collision-authority';

export const collisionAuthority = definePolicy({
  id: POLICY_ID,
  register(container) {
    container.register(PluginTokens.Policy, { useValue: collisionAuthorityPolicy });
  },
});

export default collisionAuthority;

export { collisionAuthorityPolicy, mostRecentWins, resolveCollision } from './policy';
export * from './settings';
