/**
 * Test harness: a real sandbox (`@tandem/sandbox-dynamics`) over HTTPS on 127.0.0.1 and a connector resolved the
 * way the host does it, configured the way the host configures it in sandbox mode: the sandbox's variables through
 * the connector's own env bindings, and its CA as `tlsCa`.
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { sandboxConnectorConfig } from '@tandem/core';
import { PluginTokens } from '@tandem/core/plugin';
import { DataverseSandbox, type DataverseSandboxOptions, type StartedSandbox } from '@tandem/sandbox-dynamics';
import dynamicsConnector, { type DynamicsConfig, type DynamicsConnector } from '../src/index';

export interface Harness {
  sandbox: DataverseSandbox;
  started: StartedSandbox;
  config: DynamicsConfig;
  registry: Registry;
  connector(overrides?: Partial<DynamicsConfig>): DynamicsConnector;
  /** A raw HTTPS call to the sandbox (trusting its certificate), for shape tests. */
  http(
    method: string,
    path: string,
    options?: { headers?: Record<string, string>; body?: string },
  ): Promise<{ status: number; headers: Record<string, string>; text: string }>;
  token(kind?: 'app' | 'ropc'): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(options: DataverseSandboxOptions = {}): Promise<Harness> {
  const sandbox = new DataverseSandbox(options);
  const started = await sandbox.start();
  const config = sandboxConnectorConfig(dynamicsConnector, started) as DynamicsConfig;
  const connectors: DynamicsConnector[] = [];
  const agent = new Agent({ connect: { ca: started.caPem } });
  const registry = new Registry();
  const http: Harness['http'] = async (method, path, opts = {}) => {
    const res = await request(`${started.url}${path}`, {
      method: method as 'GET',
      headers: opts.headers,
      body: opts.body,
      dispatcher: agent,
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
    return { status: res.statusCode, headers, text: await res.body.text() };
  };
  return {
    sandbox,
    started,
    config,
    registry,
    connector(overrides = {}) {
      const child = container.createChildContainer();
      child.register(PluginTokens.Logger, { useValue: pino({ level: 'silent' }) });
      child.register(PluginTokens.Config, { useValue: { ...config, ...overrides } });
      child.register(PluginTokens.Metrics, { useValue: registry });
      dynamicsConnector.register(child);
      const c = child.resolve<DynamicsConnector>(PluginTokens.Connector);
      connectors.push(c);
      return c;
    },
    http,
    async token(kind = 'app') {
      const form = new URLSearchParams({
        client_id: started.clientId,
        client_secret: started.clientSecret,
        scope: `${started.url}/.default`,
        grant_type: kind === 'app' ? 'client_credentials' : 'password',
        ...(kind === 'ropc' ? { username: started.username, password: started.password } : {}),
      });
      const r = await http('POST', `/${started.tenantId}/oauth2/v2.0/token`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      return (JSON.parse(r.text) as { access_token: string }).access_token;
    },
    async close() {
      await Promise.all(connectors.map((c) => c.close()));
      await agent.close();
      await started.close();
    },
  };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

export const FIELDS = ['firstname', 'lastname', 'emailaddress1', 'jobtitle'];
