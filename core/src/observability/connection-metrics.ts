/**
 * Per-connection gauges from each connection's last check: the API allowance left (`quota`) and how far the
 * system's clock is from ours. A check costs API calls, so none is made on a schedule: a scrape that finds the
 * last check older than `refreshMs` starts a new one in the background, and the next scrape shows it.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Connections } from '../connections/connections';

export const QUOTA_REFRESH_MS = 5 * 60_000;

type Checked = Pick<Connections, 'list' | 'last' | 'check'>;

export function registerConnectionMetrics(
  registry: Registry,
  connections: Checked,
  refreshMs = QUOTA_REFRESH_MS,
): void {
  const refreshing = new Set<string>();
  const refresh = (id: string, checkedAt: Date | undefined): void => {
    if (refreshing.has(id) || (checkedAt && Date.now() - checkedAt.getTime() < refreshMs)) return;
    refreshing.add(id);
    void connections
      .check(id)
      .catch(() => undefined)
      .finally(() => refreshing.delete(id));
  };
  const each = (read: (id: string) => number | undefined) =>
    function collect(this: Gauge<'connection'>): void {
      this.reset();
      for (const { id } of connections.list()) {
        const value = read(id);
        if (value !== undefined) this.set({ connection: id }, value);
      }
    };
  const quota = (key: 'remaining' | 'limit' | 'used') => (id: string) => {
    const last = connections.last(id);
    refresh(id, last?.checkedAt);
    return last?.quota?.[key];
  };
  new Gauge({
    name: 'tandem_connection_quota_remaining',
    help: "API calls the connection may still make in the system's current quota window, as its last check saw them",
    labelNames: ['connection'],
    registers: [registry],
    collect: each(quota('remaining')),
  });
  new Gauge({
    name: 'tandem_connection_quota_limit',
    help: "The size of the system's quota window the connection draws on, as its last check saw it",
    labelNames: ['connection'],
    registers: [registry],
    collect: each((id) => connections.last(id)?.quota?.limit),
  });
  new Gauge({
    name: 'tandem_connection_clock_skew_seconds',
    help: "The system's clock minus Tandem's at the connection's last check (from the system's HTTP Date header)",
    labelNames: ['connection'],
    registers: [registry],
    collect: each((id) => {
      const last = connections.last(id);
      const server = last?.serverTime ? Date.parse(last.serverTime) : Number.NaN;
      return last && !Number.isNaN(server) ? (server - last.checkedAt.getTime()) / 1000 : undefined;
    }),
  });
}
