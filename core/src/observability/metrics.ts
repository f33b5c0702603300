/**
 * One prom-client Registry per Tandem instance (never the global one), so that several instances in one
 * test process do not share counters. Plugins get the same registry through `PluginTokens.Metrics`.
 */
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  // The event-loop lag histogram samples on a timer: prom-client's default (every 10 ms) wakes an idle process
  // 100 times a second, about 1 % of a core; every 100 ms is plenty for a lag that matters.
  collectDefaultMetrics({ register: registry, prefix: 'tandem_', eventLoopMonitoringPrecision: 100 });
  const httpDuration = new Histogram({
    name: 'tandem_http_request_duration_seconds',
    help: 'REST API request duration by method, route template and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return { registry, httpDuration };
}
