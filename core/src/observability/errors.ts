/**
 * How errors are logged: their type, message, code, stack and cause chain, never the objects they hold.
 * pino's default error serializer copies every enumerable property, and a MongoDB driver error holds the
 * whole topology (servers, pools, sockets): during an outage pino gave up on it and logged
 * "[unable to serialize, circular reference is too complex to analyze]" instead of the message. Here only
 * plain values are kept, credentials in URLs and headers are blanked, and causes are followed a few levels.
 */
import { inspect } from 'node:util';

const MAX_CAUSES = 5;
const SECRET_KEY = /secret|password|token|apikey|api_key|authorization|cookie|credential/i;
/** Properties that are getters on some error classes (the MongoDB driver's), not own enumerable values. */
const WELL_KNOWN = ['code', 'codeName', 'errorLabels', 'statusCode', 'status'] as const;

/** Blanks credentials a message may quote: `scheme://user:pass@`, bearer tokens, secret query parameters. */
export function scrubSecrets(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s:]*:[^/@\s]*@/gi, '$1[redacted]@')
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, '$1 [redacted]')
    .replace(/\b(client_secret|password|access_token|refresh_token|token|secret)=[^&\s"']+/gi, '$1=[redacted]');
}

function plain(value: unknown): boolean {
  return (
    typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
  );
}

function keep(value: unknown): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value) && value.length <= 20 && value.every(plain)) return value.map(keep);
  return plain(value) ? value : undefined;
}

function read(error: Error, key: string): unknown {
  try {
    return (error as unknown as Record<string, unknown>)[key];
  } catch {
    return undefined; // a getter that throws says nothing worth logging
  }
}

/** pino serializer for `err`: a plain, bounded object that always serializes. */
export function serializeError(value: unknown, depth = 0): unknown {
  if (!(value instanceof Error)) {
    if (value === null || value === undefined || plain(value)) return keep(value) ?? value;
    return {
      type: typeof value,
      message: scrubSecrets(inspect(value, { depth: 2, breakLength: Infinity })).slice(0, 2000),
    };
  }
  const out: Record<string, unknown> = {
    type: value.name || value.constructor?.name || 'Error',
    message: scrubSecrets(value.message),
  };
  for (const key of [...WELL_KNOWN, ...Object.keys(value)]) {
    if (key in out || key === 'stack' || key === 'cause' || SECRET_KEY.test(key)) continue;
    const kept = keep(read(value, key));
    if (kept !== undefined) out[key] = kept;
  }
  if (value.stack) out['stack'] = scrubSecrets(value.stack);
  if (value.cause !== undefined && depth < MAX_CAUSES) out['cause'] = serializeError(value.cause, depth + 1);
  if (value instanceof AggregateError && depth < MAX_CAUSES) {
    out['errors'] = value.errors.slice(0, 5).map((e) => serializeError(e, depth + 1));
  }
  return out;
}

/** The serializers every Tandem logger uses. */
export const LOG_SERIALIZERS = { err: serializeError, error: serializeError };
