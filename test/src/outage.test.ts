/**
 * A MongoDB outage: the database (jongodb, its own process) is paused with SIGSTOP under a running Tandem
 * (its own process too, with both sandboxes). `/ready` answers 503 within its deadline, `/health` 200, the API
 * answers 503 instead of hanging or failing with a 500, errors are logged with their message; after SIGCONT
 * the schedule's next cycle succeeds, and the process never exits. The pause is a few seconds: the driver's
 * timeouts are shortened through MONGODB_URI, as an operator may.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

async function runs(tandem: TandemProcess): Promise<Array<Run & { startedAt: string }>> {
  const response = await fetch(`${tandem.url}/v1/pipelines/default/runs`, { headers: auth });
  if (!response.ok) throw new Error(`runs answered ${response.status}`);
  return (await response.json()) as Array<Run & { startedAt: string }>;
}

test('MongoDB paused: /ready is a prompt 503, the API a 503, the process lives on and syncs once it is back', async () => {
  const world = await World.start({ mongo, external: true, marketo: range(0, 10), contacts: range(5, 15) });
  const caFile = join(mkdtempSync(join(tmpdir(), 'tandem-outage-')), 'dataverse-ca.pem');
  writeFileSync(caFile, world.caPem);
  const base = paused.uri.replace(/\/[^/]*$/, '');
  const tandem = await TandemProcess.start({
    ...world.processEnv(),
    MONGODB_URI: `${base}/${world.dbName}?serverSelectionTimeoutMS=1500&connectTimeoutMS=1500&heartbeatFrequencyMS=500`,
    NODE_EXTRA_CA_CERTS: caFile,
    TANDEM_API_TOKEN: TOKEN,
    TANDEM_SYNC_INTERVAL: '0.01',
    TANDEM_LEASE_SECONDS: '2',
    LOG_LEVEL: 'info',
  });
  try {
    await until(
      async () => (await runs(tandem)).some((r) => r.status === 'succeeded'),
      'a first cycle to succeed',
      30_000,
      tandem,
    );

    paused.process.kill('SIGSTOP');
    const pausedAt = Date.now();
    try {
      for (let i = 0; i < 3; i++) {
        // Each answer must come within the fetch's 3 s (its deadline is 1 s), and say why.
        const ready = await fetch(`${tandem.url}/ready`, { headers: auth, signal: AbortSignal.timeout(3000) });
        assert.equal(ready.status, 503);
        const body = (await ready.json()) as { reasons: string[] };
        assert.ok(body.reasons.includes('MongoDB does not answer within 1000 ms'), JSON.stringify(body));
        const health = await fetch(`${tandem.url}/health`, { signal: AbortSignal.timeout(3000) });
        assert.equal(health.status, 200);
      }
      // A forced run and a read: a 503 the client may retry, once the driver gives up (1.5 s here).
      for (const [method, path] of [
        ['POST', '/v1/pipelines/default/runs'],
        ['GET', '/v1/pipelines/default/runs'],
      ] as const) {
        const response = await fetch(`${tandem.url}${path}`, {
          method,
          headers: auth,
          signal: AbortSignal.timeout(15_000),
        });
        assert.equal(response.status, 503, `${method} ${path}`);
        assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(((await response.json()) as { code: string }).code, 'STORE_UNAVAILABLE');
        assert.equal(response.headers.get('retry-after'), '10');
      }
      // Long enough for the schedule to meet the outage too.
      await until(
        async () => tandem.log().some((l) => l['level'] === 50 && Date.now() - pausedAt > 4000),
        'the schedule to log a failure',
        30_000,
        tandem,
      );
      assert.equal(tandem.exit, undefined, 'the process is still running');
    } finally {
      paused.process.kill('SIGCONT');
    }
    const resumedAt = new Date();

    await until(
      async () => (await runs(tandem)).some((r) => r.status === 'succeeded' && new Date(r.startedAt) > resumedAt),
      'a cycle after the outage to succeed',
      60_000,
      tandem,
    );
    const ready = await fetch(`${tandem.url}/ready`, { headers: auth });
    assert.equal(ready.status, 200);
    assert.equal(tandem.exit, undefined, 'the process never exited');

    // Errors of the outage were logged with their message, none as "unable to serialize".
    const errors = tandem.log().filter((l) => typeof l['err'] === 'object' && l['err'] !== null);
    assert.ok(errors.length > 0, 'the outage was logged');
    for (const line of errors) assert.equal(typeof (line['err'] as { message?: unknown }).message, 'string');
    assert.ok(!tandem.output().includes('unable to serialize'), 'every error was serialized');

    tandem.child.kill('SIGTERM');
    assert.deepEqual(await tandem.exited, { code: 0, signal: null });
  } finally {
    paused.process.kill('SIGCONT');
    await tandem.kill();
    await world.close();
  }
});
