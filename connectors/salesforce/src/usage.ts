/**
 * The org's daily API allocation, as every REST answer reports it (`Sforce-Limit-Info: api-usage=<used>/<max>`).
 * The allocation is shared by every integration of the org, so Tandem stops at a share of it
 * (`SALESFORCE_MAX_API_SHARE`) rather than at the limit: past that share, calls are refused before they are sent
 * with a `QuotaExhaustedError`. Salesforce counts requests over a rolling 24 hours, so room comes back gradually
 * as older requests age out, at a time no answer states: Tandem lets one call through every `quotaRecheckMs` to
 * read the usage again, and says when that will be.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
 * https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html
 */
import { QuotaExhaustedError } from '@tandem/core/plugin';
import type { SalesforceMetrics } from './metrics';

/** `api-usage=10018/100000` (possibly among other fields, `; api-bursts=1/750`). */
export function parseLimitInfo(header: string | undefined): { used: number; allocation: number } | undefined {
  const m = /api-usage=(\d+)\/(\d+)/.exec(header ?? '');
  if (!m?.[1] || !m[2]) return undefined;
  const allocation = Number(m[2]);
  return allocation > 0 ? { used: Number(m[1]), allocation } : undefined;
}

const number = (n: number) => n.toLocaleString('en-US');

export class ApiUsage {
  used: number | undefined;
  allocation: number | undefined;
  /** While set: calls wait for this instant, then one goes through to read the usage again. */
  private pausedUntil: number | undefined;
  org = 'unknown';

  constructor(
    private readonly share: number,
    private readonly recheckMs: number,
    private readonly metrics: SalesforceMetrics,
  ) {}

  private over(): boolean {
    return this.used !== undefined && this.allocation !== undefined && this.used >= this.share * this.allocation;
  }

  /** Before a call that counts against the allocation: refuses it while Tandem's share is spent. */
  admit(): void {
    if (!this.over() && this.pausedUntil === undefined) return;
    const now = Date.now();
    if (this.pausedUntil === undefined || now < this.pausedUntil) {
      this.pausedUntil ??= now + this.recheckMs;
      this.metrics.quotaRefused();
      throw this.spent();
    }
    // Time to look again: this call goes through and its answer tells; if still spent, wait another round.
    this.pausedUntil = now + this.recheckMs;
  }

  /** What an answer's `Sforce-Limit-Info` says. */
  observe(header: string | undefined): void {
    const info = parseLimitInfo(header);
    if (!info) return;
    this.used = info.used;
    this.allocation = info.allocation;
    this.metrics.usage(this.org, info.used, info.allocation);
    if (!this.over()) this.pausedUntil = undefined;
  }

  /** Salesforce answered REQUEST_LIMIT_EXCEEDED (TotalRequests): the whole allocation is spent. */
  exceeded(message: string): QuotaExhaustedError {
    this.pausedUntil = Date.now() + this.recheckMs;
    const resetsAt = new Date(this.pausedUntil);
    return new QuotaExhaustedError(
      `Salesforce refused the call: the org's daily API allocation is spent (REQUEST_LIMIT_EXCEEDED: ${message}). It is shared by every integration of the org and counted over a rolling 24 hours, so room comes back as older requests age out; Tandem tries again at ${resetsAt.toISOString()}.`,
      { resetsAt },
    );
  }

  private spent(): QuotaExhaustedError {
    const resetsAt = new Date(this.pausedUntil ?? Date.now() + this.recheckMs);
    const used = this.used ?? 0;
    const allocation = this.allocation ?? 0;
    return new QuotaExhaustedError(
      `Salesforce API usage is ${number(used)} of the org's ${number(allocation)} daily requests, at or above the ${Math.round(this.share * 100)}% Tandem may use (SALESFORCE_MAX_API_SHARE=${this.share}); the rest is left to the org's other integrations. Salesforce counts requests over a rolling 24 hours, so room comes back as older requests age out; Tandem looks again at ${resetsAt.toISOString()}.`,
      { resetsAt },
    );
  }
}
