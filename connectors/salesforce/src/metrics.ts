/**
 * Counters for `/metrics` (prom-client, prefixed `tandem_salesforce_`) and for `stats()`. Metrics are looked up
 * before being made (`sharedMetric`) so that two connections sharing one registry do not collide.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { sharedMetric } from '@tandem/core/plugin';

export interface SalesforceStats {
  /** HTTP requests sent to Salesforce, token requests included. */
  requests: number;
  /** Requests that count against the org's daily API allocation (under /services/data, the Versions resource aside). */
  apiRequests: number;
  tokenRequests: number;
  /** Requests sent again after a 503, a dropped connection or a timeout. */
  retries: number;
  /** Records sent again after UNABLE_TO_LOCK_ROW. */
  lockRetries: number;
  /** Requests sent again with a new session after INVALID_SESSION_ID. */
  unauthorizedRetries: number;
  /** Calls refused before being sent: Tandem's share of the daily allocation was spent. */
  quotaRefusals: number;
  /** Changed records that were our own confirmed writes coming back, not passed on (the loop guard). */
  echoesSkipped: number;
  /** Look-ups refused for their length (414, 431, a dropped connection) and split. */
  urisTooLong: number;
  /** sObject Collections requests (create, update, retrieve). */
  collections: number;
  /** Bulk API 2.0 ingest jobs run. */
  bulkJobs: number;
  [counter: string]: number;
}

function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  return sharedMetric(registry, name, () => new Counter({ name, help, labelNames, registers: [registry] }));
}

function gauge(registry: Registry, name: string, help: string, labelNames: string[] = []): Gauge<string> {
  return sharedMetric(registry, name, () => new Gauge({ name, help, labelNames, registers: [registry] }));
}

export class SalesforceMetrics {
  readonly stats: SalesforceStats = {
    requests: 0,
    apiRequests: 0,
    tokenRequests: 0,
    retries: 0,
    lockRetries: 0,
    unauthorizedRetries: 0,
    quotaRefusals: 0,
    echoesSkipped: 0,
    urisTooLong: 0,
    collections: 0,
    bulkJobs: 0,
  };
  private readonly requestsC: Counter<string>;
  private readonly tokensC: Counter<string>;
  private readonly retriesC: Counter<string>;
  private readonly quotaC: Counter<string>;
  private readonly echoesC: Counter<string>;
  private readonly urisC: Counter<string>;
  private readonly recordsC: Counter<string>;
  private readonly bulkC: Counter<string>;
  private readonly usedG: Gauge<string>;
  private readonly allocationG: Gauge<string>;

  constructor(registry: Registry) {
    this.requestsC = counter(registry, 'tandem_salesforce_requests_total', 'HTTP requests sent to Salesforce', [
      'method',
      'status',
    ]);
    this.tokensC = counter(registry, 'tandem_salesforce_token_requests_total', 'OAuth token requests', ['flow']);
    this.retriesC = counter(registry, 'tandem_salesforce_retries_total', 'Requests or records sent again', ['reason']);
    this.quotaC = counter(
      registry,
      'tandem_salesforce_quota_refusals_total',
      "Calls not sent because Tandem's share of the org's daily API allocation was spent",
    );
    this.echoesC = counter(
      registry,
      'tandem_salesforce_echoes_skipped_total',
      'Changed records that were our own writes coming back, not passed on',
    );
    this.urisC = counter(
      registry,
      'tandem_salesforce_uris_too_long_total',
      'Look-ups refused for the length of their URI (414, 431, a dropped connection) and split',
    );
    this.recordsC = counter(
      registry,
      'tandem_salesforce_records_written_total',
      'Records written, by way and outcome',
      ['via', 'outcome'],
    );
    this.bulkC = counter(registry, 'tandem_salesforce_bulk_jobs_total', 'Bulk API 2.0 ingest jobs, by final state', [
      'operation',
      'state',
    ]);
    this.usedG = gauge(
      registry,
      'tandem_salesforce_api_usage',
      'Daily API requests used by the org (all its integrations), from Sforce-Limit-Info',
      ['org'],
    );
    this.allocationG = gauge(
      registry,
      'tandem_salesforce_api_allocation',
      "The org's daily API request allocation, from Sforce-Limit-Info",
      ['org'],
    );
  }

  request(method: string, status: number, counted: boolean): void {
    this.stats.requests += 1;
    if (counted) this.stats.apiRequests += 1;
    this.requestsC.inc({ method, status: String(status) });
  }

  tokenRequest(flow: string): void {
    this.stats.requests += 1;
    this.stats.tokenRequests += 1;
    this.tokensC.inc({ flow });
  }

  retry(reason: 'unavailable' | 'network' | 'concurrency' | 'session' | 'lock', n = 1): void {
    if (reason === 'lock') this.stats.lockRetries += n;
    else if (reason === 'session') this.stats.unauthorizedRetries += n;
    else this.stats.retries += n;
    this.retriesC.inc({ reason }, n);
  }

  quotaRefused(): void {
    this.stats.quotaRefusals += 1;
    this.quotaC.inc();
  }

  echoesSkipped(n: number): void {
    if (n === 0) return;
    this.stats.echoesSkipped += n;
    this.echoesC.inc(n);
  }

  uriTooLong(): void {
    this.stats.urisTooLong += 1;
    this.urisC.inc();
  }

  collections(): void {
    this.stats.collections += 1;
  }

  written(via: 'collections' | 'bulk', outcome: string, n = 1): void {
    if (n > 0) this.recordsC.inc({ via, outcome }, n);
  }

  bulkJob(operation: string, state: string): void {
    this.stats.bulkJobs += 1;
    this.bulkC.inc({ operation, state });
  }

  usage(org: string, used: number, allocation: number): void {
    this.usedG.set({ org }, used);
    this.allocationG.set({ org }, allocation);
  }
}
