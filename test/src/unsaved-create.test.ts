/**
 * A create whose outcome was never saved: the instance stops while Dataverse, having applied a `$batch` of
 * creates, has not answered it yet (and Marketo's creates of the same write set are done), so no link is saved.
 * People are edited meanwhile, on the record that was created and on the one it was created from. The next
 * instance finds each created record by email and merges it against the values the create sent, so every edit
 * wins as any change since the last sync does; a first link would let the collision policy undo some of them
 * (Marketo wins for leads: an edit on the Dynamics side would be lost).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestMongo, samplePerson, type TestMongo } from '@tandem/core/testing';
import { PIPELINE, World } from './harness';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

test('a create cut short before its outcome was saved: edits made meanwhile to either record are kept', async () => {
  // Marketo-only people 0-3 become Dynamics leads; Dynamics-only leads 10-13 become Marketo persons.
  const world = await World.start({ mongo, marketo: [0, 1, 2, 3], leads: [10, 11, 12, 13] });
  try {
    world.dataverse.injectFaults({ writeLatencyMs: 3000 });
    const started = await world.api<{ runId: string }>('POST', `/v1/pipelines/${PIPELINE}/runs`);
    assert.equal(started.status, 202);
    for (let i = 0; world.dataverse.getCounters().writesAnswering === 0; i++) {
      assert.ok(i < 600, 'the creates reached Dataverse');
      await sleep(10);
    }
    // Stopping aborts the cycle while the answer is on its way: the records exist, their links were not saved.
    const stopped = world.instances.splice(0, 1)[0];
    await stopped?.close();
    world.dataverse.injectFaults({ writeLatencyMs: 0 });
    const email = (i: number) => samplePerson(i).email;
    for (const i of [0, 1, 2, 3, 10, 11, 12, 13]) {
      assert.equal(world.marketoByEmail(email(i)).length, 1, `person ${i} was created in Marketo`);
      assert.equal(world.dynamicsByEmail(email(i)).length, 1, `person ${i} was created in Dynamics`);
    }
    const { body: links } = await world.api<Array<{ state: string }>>(
      'GET',
      `/v1/pipelines/${PIPELINE}/links?limit=100`,
      undefined,
      await world.startInstance(),
    );
    assert.ok(
      links.every((l) => l.state !== 'linked'),
      `no link was saved: ${JSON.stringify(links.map((l) => l.state))}`,
    );

    // Edits on the created record (0 in Dynamics, 10 in Marketo) and on the record it came from (1, 11).
    const dynamicsLead = (i: number) => world.dynamicsByEmail(email(i))[0] as { type: 'lead'; id: string };
    const marketoPerson = (i: number) => world.marketoByEmail(email(i))[0] as { id: number };
    world.dataverse.editRecord('lead', dynamicsLead(0).id, { lastname: 'Edited in the created lead' });
    world.marketo.editPerson(marketoPerson(1).id, { lastName: 'Edited in the Marketo source' });
    world.marketo.editPerson(marketoPerson(10).id, { lastName: 'Edited in the created person' });
    world.dataverse.editRecord('lead', dynamicsLead(11).id, { lastname: 'Edited in the Dynamics source' });

    const settled = await world.settle();
    assert.equal(settled.status, 'succeeded', settled.error);
    const expected: Record<number, string> = {
      0: 'Edited in the created lead',
      1: 'Edited in the Marketo source',
      10: 'Edited in the created person',
      11: 'Edited in the Dynamics source',
    };
    for (const [i, lastName] of Object.entries(expected)) {
      const marketo = world.marketoByEmail(email(Number(i)));
      const dynamics = world.dynamicsByEmail(email(Number(i)));
      assert.equal(marketo.length, 1, `person ${i} once in Marketo`);
      assert.equal(dynamics.length, 1, `person ${i} once in Dynamics`);
      assert.equal(marketo[0]?.values['lastName'], lastName, `person ${i} in Marketo`);
      assert.equal(dynamics[0]?.values['lastname'], lastName, `person ${i} in Dynamics`);
    }
  } finally {
    await world.close();
  }
});
