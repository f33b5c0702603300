/** The `collision-authority` decision logic: a stateless function of the collision and the settings. */
import type { Collision, CollisionPolicy, Side } from '@tandem/core/plugin';
import {
  CollisionAuthoritySettingsSchema,
  DEFAULT_OBJECT_WINNERS,
  FALLBACK_WINNER,
  defaultSettings,
  type CollisionAuthoritySettings,
} from './settings';

function own<T>(map: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return map !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
}

/**
 * Which side wins `collision`: the per-field override for the object (keyed by the Marketo field name)
 * if any, else the object's `winner`, else the default for the object (Marketo for `lead`, Dynamics for
 * `contact`), else Dynamics. Object and field names are matched exactly.
 */
export function resolveCollision(collision: Collision, settings: CollisionAuthoritySettings): Side {
  const object = own(settings.objects, collision.dynamicsObject);
  if (object === undefined) {
    return own(DEFAULT_OBJECT_WINNERS, collision.dynamicsObject) ?? FALLBACK_WINNER;
  }
  return own(object.fields, collision.marketoField) ?? object.winner;
}

/**
 * "Most recent change wins", what the engine applies when `collision-authority` is disabled. It lives in
 * the plugin contract (the engine needs it without this plugin); re-exported here for policy authors.
 */
export { mostRecentWins } from '@tandem/core/plugin';

export const collisionAuthorityPolicy: CollisionPolicy<CollisionAuthoritySettings> = {
  decisionPoint: 'collision',
  description:
    'Decides which system wins when a field changed on both sides since the last sync. By default Marketo ' +
    'wins for Dynamics leads and Dynamics wins for contacts; settings change the winner per object and per ' +
    'field. Disabled: the most recent change wins.',
  settingsSchema: CollisionAuthoritySettingsSchema,
  defaultSettings,
  defaultEnabled: true,
  resolve: resolveCollision,
};
