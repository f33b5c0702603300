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

/** Marketo datetimes come as `...Z` or with `+0000` offsets; the engine wants ISO 8601. */
export function isoDate(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** `reasons[0]` (leads) or `errors[0]` (custom activities) of a skipped record. */
export function firstReason(item: Record<string, unknown>): { code: string; message: string } {
  const list = Array.isArray(item.reasons) ? item.reasons : Array.isArray(item.errors) ? item.errors : [];
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
