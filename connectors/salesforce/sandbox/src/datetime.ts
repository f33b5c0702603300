/**
 * Dates and datetimes as the REST API writes and reads them: JSON answers carry
 * `2026-12-07T01:05:55.000+0000`; requests may use any ISO 8601 form with `Z` or an offset.
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/primitive_data_types.htm
 */

/** `2026-12-07T01:05:55.000+0000`: the form of every datetime in a REST answer. */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

/** `2026-12-07`: a date field (stored as midnight UTC). */
export function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Fractional seconds of any length, kept to the millisecond (the platform stores no finer). */
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Milliseconds of an ISO 8601 datetime with `Z` or an offset (`+01:00`, `+0100`), or undefined. */
export function parseDateTime(text: string): number | undefined {
  const m = DATETIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const base = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(s),
    Number((frac ?? '0').slice(0, 3).padEnd(3, '0')),
  );
  if (!validParts(Number(y), Number(mo), Number(d)) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return undefined;
  }
  if (zone === 'Z' || zone === undefined) return base;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
  return base - sign * offsetMin * 60_000;
}

/** Milliseconds (midnight UTC) of a `YYYY-MM-DD` date, or undefined. */
export function parseDate(text: string): number | undefined {
  const m = DATE.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!validParts(y, mo, d)) return undefined;
  return Date.UTC(y, mo - 1, d);
}

function validParts(y: number, mo: number, d: number): boolean {
  if (mo < 1 || mo > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return d <= days;
}
