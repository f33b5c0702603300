/** The `validation-handling` decision logic: a stateless function of the settings. */
import type { Rejection, RejectionAction, RejectionPolicy } from '@tandem/core/plugin';
import { ValidationHandlingSettingsSchema, defaultSettings, type ValidationHandlingSettings } from './settings';

/**
 * What the cycle does after `rejection`: `halt` only when the settings say so, else `continue`. The engine
 * logs the rejection in the person's activity log whatever this answers.
 */
export function onRejected(_rejection: Rejection, settings: ValidationHandlingSettings): RejectionAction {
  return settings.mode === 'halt' ? 'halt' : 'continue';
}

export const validationHandlingPolicy: RejectionPolicy<ValidationHandlingSettings> = {
  decisionPoint: 'rejection',
  description:
    "A write the other system rejects is logged in the person's activity log with the system's message; " +
    'the rest of the cycle goes on and the record is retried when its source changes. Set `mode` to `halt` ' +
    'to stop the cycle instead.',
  settingsSchema: ValidationHandlingSettingsSchema,
  defaultSettings,
  defaultEnabled: true,
  onRejected,
};
