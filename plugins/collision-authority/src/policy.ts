/** The `collision-authority` decision logic: a stateless function of the collision and the settings. */
import type { Collision, CollisionPolicy } from '@tandem/core/plugin';
import {
  CollisionAuthoritySettingsSchema,
  CRMS,
  defaultSettings,
  MARKETING,
  type CollisionAuthoritySettings,
} from './settings';

function own<T>(map: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return map !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
}

/**
 * The defaults of Marketo's own Dynamics and Salesforce syncs: between Marketo and a CRM, the CRM wins for its
 * contacts and Marketo for leads. Anything else: no opinion (the engine lets the most recent change win).
 */
function nativeDefault(collision: Collision): string | undefined {
  const marketing = collision.sides.find((s) => s.connector === MARKETING);
  const crm = collision.sides.find((s) => CRMS.includes(s.connector));
  if (!marketing || !crm) return undefined;
  const type = crm.objectType.toLowerCase();
  if (type === 'contact') return crm.connection;
  if (type === 'lead') return marketing.connection;
  return undefined;
}

/**
 * Which connection wins `collision`: the settings' entry for the object pair (by pair, else by the second
 * side's object type, else by the first's): its per-field override (by either side's field name), else its
 * `winner`; with no entry, the native default; else no opinion. Names are matched exactly.
 */
export function resolveCollision(collision: Collision, settings: CollisionAuthoritySettings): string | undefined {
  const [first, second] = collision.sides;
  const object =
    own(settings.objects, `${first.objectType}->${second.objectType}`) ??
    own(settings.objects, second.objectType) ??
    own(settings.objects, first.objectType);
  if (object === undefined) return nativeDefault(collision);
  return own(object.fields, first.field) ?? own(object.fields, second.field) ?? object.winner;
}

/**
 * "Most recent change wins", what the engine applies when no policy decides. It lives in the plugin contract
 * (the engine needs it without this plugin); re-exported here for policy authors.
 */
export { mostRecentWins } from '@tandem/core/plugin';

export const collisionAuthorityPolicy: CollisionPolicy<CollisionAuthoritySettings> = {
  decisionPoint: 'collision',
  description:
    'Decides which connection wins when a field changed on both sides since the last sync. By default, between ' +
    "Marketo and a CRM the CRM wins for contacts and Marketo wins for leads (as Marketo's own syncs do), and " +
    'elsewhere the most recent change wins; settings name the winner per object pair and per field, by ' +
    'connection id. Disabled: the most recent change wins.',
  settingsSchema: CollisionAuthoritySettingsSchema,
  defaultSettings,
  defaultEnabled: true,
  resolve: resolveCollision,
};
