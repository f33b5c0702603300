/**
 * A MongoDB outage in the middle of a cycle: the cycle fails, and its run says so once MongoDB is back (the
 * instance writes its end as soon as it can), instead of staying `running` until the next cycle takes it for a
 * dead instance's run and marks it interrupted ("the instance stopped"), which this instance never did.
 * jongodb (its own process) is paused with SIGSTOP under a Tandem process whose MongoDB timeouts are shortened
 * through MONGODB_URI, as an operator may; Dataverse answers writes slowly, so that the cycle is under way.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startJongodb, startTestMongo, type ChildServer, type TestMongo } from '@tandem/core/testing';
import { TOKEN, World, type Run } from './harness';
import { TandemProcess, until } from './tandem-process';

let mongo: TestMongo;
let paused: ChildServer;
before(async () => {
  mongo = await startTestMongo();
  paused = await startJongodb();
});
after(async () => {
  paused.process.kill('SIGCONT');
  await paused.stop();
  await mongo.stop();
});

const auth = { authorization: `Bearer ${TOKEN}` };
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('a cycle cut short by a MongoDB outage: its run says it failed and why once MongoDB is back', async () => {
  const world = await World.start({ mongo, external: true, marketo: range(0, 30), contacts: range(20, 40) });
  const caFile = join(mkdtempSync(join(tmpdir(), 'tandem-outage-run-')), 'dataverse-ca.pem');
  writeFileSync(caFile, world.caPem);
  const base = paused.uri.replace(/\/[^/]*$/, '');
  world.dataverse.injectFaults({ writeLatencyMs: 4000 });
  const tandem = await TandemProcess.start({
    ...world.processEnv(),
    MONGODB_URI: `${base}/${world.dbName}?serverSelectionTimeoutMS=1500&connectTimeoutMS=1500&heartbeatFrequencyMS=500`,
    NODE_EXTRA_CA_CERTS: caFile,
    TANDEM_API_TOKEN: TOKEN,
    TANDEM_SYNC_INTERVAL: '0.01',
    TANDEM_LEASE_SECONDS: '2',
    LOG_LEVEL: 'info',
  });
  const runs = async (): Promise<Array<Run & { startedAt: string }>> => {
    const response = await fetch(`${tandem.url}/v1/pipelines/default/runs`, { headers: auth });
    if (!response.ok) throw new Error(`runs answered ${response.status}`);
    return (await response.json()) as Array<Run & { startedAt: string }>;
  };
  try {
    // The first cycle's writes are on their way to Dataverse: the cycle is under way.
    await until(async () => world.dataverse.getCounters().writesAnswering > 0, 'the first writes', 30_000, tandem);
    const [running] = await runs();
    assert.equal(running?.status, 'running');
    paused.process.kill('SIGSTOP');
    try {
      // Long enough for the cycle to meet the outage and fail.
      await sleep(8000);
    } finally {
      paused.process.kill('SIGCONT');
    }
    world.dataverse.injectFaults({ writeLatencyMs: 0 });
    await until(
      async () => (await runs()).some((r) => r.status === 'succeeded' && r.startedAt > (running?.startedAt ?? '')),
      'a cycle after the outage to succeed',
      60_000,
      tandem,
    );
    const reported = (await runs()).find((r) => r.id === running?.id);
    assert.equal(reported?.status, 'failed', JSON.stringify(reported));
    assert.doesNotMatch(reported?.error ?? '', /instance running this cycle stopped/);
    // One message naming the store, not the driver's words repeated for every stream.
    assert.match(
      reported?.error ?? '',
      /^MongoDB did not answer \(.+\): the cycle stopped; what it had not saved is read again next cycle\.$/,
    );
    assert.equal(tandem.exit, undefined, 'the process never exited');
    tandem.child.kill('SIGTERM');
    assert.deepEqual(await tandem.exited, { code: 0, signal: null });
  } finally {
    paused.process.kill('SIGCONT');
    await tandem.kill();
    await world.close();
  }
});
