/**
 * Crash safety: Tandem runs as its own process (`node core/dist/src/main.js`, configured only through the
 * environment, trusting the Dataverse sandbox's private CA through NODE_EXTRA_CA_CERTS) and is killed with
 * SIGKILL at random points of its initial sync. After a restart the two systems converge with nobody
 * created twice, and the killed runs are marked interrupted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestMongo, samplePerson, type TestMongo } from '@tandem/core/testing';
import { TOKEN, World } from './harness';
import { mulberry32, testSeed } from './random';

const MAIN = resolve(__dirname, '../../../core/dist/src/main.js');

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

function startProcess(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, [MAIN], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

async function until(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs: number,
  output?: () => string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}${output ? `\n--- tandem output ---\n${output().slice(-3000)}` : ''}`);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('kill -9 at random points of a sync, restart: converged, nobody created twice', async () => {
  const seed = testSeed();
  const random = mulberry32(seed);
  const world = await World.start({
    mongo,
    external: true,
    marketo: range(0, 60),
    contacts: range(40, 90),
    leads: range(90, 110),
  });
  const children: ChildProcess[] = [];
  try {
    // Slow both systems a little so a cycle lasts long enough to be killed in the middle of it.
    world.marketo.setFaults({ latencyMs: 4 });
    world.dataverse.injectFaults({ latencyMs: 4 });
    const dir = mkdtempSync(join(tmpdir(), 'tandem-crash-'));
    const caFile = join(dir, 'dataverse-ca.pem');
    writeFileSync(caFile, world.caPem);
    const db = world.dbName;
    const runs = mongo.client
      .db(db)
      .collection<{ _id: string; status: string; counts: Record<string, number>; startedAt: Date }>('runs');
    const env = (port: number) => ({
      ...world.processEnv(),
      MONGODB_URI: `${mongo.uri.replace(/\/$/, '')}/${db}`,
      NODE_EXTRA_CA_CERTS: caFile,
      PORT: String(port),
      TANDEM_API_TOKEN: TOKEN,
      TANDEM_SYNC_INTERVAL: '0.002',
      TANDEM_LEASE_SECONDS: '1',
      LOG_LEVEL: 'warn',
    });

    const cutOff = new Set<string>();
    for (let crash = 0; crash < 3; crash++) {
      const startedAt = new Date();
      const { child, output } = startProcess(env(await freePort()));
      children.push(child);
      await until(
        async () => (await runs.countDocuments({ status: 'running', startedAt: { $gt: startedAt } })) > 0,
        'a cycle of this process running',
        30_000,
        output,
      );
      const delay = 20 + Math.floor(random() * 700);
      await new Promise((r) => setTimeout(r, delay));
      // A cycle may have ended during the delay: kill during the next one, so the crash lands mid-cycle.
      await until(
        async () => (await runs.countDocuments({ status: 'running', startedAt: { $gt: startedAt } })) > 0,
        'a cycle of this process running',
        30_000,
        output,
      );
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // Runs still marked running now were cut off by the kill.
      for (const run of await runs.find({ status: 'running' }).toArray()) cutOff.add(run._id);
    }

    const port = await freePort();
    const { child, output } = startProcess(env(port));
    children.push(child);
    const restartedAt = new Date();
    // Converged: a whole cycle after the restart that wrote nothing.
    await until(
      async () => {
        const quiet = await runs.findOne({
          startedAt: { $gt: restartedAt },
          status: 'succeeded',
          'counts.created': 0,
          'counts.updated': 0,
        });
        return quiet !== null;
      },
      'a cycle with nothing left to write',
      90_000,
      output,
    );
    for (const i of range(0, 110)) {
      const email = samplePerson(i).email;
      assert.equal(world.marketoByEmail(email).length, 1, `person ${i} once in Marketo (seed ${seed})`);
      const dynamics = world.dynamicsByEmail(email);
      assert.equal(dynamics.length, 1, `person ${i} once in Dynamics (seed ${seed})`);
      assert.equal(world.marketoByEmail(email)[0]?.values['lastName'], dynamics[0]?.values['lastname']);
    }
    assert.ok(cutOff.size >= 1, `at least one kill landed in the middle of a cycle (seed ${seed})`);
    for (const id of cutOff) {
      assert.equal((await runs.findOne({ _id: id }))?.status, 'interrupted', `killed run ${id} is marked interrupted`);
    }
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await world.close();
  }
});
