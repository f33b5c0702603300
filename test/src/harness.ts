/**
 * End-to-end world: both sandboxes, a real MongoDB wire-protocol server and the real Tandem server, driven
 * through its REST API. Nothing of Tandem is mocked; only Marketo and Dynamics are simulated, by their
 * sandboxes, over HTTP(S) on loopback.
 */
import 'reflect-metadata';
import pino from 'pino';
import type { CommandStartedEvent } from 'mongodb';
import { sandboxConnectorConfig, startTandem, type RunningSandbox, type RunningTandem } from '@tandem/core';
import type { TestMongo } from '@tandem/core/testing';
import { samplePerson } from '@tandem/core/testing';
import marketoConnector from '@tandem/connector-marketo';
import { MarketoSandbox, sampleValues, type SandboxLimits } from '@tandem/sandbox-marketo';
import dynamicsConnector from '@tandem/connector-dynamics';
import { DataverseSandbox, sampleColumns, type StartedSandbox } from '@tandem/sandbox-dynamics';
import salesforceConnector from '@tandem/connector-salesforce';
import { sampleFields, startSalesforceSandbox, type RunningSalesforceSandbox } from '@tandem/sandbox-salesforce';

export const silent = pino({ level: 'silent' });
export const TOKEN = 'e2e-admin-token-0123456789';
export const PIPELINE = 'default';

export interface Run {
  id: string;
  status: string;
  counts: Record<string, number>;
  error?: string;
  warnings?: string[];
  sides?: Record<string, { read: number; written: number; total?: number }>;
}

export interface Person {
  index: number;
  email: string;
  firstName: string;
  lastName: string;
  title: string;
  phone: string;
  city: string;
}

export interface WorldOptions {
  mongo: TestMongo;
  dbName?: string;
  /** Sample-person indexes to seed in Marketo, as Dynamics contacts, as Dynamics leads. */
  marketo?: number[];
  contacts?: number[];
  leads?: number[];
  schedule?: boolean;
  intervalMinutes?: number;
  marketoLimits?: Partial<SandboxLimits>;
  /** Added to the Marketo connector's configuration (e.g. `maxAttempts: 1`: a failed call is not retried). */
  marketoConfig?: Record<string, unknown>;
  /** Start no Tandem instance in this process (a test runs Tandem as a separate process). */
  external?: boolean;
  /** Sandboxes with what a vanilla org lacks (the fields of Marketo's own Dynamics sync); vanilla by default. */
  extras?: boolean;
  /** A Salesforce org too (a third connection): sample people to seed as its Contacts and Leads. */
  salesforce?: { contacts?: number[]; leads?: number[] };
}

/** Marketo fields of sample person `index` (the Marketo sandbox's own mapping). */
export function marketoPerson(index: number) {
  return sampleValues(samplePerson(index));
}

/** Dataverse columns of sample person `index` (the Dataverse sandbox's own mapping; `extras`: with its columns). */
export function dynamicsPerson(index: number, type: 'contact' | 'lead', extras = false) {
  return sampleColumns(samplePerson(index), type, extras);
}

export class World {
  readonly marketo: MarketoSandbox;
  readonly dataverse: DataverseSandbox;
  private marketoRunning: RunningSandbox | undefined;
  private dataverseInfo: StartedSandbox | undefined;
  /** The Salesforce sandbox, when the world has one (`salesforce` option). */
  salesforce: RunningSalesforceSandbox | undefined;
  readonly instances: RunningTandem[] = [];
  readonly dbName: string;

  private constructor(private readonly options: WorldOptions) {
    // Vanilla orgs, as a new customer has them; `extras` adds what Marketo's own Dynamics sync brings ("Microsoft
    // Type", "Microsoft is Deleted", a secured lead-score column).
    const extras = options.extras ?? false;
    this.marketo = new MarketoSandbox({ limits: options.marketoLimits ?? {}, extras });
    this.dataverse = new DataverseSandbox({ limits: {}, extras });
    this.dbName = options.dbName ?? options.mongo.freshDbName('e2e');
  }

  static async start(options: WorldOptions): Promise<World> {
    const world = new World(options);
    world.marketoRunning = await world.marketo.start({});
    world.dataverseInfo = await world.dataverse.start();
    for (const i of options.marketo ?? []) world.marketo.createPerson(marketoPerson(i));
    const extras = options.extras ?? false;
    if (options.salesforce) {
      world.salesforce = await startSalesforceSandbox({});
      for (const i of options.salesforce.contacts ?? [])
        world.salesforce.sandbox.createRecord('Contact', sampleFields(samplePerson(i), 'Contact'));
      for (const i of options.salesforce.leads ?? [])
        world.salesforce.sandbox.createRecord('Lead', sampleFields(samplePerson(i), 'Lead'));
    }
    for (const i of options.contacts ?? []) world.dataverse.create('contact', dynamicsPerson(i, 'contact', extras));
    for (const i of options.leads ?? []) world.dataverse.create('lead', dynamicsPerson(i, 'lead', extras));
    if (!options.external) await world.startInstance();
    return world;
  }

  get tandem(): RunningTandem {
    const first = this.instances[0];
    if (!first) throw new Error('no Tandem instance running');
    return first;
  }

