/**
 * Counters for `/metrics` (prom-client, prefixed `tandem_dynamics_`) and for `stats()`. Metrics are looked up
 * before being made (`sharedMetric`) so that two connections sharing one registry do not collide.
 */
import { Counter, type Registry } from 'prom-client';
import { sharedMetric } from '@tandem/core/plugin';

export interface DynamicsStats {
  requests: number;
  batches: number;
  batchOperations: number;
  throttled: number;
  retries: number;
  tokenRequests: number;
  unauthorizedRetries: number;
  /** Records change tracking handed back unchanged since our own write, not passed on (the loop guard). */
  echoesSkipped: number;
  /** GETs refused for the length of their URL (414, 431, a dropped connection) and sent again inside $batch. */
  urlsTooLong: number;
  [counter: string]: number;
}

function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  return sharedMetric(registry, name, () => new Counter({ name, help, labelNames, registers: [registry] }));
}

export class DynamicsMetrics {
  readonly stats: DynamicsStats = {
    requests: 0,
    batches: 0,
    batchOperations: 0,
    throttled: 0,
    retries: 0,
    tokenRequests: 0,
    unauthorizedRetries: 0,
    echoesSkipped: 0,
    urlsTooLong: 0,
  };
  private readonly requests: Counter<string>;
  private readonly throttledC: Counter<string>;
  private readonly retriesC: Counter<string>;
  private readonly tokensC: Counter<string>;
  private readonly batchesC: Counter<string>;
  private readonly opsC: Counter<string>;
  private readonly echoesC: Counter<string>;
  private readonly urlsTooLongC: Counter<string>;

  constructor(registry: Registry) {
    this.requests = counter(registry, 'tandem_dynamics_requests_total', 'HTTP requests sent to the Dataverse Web API', [
      'method',
      'status',
    ]);
    this.throttledC = counter(
      registry,
      'tandem_dynamics_throttled_total',
      'Dataverse 429 answers (requests and batch operations)',
    );
    this.retriesC = counter(registry, 'tandem_dynamics_retries_total', 'Requests or batch operations sent again');
    this.tokensC = counter(registry, 'tandem_dynamics_token_requests_total', 'Token requests sent to Entra ID');
    this.batchesC = counter(registry, 'tandem_dynamics_batches_total', '$batch requests sent');
    this.opsC = counter(registry, 'tandem_dynamics_batch_operations_total', 'Operations sent inside $batch requests');
    this.echoesC = counter(
      registry,
      'tandem_dynamics_echoes_skipped_total',
      'Changed records that were our own writes coming back, not passed on',
    );
    this.urlsTooLongC = counter(
      registry,
      'tandem_dynamics_urls_too_long_total',
      'GETs refused for the length of their URL (by a proxy or gateway) and sent again inside $batch',
    );
  }

  request(method: string, status: number): void {
    this.stats.requests += 1;
    this.requests.inc({ method, status: String(status) });
  }

  throttled(n = 1): void {
    this.stats.throttled += n;
    this.throttledC.inc(n);
  }

  retry(n = 1): void {
    this.stats.retries += n;
    this.retriesC.inc(n);
  }

  tokenRequest(): void {
    this.stats.tokenRequests += 1;
    this.tokensC.inc();
  }

  batch(operations: number): void {
    this.stats.batches += 1;
    this.stats.batchOperations += operations;
    this.batchesC.inc();
    this.opsC.inc(operations);
  }

  urlTooLong(): void {
    this.stats.urlsTooLong += 1;
    this.urlsTooLongC.inc();
  }

  echoesSkipped(n: number): void {
    if (n === 0) return;
    this.stats.echoesSkipped += n;
    this.echoesC.inc(n);
  }
}
