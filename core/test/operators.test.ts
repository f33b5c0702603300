/**
 * What operators watch, below the API: the record counters move while a run goes on (as each write set is
 * saved), the per-connection quota and clock gauges, the webhook signature a receiver checks, and logs that
 * are readable on a terminal and still redacted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { Connections } from '../src/connections/connections';
import { createLogger, registerConnectionMetrics, rootLogger, silentLogger } from '../src/observability';
import type { ChangePage, CheckResult, Connector } from '../src/plugin';
import { SyncRuntime } from '../src/pipelines/runtime';
import { PipelinesRepository, PolicySettingsRepository } from '../src/repositories';
import { SyncStore } from '../src/repositories/sync-store';
import { MemoryConnector, MemorySystem, memoryPeopleObject, startTestMongo, type TestMongo } from '../src/testing';
import { sign, verifySignature } from '../src/webhooks/signature';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

/** `inner` with its `readChanges` replaced. */
function withReads(inner: MemoryConnector, id: string, read: Connector['readChanges']): Connector {
  return {
    id,
    objectTypes: inner.objectTypes,
    check: (signal) => inner.check(signal),
    describe: (objectType, signal) => inner.describe(objectType, signal),
    readChanges: read,
    get: (objectType, ids, options) => inner.get(objectType, ids, options),
    findByEmail: (objectType, emails, options) => inner.findByEmail(objectType, emails, options),
    write: (objectType, ops, options) => inner.write(objectType, ops, options),
  };
}

test('tandem_sync_records_total moves as each write set is saved, while the run goes on', async () => {
  const db = mongo.freshDb();
  const left = new MemorySystem({ objects: [memoryPeopleObject('person')] });
  const right = new MemorySystem({ objects: [memoryPeopleObject('person')] });
  right.create('person', { email: 'ann@example.com', firstName: 'Ann' });
  const leftInner = new MemoryConnector(left, { id: 'a' });
  const rightInner = new MemoryConnector(right, { id: 'b' });
  // The right side's feed (read first) hands over one person and enough deletes of unknown records to fill a
  // write set, which is saved at once; the left side's feed then waits for the test.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const rightConnector = withReads(rightInner, 'b', async function* (type, cursor, options) {
    for await (const page of rightInner.readChanges(type, cursor, options)) {
      const deletedIds = Array.from({ length: 2999 }, (_, i) => `gone-${i}`);
      yield { ...page, deletedIds: [...page.deletedIds, ...deletedIds] } satisfies ChangePage;
    }
  });
  const leftConnector = withReads(leftInner, 'a', async function* (type, cursor, options) {
    await gate;
    yield* leftInner.readChanges(type, cursor, options);
  });
  const logger = silentLogger();
  const registry = new Registry();
  const connections = new Connections(
    new Map([
      ['a', leftConnector],
      ['b', rightConnector],
    ]),
    'live',
    logger,
  );
  const pipelines = new PipelinesRepository(db);
  await pipelines.create({
    id: 'p',
    name: 'p',
    sides: { a: { objects: ['person'] }, b: { objects: ['person'] } },
    order: ['a', 'b'],
    mappings: {
      objects: [
        {
          a: 'person',
          b: 'person',
          fields: [
            { a: 'email', b: 'email', direction: 'both' },
            { a: 'firstName', b: 'firstName', direction: 'both' },
          ],
        },
      ],
    },
    schedule: { intervalMinutes: 5 },
    paused: false,
  });
  const store = new SyncStore(db);
  await store.ensureIndexes();
  const sync = new SyncRuntime({
    store,
    logger,
    registry,
    connections,
    policies: new Map(),
    pipelines,
    policySettings: new PolicySettingsRepository(db),
    instanceId: 'test',
    intervalMinutes: 5,
    schedule: false,
  });
  const records = async (outcome: string) =>
    (await registry.getSingleMetric('tandem_sync_records_total')?.get())?.values.find(
      (v) => v.labels['outcome'] === outcome && v.labels['pipeline'] === 'p',
    )?.value ?? 0;
  try {
    const { runId } = await sync.forceRun('p');
    // The run says what it is doing once its first write set is saved; the counters moved before that.
    for (let i = 0; i < 2000 && !(await store.runs.get(runId))?.progress; i++)
      await new Promise((r) => setTimeout(r, 10));
    const during = await store.runs.get(runId);
    assert.equal(during?.status, 'running', 'the left feed is still held');
    assert.equal(during?.counts.read, 1);
    assert.equal(await records('read'), 1, 'the record read is counted while the run goes on');
    assert.equal(await records('created'), 1);
    release();
    for (let i = 0; i < 2000 && (await store.runs.get(runId))?.status === 'running'; i++)
      await new Promise((r) => setTimeout(r, 10));
    const ended = await store.runs.get(runId);
    assert.equal(ended?.status, 'succeeded', JSON.stringify(ended));
    // Counted once: the end of the run adds only what came after the last write set.
    assert.equal(await records('read'), ended?.counts.read);
    assert.equal(await records('created'), ended?.counts.created);
  } finally {
    release();
    await sync.stop();
  }
});