  /** Connector configs pointing at the sandboxes, as a real deployment's env would. */
  pluginConfig(): Record<string, unknown> {
    const dv = this.dataverseInfo as StartedSandbox;
    return {
      marketo: {
        ...(sandboxConnectorConfig(marketoConnector, this.marketoRunning as RunningSandbox) as Record<string, unknown>),
        ...this.options.marketoConfig,
      },
      dynamics: sandboxConnectorConfig(dynamicsConnector, dv),
      ...(this.salesforce
        ? {
            salesforce: {
              ...(sandboxConnectorConfig(salesforceConnector, this.salesforce) as Record<string, unknown>),
              // Tests wait for what is counted, not for backoff.
              limits: { backoffMs: 5, bulkPollMs: 10 },
            },
          }
        : {}),
    };
  }

  /** Environment a separate Tandem process needs to reach the sandboxes (the CA comes via NODE_EXTRA_CA_CERTS). */
  processEnv(): Record<string, string> {
    const dv = this.dataverseInfo as StartedSandbox;
    return {
      ...(this.marketoRunning as RunningSandbox).env,
      ...dv.env,
    };
  }

  get caPem(): string {
    return (this.dataverseInfo as StartedSandbox).caPem;
  }

  async startInstance(
    overrides: { schedule?: boolean; instanceId?: string; onMongoCommand?: (event: CommandStartedEvent) => void } = {},
  ): Promise<RunningTandem> {
    const tandem = await startTandem({
      env: {
        TANDEM_API_TOKEN: TOKEN,
        TANDEM_SYNC_INTERVAL: String(this.options.intervalMinutes ?? 5),
        LOG_LEVEL: 'silent',
      },
      pluginConfig: this.pluginConfig(),
      mongoUri: this.options.mongo.uri,
      dbName: this.dbName,
      port: 0,
      logger: silent,
      schedule: overrides.schedule ?? this.options.schedule ?? false,
      ...(overrides.instanceId ? { instanceId: overrides.instanceId } : {}),
      ...(overrides.onMongoCommand ? { onMongoCommand: overrides.onMongoCommand } : {}),
    });
    this.instances.push(tandem);
    return tandem;
  }

  async api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    instance: RunningTandem = this.tandem,
  ): Promise<{ status: number; body: T }> {
    const response = await fetch(`${instance.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** Forces a cycle through the REST API and waits for it to end. */
  async cycle(instance: RunningTandem = this.tandem, timeoutMs?: number): Promise<Run> {
    const started = await this.api<{ runId: string }>('POST', `/v1/pipelines/${PIPELINE}/runs`, undefined, instance);
    if (started.status !== 202)
      throw new Error(`forcing a run answered ${started.status}: ${JSON.stringify(started.body)}`);
    return this.waitForRun(started.body.runId, instance, timeoutMs);
  }

  async waitForRun(runId: string, instance: RunningTandem = this.tandem, timeoutMs = 60_000): Promise<Run> {
    for (let i = 0; i < timeoutMs / 20; i++) {
      const { body } = await this.api<Run>('GET', `/v1/runs/${runId}`, undefined, instance);
      if (body.status !== 'running' && body.status !== 'queued') return body;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`run ${runId} did not end`);
  }

  /** Cycles until one writes nothing (at most `max`). */
  async settle(max = 6): Promise<Run> {
    let run = await this.cycle();
    for (let i = 1; i < max && (run.counts['created'] ?? 0) + (run.counts['updated'] ?? 0) > 0; i++)
      run = await this.cycle();
    return run;
  }

  /** The person's link through the REST API (by email). */
  async link(
    email: string,
  ): Promise<{ state: string; dynamicsType: string; marketoId: string; dynamicsId: string } | undefined> {
    const { body } = await this.api<
      Array<{ state: string; dynamicsType: string; marketoId: string; dynamicsId: string }>
    >('GET', `/v1/pipelines/${PIPELINE}/links?email=${encodeURIComponent(email)}`);
    return body[0];
  }

  /** Salesforce records of `type` whose email is `email` (trimmed, case-insensitive). */
  salesforceByEmail(email: string, type?: 'Contact' | 'Lead') {
    const types = type ? [type] : (['Contact', 'Lead'] as const);
    return types.flatMap((t) =>
      (this.salesforce?.sandbox.listRecords(t) ?? [])
        .filter(
          (r) =>
            String(r.values['Email'] ?? '')
              .trim()
              .toLowerCase() === email.toLowerCase(),
        )
        .map((r) => ({ ...r, type: t })),
    );
  }

  marketoByEmail(email: string) {
    return this.marketo.listPersons().filter(
      (p) =>
        String(p.values['email'] ?? '')
          .trim()
          .toLowerCase() === email.toLowerCase(),
    );
  }

  dynamicsByEmail(email: string) {
    return (['contact', 'lead'] as const).flatMap((type) =>
      this.dataverse
        .list(type)
        .filter(
          (r) =>
            String(r.values['emailaddress1'] ?? '')
              .trim()
              .toLowerCase() === email.toLowerCase(),
        )
        .map((r) => ({ type, ...r })),
    );
  }

  async close(): Promise<void> {
    for (const instance of this.instances.splice(0)) await instance.close();
    await this.marketo.close();
    await this.dataverse.close();
    await this.salesforce?.close();
  }
}
