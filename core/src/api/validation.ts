/**
 * Request validation with two Ajv instances: path and query parameters arrive as strings, so they are
 * coerced to the types their schema names; a JSON body already has types, so it is never coerced (a
 * `"false"`, `0` or `null` where a boolean belongs is a 400, not a quiet `false`).
 *
 * Coercion is also stricter than Ajv's for integers: Ajv turns any string JavaScript reads as a number into
 * one (`0x10`, `1e3`, ` 5`, `Infinity`), so an integer parameter must first be a plain decimal integer.
 * Query strings take no parameter their schema does not name.
 */
import Ajv, { type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

/** Fastify's own Ajv defaults (@fastify/ajv-compiler), but for `coerceTypes`. */
const BASE: Options = { useDefaults: true, removeAdditional: false, addUsedSchema: false, allErrors: false };

/** At most 15 digits: every such integer is exact in a double (Number.MAX_SAFE_INTEGER has 16). */
const DECIMAL_INTEGER = /^-?(0|[1-9][0-9]{0,14})$/;
const DECIMAL_NUMBER = /^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?$/;

interface ObjectSchema {
  type?: unknown;
  properties?: Record<string, { type?: unknown }>;
  additionalProperties?: unknown;
}

function ajv(coerce: boolean): Ajv {
  const instance = new Ajv({ ...BASE, coerceTypes: coerce });
  addFormats(instance);
  return instance;
}

/** The first string in `data` that an integer (or number) property of `schema` must not be coerced from. */
function badNumber(schema: ObjectSchema, data: unknown): ErrorObject | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const value = (data as Record<string, unknown>)[name];
    if (typeof value !== 'string') continue;
    const rule =
      property.type === 'integer' ? DECIMAL_INTEGER : property.type === 'number' ? DECIMAL_NUMBER : undefined;
    if (!rule || rule.test(value)) continue;
    return {
      instancePath: `/${name}`,
      schemaPath: `#/properties/${name}/type`,
      keyword: 'type',
      params: { type: property.type },
      message: `must be a plain decimal ${property.type === 'integer' ? 'integer' : 'number'}`,
    };
  }
  return undefined;
}

/** The validator compiler for `app.setValidatorCompiler`. */
export function strictValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const coercing = ajv(true);
  const exact = ajv(false);
  return ({ schema, httpPart }) => {
    if (httpPart === 'body') return exact.compile(schema as object);
    const shape = schema as ObjectSchema;
    const closed =
      httpPart === 'querystring' && shape.additionalProperties === undefined
        ? { ...shape, additionalProperties: false }
        : shape;
    const validate: ValidateFunction = coercing.compile(closed);
    const check = (data: unknown): boolean => {
      const bad = badNumber(shape, data);
      if (bad) {
        check.errors = [bad];
        return false;
      }
      const ok = validate(data) as boolean;
      check.errors = validate.errors ?? null;
      return ok;
    };
    check.errors = null as ErrorObject[] | null;
    return check;
  };
}
