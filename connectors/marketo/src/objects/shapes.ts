/**
 * Narrowing of Marketo result items: the client hands over `unknown[]`; these checks turn them into typed
 * values or a `ProtocolError` that says what was wrong, instead of a crash further down.
 */
import { ProtocolError, type FieldValue } from '@tandem/core/plugin';
import { isRecord } from '../client';

export function asRecord(item: unknown, what: string): Record<string, unknown> {
  if (!isRecord(item)) throw new ProtocolError(`Marketo ${what}: expected an object, got ${JSON.stringify(item)}`);
  return item;
}

export function asId(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  throw new ProtocolError(`Marketo ${what}: expected an integer id, got ${JSON.stringify(value)}`);
}

export function asFieldValue(value: unknown): FieldValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

/** Marketo's usual form: UTC to the second, `2024-01-31T09:30:00Z`. */
const UTC_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/**
 * Marketo datetimes come as `...Z` or with `+0000` offsets; the engine wants ISO 8601 as `toISOString` writes it.
 * This runs twice for every lead read, so the usual form skips building a Date (0.2 µs instead of 0.8 here):
 * only the milliseconds are missing. Days past the 28th and hour 24 take the long way, where `Date.parse` rolls them
 * over into the next month or day (February 30th is March 1st to it), so both ways always agree.
 */
export function isoDate(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (UTC_SECONDS.test(value) && value.slice(8, 10) <= '28' && value.slice(11, 13) < '24') {
    return Number.isNaN(Date.parse(value)) ? undefined : `${value.slice(0, 19)}.000Z`;
  }
  const ms = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/**
 * Why a record was skipped: `reasons[0]` (leads, as every example of the docs shows it), `reason` (the Swagger's
 * `Lead` model names a single Reason object, https://developer.adobe.com/marketo-apis/api/mapi, "Lead"), or
 * `errors[0]` (custom activities).
 */
export function firstReason(item: Record<string, unknown>): { code: string; message: string } {
  const list = [item.reasons, item.reason, item.errors].flatMap((v) => (Array.isArray(v) ? v : isRecord(v) ? [v] : []));
  const first: unknown = list[0];
  if (isRecord(first) && (typeof first.code === 'string' || typeof first.code === 'number')) {
    return { code: String(first.code), message: typeof first.message === 'string' ? first.message : '' };
  }
  return { code: 'unknown', message: 'skipped without a reason' };
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Marketo refuses a request body over 1 MB with HTTP 413, and the docs' remedy is to move records to another
 * request (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes, "HTTP-Level
 * errors"). Taken as 10^6 bytes (the smaller reading of "1MB"), less room for the rest of the body.
 */
export const MAX_BODY_BYTES = 1_000_000 - 4096;

/** The size of a value as JSON, in UTF-8 bytes. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

/**
 * Batches in order of at most `count` items whose sizes (plus a comma each) stay within `bytes`. An item over the
 * limit by itself goes alone: Marketo's answer to it is the truth about it.
 */
export function batches<T>(
  items: readonly T[],
  count: number,
  size: (item: T) => number,
  bytes: number = MAX_BODY_BYTES,
): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let total = 0;
  for (const item of items) {
    const n = size(item) + 1;
    if (current.length > 0 && (current.length >= count || total + n > bytes)) {
      out.push(current);
      current = [];
      total = 0;
    }
    current.push(item);
    total += n;
  }
  if (current.length > 0) out.push(current);
  return out;
}
