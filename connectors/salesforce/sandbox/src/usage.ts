/**
 * The org's daily API allocation: requests in a rolling 24-hour window, shared by every integration of the
 * org. Every REST response reports it in `Sforce-Limit-Info: api-usage=<used>/<allocation>`; past the allocation
 * the API answers 403 REQUEST_LIMIT_EXCEEDED. Requests to the Versions resource and to the OAuth endpoints are
 * not API requests and do not count.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
 * https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html
 */
const DAY_MS = 24 * 3600 * 1000;

/** An Enterprise Edition org's base allocation (100,000 a day before per-license additions). */
export const DEFAULT_DAILY_ALLOCATION = 100_000;

export class ApiUsage {
  /** Times of the counted requests, oldest first. */
  private hits: number[] = [];
  private start = 0;

  constructor(public allocation: number = DEFAULT_DAILY_ALLOCATION) {}

  used(now: number): number {
    const horizon = now - DAY_MS;
    while (this.start < this.hits.length && (this.hits[this.start] ?? 0) <= horizon) this.start += 1;
    if (this.start > 4096 && this.start * 2 > this.hits.length) {
      this.hits = this.hits.slice(this.start);
      this.start = 0;
    }
    return this.hits.length - this.start;
  }

  exhausted(now: number): boolean {
    return this.used(now) >= this.allocation;
  }

  count(now: number): void {
    this.hits.push(now);
  }

  /** Sets the usage of the current window to `used` requests, all made now (tests of the limit). */
  setUsed(used: number, now: number): void {
    this.hits = new Array<number>(Math.max(0, used)).fill(now);
    this.start = 0;
  }

  header(now: number): string {
    return `api-usage=${this.used(now)}/${this.allocation}`;
  }
}
