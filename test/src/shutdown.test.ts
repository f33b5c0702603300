/**
 * Shutdown: SIGTERM while a scheduled cycle runs aborts the cycle, marks its run `interrupted`, and the process
 * exits 0 within its 10 s grace (close-with-grace exits 1 when shutting down takes longer). Tandem runs as its
 * own process against both sandboxes, slowed so that a cycle is still running when the signal comes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestMongo, type TestMongo } from '@tandem/core/testing';
import { TOKEN, World, type Run } from './harness';
import { TandemProcess, until } from './tandem-process';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('SIGTERM during a scheduled cycle: the cycle is aborted, its run interrupted, the process exits 0 in time', async () => {
  const world = await World.start({ mongo, external: true, marketo: range(0, 40), contacts: range(30, 60) });
  const processes: TandemProcess[] = [];
  try {
    // Each call to either system takes half a second: a cycle lasts well over the 10 s grace.
    world.marketo.setFaults({ latencyMs: 500 });
    world.dataverse.injectFaults({ latencyMs: 500 });
    const caFile = join(mkdtempSync(join(tmpdir(), 'tandem-shutdown-')), 'dataverse-ca.pem');
    writeFileSync(caFile, world.caPem);
    const env = {
      ...world.processEnv(),
      MONGODB_URI: `${mongo.uri.replace(/\/$/, '')}/${world.dbName}`,
      NODE_EXTRA_CA_CERTS: caFile,
      TANDEM_API_TOKEN: TOKEN,
      TANDEM_SYNC_INTERVAL: '0.002',
      LOG_LEVEL: 'info',
    };
    const runs = mongo.client.db(world.dbName).collection<{ _id: string; status: string; trigger: string }>('runs');

    const first = await TandemProcess.start(env);
    processes.push(first);
    await until(
      async () => (await runs.countDocuments({ status: 'running', trigger: 'schedule' })) > 0,
      'a scheduled cycle running',
      30_000,
      first,
    );
    const running = await runs.findOne({ status: 'running' });
    assert.ok(running);

    const signalled = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    const took = Date.now() - signalled;
    assert.deepEqual(exit, { code: 0, signal: null }, first.output().slice(-3000));
    assert.ok(took < 10_000, `exited ${took} ms after SIGTERM`);
    assert.ok(!/killed by timeout/.test(first.output()), 'shut down within the grace, not killed');
    assert.equal((await runs.findOne({ _id: running._id }))?.status, 'interrupted', 'the run says it was cut short');
    const finished = first.log().find((l) => l['msg'] === 'sync cycle finished' && l['runId'] === running._id);
    assert.equal(finished?.['status'], 'interrupted');

    // A restarted instance shows the run interrupted too, and ends the same way.
    world.marketo.setFaults({ latencyMs: 0 });
    world.dataverse.injectFaults({ latencyMs: 0 });
    const second = await TandemProcess.start(env);
    processes.push(second);
    const auth = { authorization: `Bearer ${TOKEN}` };
    let shown: Run | undefined;
    await until(
      async () => {
        const response = await fetch(`${second.url}/v1/runs/${running._id}`, { headers: auth });
        shown = response.ok ? ((await response.json()) as Run) : undefined;
        return shown !== undefined;
      },
      'the restarted instance answering',
      30_000,
      second,
    );
    assert.equal(shown?.status, 'interrupted');
    second.child.kill('SIGTERM');
    assert.deepEqual(await second.exited, { code: 0, signal: null }, second.output().slice(-3000));
  } finally {
    for (const p of processes) await p.kill();
    await world.close();
  }
});
