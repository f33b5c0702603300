/**
 * The sandbox's clock: the real time plus an offset tests can move, so that windows measured in days (the 30
 * days of `updated`, the 15 days of the delete log, the two days of a query cursor, a session's inactivity
 * timeout) can be crossed without waiting.
 */
export class SandboxClock {
  private offsetMs = 0;
  /** When set, time stands still at this instant (until advanced), so tests never straddle a second. */
  private frozenAt: number | undefined;

  now(): number {
    return this.frozenAt ?? Date.now() + this.offsetMs;
  }

  /** Moves the clock so that `now()` is this instant; `frozen`: and keeps it there until advanced. */
  set(at: Date | number | string, options: { frozen?: boolean } = {}): void {
    const target = new Date(at).getTime();
    if (Number.isNaN(target)) throw new Error(`not a date: ${String(at)}`);
    this.offsetMs = target - Date.now();
    this.frozenAt = options.frozen ? target : undefined;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
    if (this.frozenAt !== undefined) this.frozenAt += ms;
  }

  reset(): void {
    this.offsetMs = 0;
    this.frozenAt = undefined;
  }
}

/** Salesforce keeps datetimes to the second: a record's stamps never carry milliseconds. */
export function toSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

export function toMinute(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}
