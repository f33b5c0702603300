/**
 * Connection configs are shown by `GET /v1/pipelines/:id` with secrets masked: the fields a plugin marked
 * with `Secret()`, plus any field whose name says it is one (belt and braces for hand-written schemas).
 */
import type { TSchema } from '@sinclair/typebox';
import { secretFieldNames } from '../observability';

const SECRET_NAME = /secret|password|token|apikey|api_key/i;
export const MASK = '********';

export function maskSecrets(config: unknown, schema?: TSchema): unknown {
  const secret = new Set(schema ? secretFieldNames(schema) : []);
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [
        key,
        (secret.has(key) || SECRET_NAME.test(key)) && v !== undefined && v !== null && v !== '' ? MASK : walk(v),
      ]),
    );
  };
  return walk(config);
}