test('quota and clock gauges come from each connection’s last check; a stale check is refreshed on scrape', async () => {
  const system = new MemorySystem({ objects: [memoryPeopleObject('person')] });
  const inner = new MemoryConnector(system, { id: 'm' });
  let checks = 0;
  const connector: Connector = {
    ...withReads(inner, 'm', (t, c, o) => inner.readChanges(t, c, o)),
    async check(): Promise<CheckResult> {
      checks++;
      return {
        ok: true,
        quota: { used: 1200, limit: 50_000, remaining: 48_800 - checks },
        serverTime: new Date(Date.now() + 30_000).toISOString(),
      };
    },
  };
  const connections = new Connections(new Map([['m', connector]]), 'live', silentLogger());
  const registry = new Registry();
  registerConnectionMetrics(registry, connections, 60_000);
  const gauge = async (name: string) =>
    (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels['connection'] === 'm')?.value;

  assert.equal(await gauge('tandem_connection_quota_remaining'), undefined, 'nothing before any check');
  // That scrape found no check and asked for one, in the background.
  for (let i = 0; i < 500 && connections.last('m') === undefined; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(checks, 1);
  assert.equal(await gauge('tandem_connection_quota_remaining'), 48_799);
  assert.equal(await gauge('tandem_connection_quota_limit'), 50_000);
  const skew = await gauge('tandem_connection_clock_skew_seconds');
  assert.ok(skew !== undefined && Math.abs(skew - 30) < 1, `skew ${skew}`);
  assert.equal(checks, 1, 'a fresh check is not asked again');
});

test('a delivery signature verifies as documented: HMAC-SHA256 of "<t>.<body>", refused when tampered or old', () => {
  const secret = 'whsec_test-secret-0123456789';
  const body = JSON.stringify({ id: 'd1', event: 'run.failed' });
  const now = 1_800_000_000;
  const header = sign(secret, now, body);
  // What a receiver computes from the documentation alone.
  const [t, v1] = header.split(',').map((p) => p.split('=')[1]);
  assert.equal(t, String(now));
  assert.equal(v1, createHmac('sha256', secret).update(`${now}.${body}`).digest('hex'));
  assert.equal(verifySignature(secret, header, body, now), true);
  assert.equal(verifySignature(secret, header, `${body} `, now), false, 'another body');
  assert.equal(verifySignature('another-secret-0123456789', header, body, now), false, 'another secret');
  assert.equal(verifySignature(secret, header, body, now + 301), false, 'a replay past the tolerance');
});

test('logs are pretty on a terminal and JSON elsewhere, redacted either way', () => {
  const lines: string[] = [];
  const terminal = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
    { isTTY: true },
  ) as unknown as NodeJS.WriteStream;
  const logger = createLogger({ level: 'info', redact: ['clientSecret'], base: rootLogger('info', terminal) });
  logger.info({ clientSecret: 'hunter2-very-secret' }, 'connector configured');
  const text = lines.join('');
  assert.match(text, /INFO/);
  assert.match(text, /connector configured/);
  assert.doesNotMatch(text, /hunter2/);
  assert.match(text, /\[redacted\]/);
  assert.throws(() => JSON.parse(text), 'not JSON on a terminal');

  const piped: string[] = [];
  const pipe = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        piped.push(chunk.toString());
        done();
      },
    }),
    { isTTY: false },
  ) as unknown as NodeJS.WriteStream;
  createLogger({ level: 'info', redact: ['clientSecret'], base: rootLogger('info', pipe) }).info(
    { clientSecret: 'hunter2-very-secret' },
    'connector configured',
  );
  const record = JSON.parse(piped.join('')) as Record<string, unknown>;
  assert.equal(record['msg'], 'connector configured');
  assert.equal(record['clientSecret'], '[redacted]');
});
