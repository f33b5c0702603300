/**
 * Settings of the `collision-authority` policy: which system is the authority when a field changed on both
 * sides since the last sync. The schema feeds settings validation and the OpenAPI document.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { Side } from '@tandem/core/plugin';

export const SideSchema = Type.Union([Type.Literal('marketo'), Type.Literal('dynamics')], {
  description: 'The system whose value wins: `marketo` (Marketo Engage) or `dynamics` (Dynamics 365).',
});

/** A map with free keys whose values all match `value` (`additionalProperties: <schema>`, OpenAPI-friendly). */
function StringMap<T extends TSchema>(value: T, description: string) {
  return Type.Unsafe<Record<string, Static<T>>>(Type.Object({}, { additionalProperties: value, description }));
}

export const ObjectAuthoritySchema = Type.Object(
  {
    winner: Type.Union([Type.Literal('marketo'), Type.Literal('dynamics')], {
      description: 'The system that wins every collision on this object, unless `fields` names the field.',
    }),
    fields: Type.Optional(
      StringMap(
        SideSchema,
        'Per-field overrides, keyed by the Marketo field name of the mapping (e.g. `email`); each names the ' +
          'system that wins a collision on that field, whatever `winner` says.',
      ),
    ),
  },
  { additionalProperties: false, description: 'Who wins collisions on one Dynamics object type.' },
);
export type ObjectAuthority = Static<typeof ObjectAuthoritySchema>;

export const CollisionAuthoritySettingsSchema = Type.Object(
  {
    objects: StringMap(
      ObjectAuthoritySchema,
      'Authority per Dynamics object type, keyed by its logical name (`lead`, `contact`). An object left ' +
        'out falls back to the default: Marketo for `lead`, Dynamics for `contact`, Dynamics for any other.',
    ),
  },
  {
    additionalProperties: false,
    description:
      'Which system wins when a field changed on both sides since the last sync. A per-field override ' +
      'beats the object winner.',
  },
);
export type CollisionAuthoritySettings = Static<typeof CollisionAuthoritySettingsSchema>;

/** Marketo's native behaviour: Marketo wins for Dynamics leads, Dynamics wins for contacts. */
export const DEFAULT_OBJECT_WINNERS: Readonly<Record<string, Side>> = Object.freeze({
  lead: 'marketo',
  contact: 'dynamics',
});

/** The winner for an object type that has no entry in the settings and no default. */
export const FALLBACK_WINNER: Side = 'dynamics';

export const defaultSettings: CollisionAuthoritySettings = {
  objects: { lead: { winner: 'marketo' }, contact: { winner: 'dynamics' } },
};

/** A fresh copy of the default settings, safe to mutate. */
export function defaultCollisionAuthoritySettings(): CollisionAuthoritySettings {
  return structuredClone(defaultSettings);
}
