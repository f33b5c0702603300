/**
 * The sync under real operating conditions: throttling and token expiry in the middle of a run, deletes,
 * the "Sync Person to Microsoft" push, the schedule, and several instances sharing one database.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestMongo, samplePerson, type TestMongo } from '@tandem/core/testing';
import { PIPELINE, World, type Run, dynamicsPerson, marketoPerson } from './harness';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

const email = (i: number) => samplePerson(i).email;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

function assertConverged(world: World, people: number[]): void {
  for (const i of people) {
    const marketo = world.marketoByEmail(email(i));
    const dynamics = world.dynamicsByEmail(email(i));
    assert.equal(marketo.length, 1, `person ${i} once in Marketo`);
    assert.equal(dynamics.length, 1, `person ${i} once in Dynamics`);
    assert.equal(marketo[0]?.values['firstName'], dynamics[0]?.values['firstname'], `person ${i} first name`);
    assert.equal(marketo[0]?.values['title'] ?? null, dynamics[0]?.values['jobtitle'] ?? null, `person ${i} title`);
  }
}

describe('operations', () => {
  test('throttling and token expiry in the middle of a run lose nothing', async () => {
    const world = await World.start({
      mongo,
      marketo: range(0, 40),
      contacts: range(30, 60),
      // Far below Marketo's real limits, so the connector meets 606 answers and must back off.
      marketoLimits: { callsPerWindow: 3, windowMs: 400 },
    });
    try {
      world.dataverse.injectFaults({ throttleRequests: 2, throttleBatchOps: 5, retryAfterSeconds: 1, latencyMs: 40 });
      const started = await world.api<{ runId: string }>('POST', `/v1/pipelines/${PIPELINE}/runs`);
      assert.equal(started.status, 202);
      // Expire both systems' tokens once the run is under way (tokens issued, requests flowing).
      await eventually(
        () => world.dataverse.getCounters().requests >= 3 && world.marketo.counters.restCalls >= 1,
        'the run is under way',
      );
      world.marketo.expireTokens();
      world.dataverse.expireTokens();
      let run: Run = await world.waitForRun(started.body.runId);
      for (
        let i = 0;
        i < 4 && (run.status !== 'succeeded' || (run.counts['created'] ?? 0) + (run.counts['updated'] ?? 0) > 0);
        i++
      ) {
        run = await world.cycle();
      }
      assert.equal(run.status, 'succeeded', run.error);
      assertConverged(world, range(0, 60));
      assert.ok(world.marketo.counters.throttled606 > 0, 'Marketo answered 606 at least once');
      assert.ok(world.dataverse.getCounters().throttled > 0, 'Dataverse answered 429 at least once');
      assert.ok(world.dataverse.getCounters().unauthorized > 0, 'Dataverse answered 401 for the expired token');
      assert.ok((world.marketo.counters.byErrorCode['602'] ?? 0) > 0, 'Marketo answered 602 for the expired token');
    } finally {
      await world.close();
    }
  });

  test('a Dynamics delete is flagged in Marketo and never re-created by later cycles', async () => {
    const world = await World.start({ mongo, marketo: [0, 1], leads: [0, 1] });
    try {
      await world.settle();
      const [lead] = world.dynamicsByEmail(email(0));
      assert.ok(lead);
      world.dataverse.deleteRecord('lead', lead.id);
      const run = await world.cycle();
      assert.equal(run.counts['deleted'], 1);
      const [person] = world.marketoByEmail(email(0));
      assert.ok(person, 'the Marketo person is kept');
      assert.equal((await world.link(email(0)))?.state, 'deleted');
      // The marketer keeps editing the person: the sync must not bring the Dynamics lead back.
      world.marketo.editPerson(person!.id, { title: 'Still here' });
      await world.cycle();
      await world.cycle();
      assert.equal(world.dynamicsByEmail(email(0)).length, 0);
      const links = await world.api<Array<{ state: string }>>(
        'GET',
        `/v1/pipelines/${PIPELINE}/links?email=${encodeURIComponent(email(0))}`,
      );
      assert.equal(links.body[0]?.state, 'deleted');
      const activity = await world.api<Array<{ type: string }>>(
        'GET',
        `/v1/pipelines/${PIPELINE}/activity?marketoId=${person!.id}`,
      );
      assert.ok(activity.body.some((a) => a.type === 'deleted'));
      // A Marketo delete never deletes in Dynamics.
      const [other] = world.marketoByEmail(email(1));
      world.marketo.deletePerson(other!.id);
      await world.cycle();
      assert.equal(world.dynamicsByEmail(email(1)).length, 1);
    } finally {
      await world.close();
    }
  });

  test('create intents left by a crash never duplicate a person: an existing record is adopted, a missing one created once', async () => {
    const world = await World.start({ mongo, marketo: [0], leads: [0] });
    try {
      await world.settle();
      // As if a process died after creating person 5's lead in Dynamics but before recording the result,
      // and before creating person 6's lead at all; both intents are older than a minute.
      const five = world.marketo.createPerson(marketoPerson(5));
      const six = world.marketo.createPerson(marketoPerson(6));
      world.dataverse.create('lead', dynamicsPerson(5, 'lead'));
      const at = new Date(Date.now() - 120_000);
      const intent = (id: number, i: number) => ({
        _id: `stale-${i}`,
        pipelineId: PIPELINE,
        left: { type: 'lead', id: String(id) },
        right: { type: 'lead' },
        email: email(i),
        state: 'creating',
        snapshot: {},
        createIntent: { side: 'right', at },
        createdAt: at,
        updatedAt: at,
      });
      await mongo.client
        .db(world.dbName)
        .collection('links')
        .insertMany([intent(five.id, 5), intent(six.id, 6)] as never[]);
      const run = await world.cycle();
      assert.equal(run.status, 'succeeded', run.error);
      assert.equal(world.dynamicsByEmail(email(5)).length, 1, 'the lead created before the crash is adopted');
      assert.equal(world.dynamicsByEmail(email(6)).length, 1, 'the lead never created is created once');
      const links = await world.api<Array<{ state: string; dynamicsId: string | null }>>(
        'GET',
        `/v1/pipelines/${PIPELINE}/links?marketoId=${five.id}`,
      );
      assert.equal(links.body[0]?.state, 'linked');
      assert.equal(links.body[0]?.dynamicsId, world.dynamicsByEmail(email(5))[0]?.id);
    } finally {
      await world.close();
    }
  });

  test('push: a new person is created in Dynamics now; pushing again changes nothing', async () => {
    const world = await World.start({ mongo, marketo: [0], contacts: [0] });
    try {
      await world.settle();
      const person = world.marketo.createPerson(marketoPerson(5));
      const pushed = await world.api<{ dynamicsId: string; objectType: string; created: boolean }>(
        'POST',
        `/v1/pipelines/${PIPELINE}/push`,
        {
          marketoId: String(person.id),
          as: 'contact',
        },
      );
      assert.equal(pushed.status, 200, JSON.stringify(pushed.body));
      assert.equal(pushed.body.created, true);
      assert.equal(pushed.body.objectType, 'contact');
      const created = world.dataverse.get('contact', pushed.body.dynamicsId);
      assert.equal(created?.values['emailaddress1'], email(5));
      const again = await world.api<{ dynamicsId: string; created: boolean }>(
        'POST',
        `/v1/pipelines/${PIPELINE}/push`,
        {
          marketoId: String(person.id),
          as: 'lead',
        },
      );
      assert.equal(again.status, 200);
      assert.equal(again.body.created, false);
      assert.equal(again.body.dynamicsId, pushed.body.dynamicsId);
      // A person already in Dynamics by email (linked by the cycle) is not created either.
      const [linked] = world.marketoByEmail(email(0));
      const existing = await world.api<{ created: boolean }>('POST', `/v1/pipelines/${PIPELINE}/push`, {
        marketoId: String(linked!.id),
        as: 'lead',
      });
      assert.equal(existing.body.created, false);
      // The next cycle does not create a second record for the pushed person.
      await world.settle();
      assert.equal(world.dynamicsByEmail(email(5)).length, 1);
      const missing = await world.api<{ status: number; code: string }>('POST', `/v1/pipelines/${PIPELINE}/push`, {
        marketoId: '999999',
        as: 'lead',
      });
      assert.equal(missing.status, 404);
      const bad = await world.api<{ status: number }>('POST', `/v1/pipelines/${PIPELINE}/push`, {
        marketoId: 'abc',
        as: 'account',
      });
      assert.equal(bad.status, 400);
    } finally {
      await world.close();
    }
  });

  test('the schedule propagates changes with no forced run', async () => {
    const world = await World.start({ mongo, marketo: [0], contacts: [0], schedule: true, intervalMinutes: 0.005 });
    try {
      await eventually(
        async () => world.dynamicsByEmail(email(0)).length === 1 && (await world.link(email(0)))?.state === 'linked',
        'the first scheduled cycle links the person',
      );
      const finishedRuns = async () =>
        (await world.api<Array<{ status: string }>>('GET', `/v1/pipelines/${PIPELINE}/runs`)).body.filter(
          (r) => r.status === 'succeeded',
        ).length;
      await eventually(async () => (await finishedRuns()) >= 1, 'the first scheduled cycle ends');
      const [person] = world.marketoByEmail(email(0));
      world.marketo.editPerson(person!.id, { title: 'Scheduled change' });
      await eventually(
        () => world.dynamicsByEmail(email(0))[0]?.values['jobtitle'] === 'Scheduled change',
        'the change reaches Dynamics',
      );
      const runs = await world.api<Array<{ trigger: string }>>('GET', `/v1/pipelines/${PIPELINE}/runs`);
      assert.ok(runs.body.length >= 2);
      assert.ok(runs.body.every((r) => r.trigger === 'schedule'));
    } finally {
      await world.close();
    }
  });

  test('two instances on one database run each cycle once, and one takes over when the other stops', async () => {
    const world = await World.start({ mongo, marketo: [0, 1], contacts: [1], schedule: true, intervalMinutes: 0.004 });
    try {
      await world.startInstance({ schedule: true });
      await new Promise((r) => setTimeout(r, 3000));
      const runs = mongo.client
        .db(world.dbName)
        .collection<{ instanceId: string; startedAt: Date; finishedAt: Date | null; status: string }>('runs');
      const all = await runs.find({}).sort({ startedAt: 1 }).toArray();
      assert.ok(all.length >= 3, `several cycles ran (${all.length})`);
      for (let i = 1; i < all.length; i++) {
        const previous = all[i - 1]!;
        assert.ok(previous.finishedAt && previous.finishedAt <= all[i]!.startedAt!, 'cycles never overlap');
      }
      // The instances share one schedule: cycles are an interval apart, not twice as often.
      for (let i = 1; i < all.length; i++) {
        const gap = all[i]!.startedAt.getTime() - all[i - 1]!.finishedAt!.getTime();
        assert.ok(gap >= 0.004 * 60_000 - 5, `cycles keep the interval (gap ${gap} ms)`);
      }
      // Stop the first instance: the second keeps the pipeline in sync.
      const first = world.instances.shift()!;
      await first.close();
      const [person] = world.marketoByEmail(email(0));
      world.marketo.editPerson(person!.id, { title: 'After takeover' });
      await eventually(
        () => world.dynamicsByEmail(email(0))[0]?.values['jobtitle'] === 'After takeover',
        'the remaining instance syncs',
      );
      assert.equal(world.dynamicsByEmail(email(0)).length, 1);
      assert.equal(world.dynamicsByEmail(email(1)).length, 1);
    } finally {
      await world.close();
    }
  });

  test('an expired change-feed cursor: the feed is read again from the start, nothing is duplicated, the run says so', async () => {
    const world = await World.start({ mongo, marketo: [0, 1], contacts: [1, 2] });
    try {
      await world.settle();
      world.dataverse.editRecord('contact', world.dynamicsByEmail(email(2))[0]?.id ?? '', { jobtitle: 'Edited' });
      world.dataverse.expireDeltaTokens();
      const run = await world.cycle();
      assert.equal(run.status, 'succeeded', run.error);
      assert.ok(
        (run as { warnings?: string[] }).warnings?.some((w) => /dynamics contact: .*read again from the start/.test(w)),
        JSON.stringify(run),
      );
      assert.equal(world.marketoByEmail(email(2))[0]?.values['title'], 'Edited', 'the change made meanwhile syncs');
      assertConverged(world, [0, 1, 2]);
      const quiet = await world.cycle();
      assert.equal((quiet.counts['created'] ?? 0) + (quiet.counts['updated'] ?? 0), 0);
    } finally {
      await world.close();
    }
  });
});
