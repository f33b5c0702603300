/**
 * Test harness: a real sandbox (`@tandem/sandbox-salesforce`) over HTTPS on 127.0.0.1, and connectors resolved the
 * way the host does it, configured the way the host configures them in sandbox mode: the sandbox's variables
 * through the connector's own env bindings, and its CA as `tlsCa`.
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import pino from 'pino';
import { Registry } from 'prom-client';
import { sandboxConnectorConfig } from '@tandem/core';
import { PluginTokens, type ChangePage } from '@tandem/core/plugin';
import {
  startSalesforceSandbox,
  type RunningSalesforceSandbox,
  type SalesforceSandbox,
  type SalesforceSandboxOptions,
} from '@tandem/sandbox-salesforce';
import salesforceConnector, { type SalesforceConfig, type SalesforceConnector } from '../src/index';

export interface Harness {
  running: RunningSalesforceSandbox;
  sandbox: SalesforceSandbox;
  config: SalesforceConfig;
  registry: Registry;
  connector(overrides?: Partial<SalesforceConfig>): SalesforceConnector;
  close(): Promise<void>;
}

/** Fast retries for tests: the backoff is what is waited, not what is checked. */
export const FAST: NonNullable<SalesforceConfig['limits']> = {
  maxConcurrent: 8,
  maxRetries: 5,
  backoffMs: 1,
  lockRetries: 3,
  quotaRecheckMinutes: 15,
  maxUriBytes: 16_384,
  bulkPollMs: 5,
  bulkTimeoutMinutes: 30,
};

export async function startHarness(
  options: Parameters<typeof startSalesforceSandbox>[0] & Omit<SalesforceSandboxOptions, 'orgId'> = {},
): Promise<Harness> {
  const running = await startSalesforceSandbox(options);
  const config = { ...(sandboxConnectorConfig(salesforceConnector, running) as SalesforceConfig), limits: FAST };
  const registry = new Registry();
  const connectors: SalesforceConnector[] = [];
  return {
    running,
    sandbox: running.sandbox,
    config,
    registry,
    connector(overrides = {}) {
      const child = container.createChildContainer();
      child.register(PluginTokens.Logger, { useValue: pino({ level: 'silent' }) });
      child.register(PluginTokens.Config, { useValue: { ...config, ...overrides } });
      child.register(PluginTokens.Metrics, { useValue: registry });
      salesforceConnector.register(child);
      const c = child.resolve<SalesforceConnector>(PluginTokens.Connector);
      connectors.push(c);
      return c;
    },
    async close() {
      await Promise.all(connectors.map((c) => c.close()));
      await running.close();
    },
  };
}

export async function withHarness(
  options: Parameters<typeof startHarness>[0],
  run: (h: Harness) => Promise<void>,
): Promise<void> {
  const h = await startHarness(options);
  try {
    await run(h);
  } finally {
    await h.close();
  }
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Reads from `cursor` to done; answers the pages and the final cursor. */
export async function readAll(
  c: SalesforceConnector,
  objectType: string,
  cursor: string | null,
  fields: string[],
): Promise<{ pages: ChangePage[]; cursor: string; ids: string[]; deleted: string[] }> {
  const pages = await collect(c.readChanges(objectType, cursor, { fields }));
  const last = pages.at(-1);
  if (!last) throw new Error('readChanges yielded no page');
  return {
    pages,
    cursor: last.cursor,
    ids: pages.flatMap((p) => p.records.map((r) => r.id)),
    deleted: pages.flatMap((p) => p.deletedIds),
  };
}

/** API requests (those that count against the allocation) the sandbox saw while `run` ran. */
export async function apiCalls(sandbox: SalesforceSandbox, run: () => Promise<unknown>): Promise<number> {
  const before = sandbox.getCounters().apiRequests;
  await run();
  return sandbox.getCounters().apiRequests - before;
}

export const CONTACT_FIELDS = ['FirstName', 'LastName', 'Email', 'Title'];
export const LEAD_FIELDS = ['FirstName', 'LastName', 'Email', 'Company', 'Title'];
