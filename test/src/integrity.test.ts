/**
 * Integrity under pressure: forced runs arriving together on several instances, never two cycles of one
 * pipeline at once, and nobody created twice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestMongo, samplePerson, type TestMongo } from '@tandem/core/testing';
import { PIPELINE, World, marketoPerson } from './harness';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

describe('integrity', () => {
  test('10 forced runs sent at once, 20 times, over two instances: one run each time, nobody duplicated', async () => {
    const world = await World.start({ mongo, marketo: [0, 1] });
    try {
      const second = await world.startInstance({ instanceId: 'second' });
      const instances = [world.tandem, second];
      // Each cycle lasts long enough (Marketo answers in 50 ms) that all ten requests of a try arrive while it
      // runs; one arriving after it ended may rightly start the next.
      world.marketo.setFaults({ latencyMs: 50 });
      const tries = 20;
      let next = 2;
      let started = 0;
      for (let attempt = 0; attempt < tries; attempt++) {
        // New people before each try: duplicates would show as a second Dynamics record for one email.
        for (let k = 0; k < 3; k++) world.marketo.createPerson(marketoPerson(next++));
        const answers = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            world.api<{ runId?: string; code?: string }>(
              'POST',
              `/v1/pipelines/${PIPELINE}/runs`,
              undefined,
              instances[i % 2],
            ),
          ),
        );
        const accepted = answers.filter((a) => a.status === 202);
        const refused = answers.filter((a) => a.status === 409);
        assert.equal(accepted.length, 1, `try ${attempt}: exactly one run starts (${answers.map((a) => a.status)})`);
        assert.equal(refused.length, 9, `try ${attempt}: the others are refused`);
        const runId = accepted[0]?.body.runId as string;
        for (const answer of refused) {
          assert.equal(answer.body.code, 'CONFLICT');
          // A refusal names the run in progress when it can see it (it may have ended by the time it looks).
          const named = (answer.body as { runId?: string }).runId;
          if (named !== undefined) assert.equal(named, runId);
        }
        const run = await world.waitForRun(runId);
        assert.equal(run.status, 'succeeded', `try ${attempt}: ${run.error ?? ''}`);
        started += accepted.length;
      }
      assert.equal(started, tries);
      const { body: runs } = await world.api<
        Array<{ status: string; error?: string; startedAt: string; finishedAt: string }>
      >('GET', `/v1/pipelines/${PIPELINE}/runs?limit=1000`);
      assert.equal(runs.length, tries, 'one run per try, no more');
      assert.ok(
        runs.every((r) => r.status === 'succeeded' && r.error === undefined),
        'no run was interrupted by another',
      );
      const spans = runs
        .map((r) => [Date.parse(r.startedAt), Date.parse(r.finishedAt)] as const)
        .sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < spans.length; i++) {
        assert.ok((spans[i]?.[0] ?? 0) >= (spans[i - 1]?.[1] ?? 0), 'no two runs of the pipeline overlap');
      }
      for (let i = 0; i < next; i++) {
        const email = samplePerson(i).email;
        assert.equal(world.dynamicsByEmail(email).length, 1, `person ${i} once in Dynamics`);
        assert.equal(world.marketoByEmail(email).length, 1, `person ${i} once in Marketo`);
      }
    } finally {
      await world.close();
    }
  });

  test('a different org behind the same database: the pipeline stops before reading or writing, nobody is marked deleted, a reset starts it over', async () => {
    const first = await World.start({ mongo, marketo: [0, 1, 2, 3], contacts: [2, 3, 4] });
    const dbName = first.dbName;
    let second: World | undefined;
    try {
      assert.equal((await first.settle()).status, 'succeeded');
      const { body: before } = await first.api<Array<{ state: string }>>(
        'GET',
        `/v1/pipelines/${PIPELINE}/links?limit=1000`,
      );
      assert.equal(before.length, 5);
      await first.close();

      // New sandboxes (new instances, new people whose Marketo ids are the old links' ids) behind the kept database.
      second = await World.start({ mongo, dbName, marketo: [10, 11, 12, 13, 14, 15] });
      const run = await second.cycle();
      assert.equal(run.status, 'failed');
      assert.match(run.error ?? '', /answers as instance .* belong to/);
      assert.match(run.error ?? '', /\/v1\/pipelines\/default\/reset/);
      const { body: after } = await second.api<Array<{ state: string }>>(
        'GET',
        `/v1/pipelines/${PIPELINE}/links?limit=1000`,
      );
      assert.deepEqual(
        after.map((l) => l.state).sort(),
        before.map((l) => l.state).sort(),
        'no link changed: nobody marked deleted',
      );
      assert.equal(
        second.dataverse.list('lead').length + second.dataverse.list('contact').length,
        0,
        'nothing written',
      );
      const ready = await second.api<{ status: string; reasons: string[] }>('GET', '/ready');
      assert.equal(ready.status, 503);
      assert.ok(
        ready.body.reasons.some((r) => /belong to/.test(r)),
        JSON.stringify(ready.body),
      );

      const reset = await second.api<{ linksRemoved: number }>('POST', `/v1/pipelines/${PIPELINE}/reset`);
      assert.equal(reset.status, 200);
      assert.equal(reset.body.linksRemoved, 5);
      assert.equal((await second.settle()).status, 'succeeded');
      for (const i of [10, 11, 12, 13, 14, 15]) {
        assert.equal(second.dynamicsByEmail(samplePerson(i).email).length, 1, `person ${i} synced to the new org`);
      }
      assert.equal((await second.api('GET', '/ready')).status, 200);
    } finally {
      await second?.close();
      await first.close().catch(() => undefined);
    }
  });
});
