/**
 * The JSON body parser. Before anything walks a body (validation, cloning, MongoDB), it must be shallow
 * enough not to exhaust the stack and hold only keys a document can keep: a deeply nested body is refused
 * from its text, before it is parsed; `__proto__` and `constructor.prototype` are refused while parsing
 * (secure-json-parse); then every key and number is checked once.
 */
import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { TandemError } from '../plugin';

/** No request of the API nests deeper than a policy's per-object, per-field settings (about 6 levels). */
export const MAX_JSON_DEPTH = 32;

function badRequest(detail: string): TandemError {
  return new TandemError('BAD_REQUEST', detail, { status: 400 });
}

/** Whether `text` opens more than `max` objects or arrays inside each other (strings are skipped). */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character, quotes included
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Keys that name nothing in a document: MongoDB operators, dotted paths, the empty key, JavaScript internals. */
export function keyProblem(key: string): string | undefined {
  if (key === '') return 'an empty key is not allowed';
  if (key.startsWith('$')) return 'a key may not start with "$"';
  if (key.includes('.')) return 'a key may not contain "."';
  if (key.includes('\u0000')) return 'a key may not contain a NUL character';
  if (key === '__proto__' || key === 'constructor' || key === 'prototype') return `"${key}" is not allowed as a key`;
  return undefined;
}

function pathOf(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}.${key}`;
  return /^[A-Za-z_][\w-]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** Checks every key and number of a parsed body (iteratively: the depth is already bounded, but cheaply so). */
export function checkJsonValue(value: unknown, root = 'body'): void {
  const stack: Array<{ value: unknown; path: string }> = [{ value, path: root }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'number' && !Number.isFinite(current)) {
      throw badRequest(`${path} is a number too large to represent`);
    }
    if (typeof current !== 'object' || current === null) continue;
    if (Array.isArray(current)) {
      current.forEach((item, i) => stack.push({ value: item, path: pathOf(path, i) }));
      continue;
    }
    for (const [key, child] of Object.entries(current)) {
      const problem = keyProblem(key);
      if (problem) throw badRequest(`${pathOf(path, key)}: ${problem}`);
      stack.push({ value: child, path: pathOf(path, key) });
    }
  }
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw badRequest('The body is empty; send a JSON value or no content type');
  if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
    throw badRequest(`The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels, the limit`);
  }
  let value: unknown;
  try {
    value = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw badRequest(`The body is not valid JSON: ${message}`);
  }
  checkJsonValue(value);
  return value;
}

/** JSON is UTF-8 (RFC 8259 §8.1): a body labelled otherwise would be read as something it is not. */
function charsetProblem(contentType: string | undefined): Error | undefined {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') return undefined;
  // A plain error with a status: the error handler gives a 4xx its code (UNSUPPORTED_MEDIA_TYPE).
  return Object.assign(new Error(`JSON bodies are read as UTF-8, not ${charset}`), { statusCode: 415 });
}

/** JSON is the only body the API reads (Fastify also reads text/plain by default): any other type is a 415. */
export function useStrictJson(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    try {
      const charset = charsetProblem(request.headers['content-type']);
      if (charset) throw charset;
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
