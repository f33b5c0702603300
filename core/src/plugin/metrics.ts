import type { Metric, Registry } from 'prom-client';

/**
 * The metric `name` in `registry`, made by `create` the first time it is asked for. Several connector
 * instances (and several Tandem instances in one test process) may share a registry, and prom-client refuses
 * a second metric of one name.
 */
export function sharedMetric<T extends Metric>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}
