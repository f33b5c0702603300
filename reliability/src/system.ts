/**
 * The world a scenario runs in: a MongoDB wire-protocol server (jongodb) as a process of its own, so that a
 * scenario can pause (SIGSTOP) or kill it; both sandboxes in this process, so that their control hooks (faults,
 * edits, counters) are method calls; and, optionally, a pass-through that counts the MongoDB commands Tandem sends
 * (`bench/mongo-counter.mjs`, a process of its own). Tandem itself runs as its own process (`tandem.ts`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, type Collection, type Db } from 'mongodb';
import { startJongodb, type ChildServer } from '@tandem/core/testing';
import type { RunningSandbox } from '@tandem/core/plugin';
import { MarketoSandbox, type MarketoSandboxOptions } from '@tandem/sandbox-marketo';
import { DataverseSandbox, type DataverseSandboxOptions, type StartedSandbox } from '@tandem/sandbox-dynamics';
import { startMongoCounter, type MongoCounter, type MongoCounts } from './mongo-counter';

/** The admin token every Tandem process of the suite is started with. */
export const API_TOKEN = 'reliability-admin-token-5f1c9a7e3b';

export interface SystemOptions {
  marketo?: MarketoSandboxOptions;
  dataverse?: DataverseSandboxOptions;
  /** Put a command counter between Tandem and MongoDB (`mongoCounts()`). */
  countCommands?: boolean;
}

/** A run as the `runs` collection holds it (the fields the suite reads). */
export interface RunRecord {
  _id: string;
  status: string;
  trigger: string;
  instanceId: string;
  counts: Record<string, number>;
  startedAt: Date | null;
  finishedAt: Date | null;
  error?: string;
}

/** A link as the `links` collection holds it (the fields the suite reads). */
export interface LinkRecord {
  _id: string;
  state: string;
  email?: string;
  left: { type: string; id?: string };
  right: { type: string; id?: string };
  snapshot: Record<string, unknown>;
  createIntent?: { side: string };
}

export class Systems {
  private caDir = mkdtempSync(join(tmpdir(), 'tandem-reliability-'));
  private constructor(
    readonly mongo: ChildServer,
    /** The suite's own client, straight to the server (never through the counter: it counts Tandem only). */
    readonly client: MongoClient,
    readonly dbName: string,
    readonly marketo: MarketoSandbox,
    readonly marketoRunning: RunningSandbox,
    readonly dataverse: DataverseSandbox,
    readonly dataverseStarted: StartedSandbox,
    readonly counter: MongoCounter | undefined,
  ) {}

  static async start(options: SystemOptions = {}): Promise<Systems> {
    const mongo = await startJongodb();
    const client = new MongoClient(mongo.uri.replace(/\/[^/?]*(\?.*)?$/, '/$1'));
    await client.connect();
    const counter = options.countCommands ? await startMongoCounter(hostOf(mongo.uri)) : undefined;
    const marketo = new MarketoSandbox(options.marketo ?? {});
    const marketoRunning = await marketo.start({});
    const dataverse = new DataverseSandbox(options.dataverse ?? {});
    const dataverseStarted = await dataverse.start();
    return new Systems(mongo, client, 'tandem', marketo, marketoRunning, dataverse, dataverseStarted, counter);
  }

  get db(): Db {
    return this.client.db(this.dbName);
  }

  runs(): Collection<RunRecord> {
    return this.db.collection<RunRecord>('runs');
  }

  links(): Collection<LinkRecord> {
    return this.db.collection<LinkRecord>('links');
  }

  /** Waits until run `id` has ended and answers it (polling MongoDB; `output` says what the process logged). */
  async waitForRun(id: string, timeoutMs: number, tandem?: { output(): string }): Promise<RunRecord> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const run = await this.runs().findOne({ _id: id });
      if (run && run.status !== 'running' && run.status !== 'queued') return run;
      if (Date.now() > end) {
        throw new Error(`run ${id} did not end in ${timeoutMs} ms\n${tandem?.output().slice(-3000) ?? ''}`);
      }
      await sleep(25);
    }
  }

  /** Waits for a cycle started after `since` to be running, and answers its run. */
  async waitForRunning(since: Date, timeoutMs: number, tandem?: { output(): string }): Promise<RunRecord> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const run = await this.runs().findOne({ status: 'running', startedAt: { $gt: since } });
      if (run) return run;
      if (Date.now() > end) {
        const seen = await this.runs()
          .find({ startedAt: { $gt: since } })
          .toArray();
        const runs = seen.map((r) => `${r.status}${r.error ? ` (${r.error.slice(0, 300)})` : ''}`).join('; ');
        throw new Error(
          `no cycle was seen running in ${timeoutMs} ms (runs since: ${runs || 'none'})\n${tandem?.output().slice(-3000) ?? ''}`,
        );
      }
      await sleep(10);
    }
  }

  /** MongoDB commands Tandem sent so far (through the counter). */
  async mongoCommands(): Promise<number> {
    return (await this.mongoCounts()).commands;
  }

  /** MongoDB commands Tandem sent so far, in all and per command and collection. */
  mongoCounts(): Promise<MongoCounts> {
    if (!this.counter) throw new Error('this world counts no MongoDB commands');
    return this.counter.counts();
  }

  /**
   * The environment of a Tandem process against this world, as an operator sets it for a real deployment: both
   * connections' documented variables, MONGODB_URI, the admin token, and the Dataverse sandbox's private CA
   * trusted through NODE_EXTRA_CA_CERTS.
   */
  tandemEnv(extra: Record<string, string> = {}, mongoOptions: Record<string, string> = {}): Record<string, string> {
    const caFile = join(this.caDir, 'dataverse-ca.pem');
    writeFileSync(caFile, this.dataverseStarted.caPem);
    const host = this.counter ? this.counter.address : hostOf(this.mongo.uri);
    const query = new URLSearchParams({ ...(this.counter ? { directConnection: 'true' } : {}), ...mongoOptions });
    return {
      ...this.marketoRunning.env,
      ...this.dataverseStarted.env,
      MONGODB_URI: `mongodb://${host}/${this.dbName}${query.toString() ? `?${query}` : ''}`,
      NODE_EXTRA_CA_CERTS: caFile,
      TANDEM_API_TOKEN: API_TOKEN,
      LOG_LEVEL: 'warn',
      ...extra,
    };
  }

  async close(): Promise<void> {
    // A paused server must be woken up to end.
    this.mongo.process.kill('SIGCONT');
    await this.client.close().catch(() => undefined);
    await this.counter?.stop();
    await this.mongo.stop();
    await this.marketo.close();
    await this.dataverse.close();
    rmSync(this.caDir, { recursive: true, force: true });
  }
}

/** `host:port` of a `mongodb://host:port/...` URI. */
function hostOf(uri: string): string {
  const match = /^mongodb:\/\/([^/?]+)/.exec(uri);
  if (!match?.[1]) throw new Error(`not a plain mongodb:// URI: ${uri}`);
  return match[1];
}
