/** When Marketo's daily quota comes back: the next midnight in US Central time ([MK-DEV] rest-api.md). */
const ZONE = 'America/Chicago';

let formatter: Intl.DateTimeFormat | undefined;

/** Offset of `ZONE` from UTC at instant `ms`, in milliseconds (negative: behind UTC). */
function zoneOffset(ms: number): number {
  // Building a formatter loads time zone data (about a millisecond); it is made once and reused on every call.
  formatter ??= new Intl.DateTimeFormat('en-US', {
    timeZone: ZONE,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const parts = formatter.formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(ms / 1000) * 1000;
}

export function nextCentralMidnight(now: number = Date.now()): Date {
  const wallNow = new Date(now + zoneOffset(now));
  const wallMidnight = Date.UTC(wallNow.getUTCFullYear(), wallNow.getUTCMonth(), wallNow.getUTCDate() + 1);
  // The offset at midnight can differ from now's across a DST change: correct with the offset at that instant.
  const guess = wallMidnight - zoneOffset(now);
  return new Date(wallMidnight - zoneOffset(guess));
}

/** The US Central calendar day of `ms`, as YYYY-MM-DD (the daily call counter's key). */
export function centralDay(ms: number = Date.now()): string {
  return new Date(ms + zoneOffset(ms)).toISOString().slice(0, 10);
}
