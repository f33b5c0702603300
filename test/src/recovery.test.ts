/**
 * Crash recovery costs what a normal cycle costs: Tandem (its own process) is killed with SIGKILL in the
 * middle of an initial sync of 2,000 people, with part of the Dynamics creates done and none of their links
 * saved; the first cycle after the restart adopts what was created and creates the rest with a bounded number
 * of MongoDB commands, never one per person.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestMongo, samplePerson, type TestMongo } from '@tandem/core/testing';
import { TOKEN, World } from './harness';

const MAIN = resolve(__dirname, '../../../core/dist/src/main.js');
const PEOPLE = 2000;

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('kill -9 mid-way through an initial sync of 2,000: the recovery cycle uses a bounded number of MongoDB commands', async () => {
  const world = await World.start({
    mongo,
    external: true,
    marketo: Array.from({ length: PEOPLE }, (_, i) => i),
  });
  let child: ChildProcess | undefined;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-recovery-'));
    const caFile = join(dir, 'dataverse-ca.pem');
    writeFileSync(caFile, world.caPem);
    // Dataverse slow enough that the kill lands between the first $batch of creates and the next.
    world.dataverse.injectFaults({ latencyMs: 300 });
    let output = '';
    child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        ...world.processEnv(),
        MONGODB_URI: `${mongo.uri.replace(/\/$/, '')}/${world.dbName}`,
        NODE_EXTRA_CA_CERTS: caFile,
        PORT: '0',
        TANDEM_API_TOKEN: TOKEN,
        TANDEM_LEASE_SECONDS: '1',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await until(() => world.dataverse.list('lead').length > 0, `the first Dynamics creates\n${output}`, 120_000);
    child.kill('SIGKILL');
    await new Promise((r) => child?.once('exit', r));
    const createdBeforeKill = world.dataverse.list('lead').length;
    assert.ok(createdBeforeKill > 0 && createdBeforeKill < PEOPLE, `killed mid-way (${createdBeforeKill} created)`);
    world.dataverse.injectFaults({ latencyMs: 0 });

    const commands = new Map<string, number>();
    // Statements: an update or delete command holds one per document it targets by filter; some engines
    // (the embedded jongodb) pay a scan of the collection for each, so they must not grow with the people.
    let statements = 0;
    let counting = false;
    const tandem = await world.startInstance({
      onMongoCommand: (event) => {
        if (!counting) return;
        commands.set(event.commandName, (commands.get(event.commandName) ?? 0) + 1);
        const command = event.command as { updates?: unknown[]; deletes?: unknown[] };
        statements += command.updates?.length ?? command.deletes?.length ?? 1;
      },
    });
    // The killed process's lease lapses a second after its last heartbeat.
    let started = await world.api<{ runId: string }>('POST', '/v1/pipelines/default/runs', undefined, tandem);
    for (let i = 0; started.status === 409 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      started = await world.api<{ runId: string }>('POST', '/v1/pipelines/default/runs', undefined, tandem);
    }
    assert.equal(started.status, 202);
    counting = true;
    // Polled through the test's own client, so that only Tandem's commands are counted.
    const runs = mongo.client.db(world.dbName).collection<{ _id: string; status: string; error?: string }>('runs');
    await until(
      async () => (await runs.findOne({ _id: started.body.runId }))?.status !== 'running',
      'the recovery cycle to end',
      300_000,
    );
    counting = false;
    const recovery = (await runs.findOne({ _id: started.body.runId })) ?? { status: 'missing', error: 'no run' };
    const total = [...commands.values()].reduce((a, b) => a + b, 0);
    console.log(
      `recovery cycle: ${total} MongoDB commands ${JSON.stringify(Object.fromEntries(commands))}, ${statements} statements`,
    );
    assert.equal(recovery.status, 'succeeded', recovery.error);
    assert.ok(total <= 60, `the recovery cycle sent ${total} MongoDB commands, not one per person`);
    assert.ok(statements <= 60, `the recovery cycle's commands held ${statements} statements, not one per person`);

    const settled = await world.settle();
    assert.equal(settled.status, 'succeeded');
    for (let i = 0; i < PEOPLE; i += 1) {
      const email = samplePerson(i).email;
      assert.equal(world.dynamicsByEmail(email).length, 1, `person ${i} once in Dynamics`);
    }
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await world.close();
  }
});
