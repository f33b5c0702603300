/**
 * Settings of the `validation-handling` policy: what a sync cycle does after the other system rejects a
 * write. The schema feeds settings validation and the OpenAPI document.
 */
import { Type, type Static } from '@sinclair/typebox';

export const ValidationHandlingSettingsSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal('continue'), Type.Literal('halt')], {
      description:
        '`continue`: the rest of the cycle goes on and the rejected record is retried when its source ' +
        'changes. `halt`: the cycle stops at the first rejected write. Either way the rejection is logged ' +
        "in the person's activity log with the system's message.",
    }),
  },
  {
    additionalProperties: false,
    description: 'What a sync cycle does after a write is rejected (validation rule, plug-in, bad format).',
  },
);
export type ValidationHandlingSettings = Static<typeof ValidationHandlingSettingsSchema>;

export const defaultSettings: ValidationHandlingSettings = { mode: 'continue' };

/** A fresh copy of the default settings, safe to mutate. */
export function defaultValidationHandlingSettings(): ValidationHandlingSettings {
  return { ...defaultSettings };
}
