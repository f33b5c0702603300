/**
 * Test helpers: a sandbox on a free loopback port, its connection built the way sandbox mode builds it (the
 * sandbox's environment through the connector's env bindings), and a connector resolved the way the host does
 * it (a child container holding Logger, Config and Metrics, then `definition.register`).
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import pino from 'pino';
import { Registry } from 'prom-client';
import { sandboxConnectorConfig } from '@tandem/core';
import { PluginTokens, type Connector, type RunningSandbox } from '@tandem/core/plugin';
import { MarketoSandbox, type MarketoSandboxOptions, type MarketoStartOptions } from '@tandem/sandbox-marketo';
import definition from '../src/index';
import type { MarketoConfig } from '../src/config';
import type { MarketoConnector } from '../src/connector';

export interface Harness {
  sandbox: MarketoSandbox;
  running: RunningSandbox;
  url: string;
  config: MarketoConfig;
  connector: MarketoConnector;
  metrics: Registry;
  connect(overrides?: Partial<MarketoConfig>): MarketoConnector;
  close(): Promise<void>;
}

export async function startHarness(
  options: MarketoStartOptions & Pick<MarketoSandboxOptions, 'extras' | 'firstLeadId'> = {},
  overrides: Partial<MarketoConfig> = {},
): Promise<Harness> {
  const { extras, firstLeadId, ...start } = options;
  const sandbox = new MarketoSandbox({ extras: extras ?? false, ...(firstLeadId ? { firstLeadId } : {}) });
  const running = await sandbox.start({ seed: false, ...start });
  const config: MarketoConfig = {
    ...(sandboxConnectorConfig(definition, running) as MarketoConfig),
    // Short backoff so retry tests stay quick; the production default starts at 1 s.
    backoff: { baseMs: 200, maxMs: 2000 },
    ...overrides,
  };
  const connectors: MarketoConnector[] = [];
  const metrics = new Registry();
  const connect = (more: Partial<MarketoConfig> = {}): MarketoConnector => {
    const connector = resolveConnector({ ...config, ...more }, metrics);
    connectors.push(connector);
    return connector;
  };
  const connector = connect();
  return {
    sandbox,
    running,
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

/** A connector for `config`, resolved as the plugin host resolves it. */
export function resolveConnector(config: MarketoConfig, metrics = new Registry()): MarketoConnector {
  const child = container.createChildContainer();
  child.register(PluginTokens.Logger, { useValue: pino({ level: 'silent' }) });
  child.register(PluginTokens.Config, { useValue: config });
  child.register(PluginTokens.Metrics, { useValue: metrics });
  definition.register(child);
  return child.resolve<Connector>(PluginTokens.Connector) as MarketoConnector;
}

/** Collects every page of an async iterable. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

export const FIELDS = ['email', 'firstName', 'lastName', 'title', 'leadScore'];
