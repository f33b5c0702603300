/**
 * Test helpers: a sandbox on a free loopback port and a connector resolved the way the host does it (a child
 * container holding Logger, Config and Metrics, then `definition.register`).
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import pino from 'pino';
import { Registry } from 'prom-client';
import { PluginTokens, type Connector } from '@tandem/core/plugin';
import definition from '../src/index';
import type { MarketoConfig } from '../src/config';
import type { MarketoConnector } from '../src/connector';
import { MarketoSandbox, type SandboxStartOptions } from '../src/sandbox';

export interface Harness {
  sandbox: MarketoSandbox;
  url: string;
  config: MarketoConfig;
  connector: MarketoConnector;
  metrics: Registry;
  connect(overrides?: Partial<MarketoConfig>): MarketoConnector;
  close(): Promise<void>;
}

export async function startHarness(
  options: SandboxStartOptions = {},
  overrides: Partial<MarketoConfig> = {},
): Promise<Harness> {
  const sandbox = new MarketoSandbox();
  const running = await sandbox.start({ seed: false, ...options });
  const config: MarketoConfig = {
    baseUrl: running.url,
    clientId: sandbox.clientId,
    clientSecret: sandbox.clientSecret,
    // Short backoff so retry tests stay quick; the production default starts at 1 s.
    backoff: { baseMs: 200, maxMs: 2000 },
    ...overrides,
  };
  const connectors: MarketoConnector[] = [];
  const metrics = new Registry();
  const connect = (more: Partial<MarketoConfig> = {}): MarketoConnector => {
    const child = container.createChildContainer();
    child.register(PluginTokens.Logger, { useValue: pino({ level: 'silent' }) });
    child.register(PluginTokens.Config, { useValue: { ...config, ...more } });
    child.register(PluginTokens.Metrics, { useValue: metrics });
    definition.register(child);
    const connector = child.resolve<Connector>(PluginTokens.Connector) as MarketoConnector;
    connectors.push(connector);
    return connector;
  };
  const connector = connect();
  return {
    sandbox,
    url: running.url,
    config,
    connector,
    metrics,
    connect,
    async close() {
      await Promise.all(connectors.map((c) => c.close()));
      await running.close();
    },
  };
}

/** Collects every page of an async iterable. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

export const FIELDS = ['email', 'firstName', 'lastName', 'title', 'leadScore'];
