/**
 * TypeBox's `Value` functions know no string formats until they are registered, and reject a schema that
 * uses an unknown one. Plugin config and policy settings schemas use the common JSON Schema formats, so
 * core registers them (the same names Ajv validates in the REST API).
 */
import { FormatRegistry } from '@sinclair/typebox';

const FORMATS: Record<string, (value: string) => boolean> = {
  uri: (v) => URL.canParse(v) && /^[a-z][a-z0-9+.-]*:/i.test(v),
  url: (v) => URL.canParse(v),
  email: (v) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v),
  'date-time': (v) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(v) && !isNaN(Date.parse(v)),
  date: (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !isNaN(Date.parse(v)),
  uuid: (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  hostname: (v) =>
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(v),
};

/** Registers the formats that are not registered yet (a plugin may have registered its own). Idempotent. */
export function registerFormats(): void {
  for (const [name, check] of Object.entries(FORMATS)) {
    if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, check);
  }
}
