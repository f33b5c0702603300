/**
 * Settings of the `collision-authority` policy: which connection is the authority when a field changed on both
 * sides since the last sync, per object and per field. The schema feeds settings validation and the OpenAPI
 * document.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const WinnerSchema = Type.String({
  minLength: 1,
  maxLength: 100,
  description: 'The connection whose value wins, by connection id (e.g. `marketo`, `dynamics`, `salesforce`).',
});

/** A map with free keys whose values all match `value` (`additionalProperties: <schema>`, OpenAPI-friendly). */
function StringMap<T extends TSchema>(value: T, description: string) {
  return Type.Unsafe<Record<string, Static<T>>>(
    Type.Object({}, { additionalProperties: value, maxProperties: 500, description }),
  );
}

export const ObjectAuthoritySchema = Type.Object(
  {
    winner: WinnerSchema,
    fields: Type.Optional(
      StringMap(
        WinnerSchema,
        'Per-field overrides, keyed by the field name on either side (e.g. `email`); each names the connection ' +
          'that wins a collision on that field, whatever `winner` says.',
      ),
    ),
  },
  { additionalProperties: false, description: 'Who wins collisions on one object pair.' },
);
export type ObjectAuthority = Static<typeof ObjectAuthoritySchema>;

export const CollisionAuthoritySettingsSchema = Type.Object(
  {
    objects: StringMap(
      ObjectAuthoritySchema,
      'Authority per object pair, keyed by the pair (`lead->contact`), or by an object type of the second side, ' +
        'or of the first (looked up in that order: the default pipeline keys them by the Dynamics type, `lead`, ' +
        '`contact`). A pair left out falls back to the defaults: between Marketo and a CRM (Dynamics, ' +
        'Salesforce), the CRM wins for contacts and Marketo for leads; elsewhere the most recent change wins.',
    ),
  },
  {
    additionalProperties: false,
    description:
      'Which connection wins when a field changed on both sides since the last sync. A per-field override beats ' +
      'the object winner.',
  },
);
export type CollisionAuthoritySettings = Static<typeof CollisionAuthoritySettingsSchema>;

/** Marketo's native syncs: the CRM is the record of contacts, marketing the record of leads. */
export const MARKETING = 'marketo';
export const CRMS: readonly string[] = ['dynamics', 'salesforce'];

export const defaultSettings: CollisionAuthoritySettings = { objects: {} };

/** A fresh copy of the default settings, safe to mutate. */
export function defaultCollisionAuthoritySettings(): CollisionAuthoritySettings {
  return structuredClone(defaultSettings);
}
