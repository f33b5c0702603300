/**
 * Which log paths pino must censor. Secrets are found where plugin authors marked them (`Secret()` sets
 * SECRET_KEYWORD in the config schema), plus the names that are secret in any codebase.
 */
import type { TSchema } from '@sinclair/typebox';
import { SECRET_KEYWORD } from '../plugin';

const ALWAYS_SECRET = [
  'password',
  'clientSecret',
  'client_secret',
  'apiToken',
  'accessToken',
  'access_token',
  'refreshToken',
  'token',
  'secret',
];

/** Property names (at any depth) whose schema carries SECRET_KEYWORD. */
export function secretFieldNames(schema: TSchema): string[] {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    const properties = (node as { properties?: Record<string, unknown> }).properties;
    if (properties) {
      for (const [name, child] of Object.entries(properties)) {
        if (
          typeof child === 'object' &&
          child !== null &&
          (child as Record<string, unknown>)[SECRET_KEYWORD] === true
        ) {
          found.add(name);
        }
        walk(child);
      }
    }
    for (const key of ['anyOf', 'allOf', 'oneOf', 'items']) {
      const sub = (node as Record<string, unknown>)[key];
      if (Array.isArray(sub)) sub.forEach(walk);
      else walk(sub);
    }
  };
  walk(schema);
  return [...found];
}

/** Redaction paths for pino: each secret name at the top level and up to three levels down. */
export function redactionPaths(schemas: readonly TSchema[]): string[] {
  const names = new Set([...ALWAYS_SECRET, ...schemas.flatMap(secretFieldNames)]);
  const paths = [
    'req.headers.authorization',
    'req.headers.cookie',
    'headers.authorization',
    'res.headers["set-cookie"]',
  ];
  for (const name of names) {
    const key = /^[A-Za-z_$][\w$]*$/.test(name) ? name : `["${name}"]`;
    const dot = key.startsWith('[') ? '' : '.';
    paths.push(key, `*${dot}${key}`, `*.*${dot}${key}`, `*.*.*${dot}${key}`);
  }
  return paths;
}
