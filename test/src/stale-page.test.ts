/**
 * A page read before an earlier write set of the same cycle was written: the Marketo scan reads ahead, and the page
 * that overflows a write set waits for the next one, so its records may predate what the cycle itself just wrote
 * to Marketo. Such a record must not pass for a change: here a person edited in Dynamics is written to Marketo in
 * the first write set, and the Marketo page holding them, read before that, comes in the second; taken as it was
 * read, it would write the old name back to Dynamics. (Both feeds are read again from the start, as after a crash
 * before any cursor was saved.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestMongo, samplePerson, type TestMongo } from '@tandem/core/testing';
import { World } from './harness';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

const PEOPLE = 1600;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('a record read before the cycle wrote it is read again before it counts as a change', async () => {
  const people = range(0, PEOPLE);
  const world = await World.start({ mongo, marketo: people, contacts: people });
  try {
    assert.equal((await world.settle()).status, 'succeeded');
    // The 1,600 contacts and the first Marketo pages fill the first write set (3,000 records); the Marketo pages
    // holding people 1,400 and up are read before it is written, and paired after.
    const edited = [1450, 1500, 1550];
    for (const i of edited) {
      const [contact] = world.dynamicsByEmail(samplePerson(i).email);
      world.dataverse.editRecord('contact', contact?.id ?? '', { lastname: `Edited ${i}` });
    }
    await mongo.client.db(world.dbName).collection('cursors').deleteMany({});
    const run = await world.cycle(undefined, 300_000);
    assert.equal(run.status, 'succeeded', run.error);
    for (const i of edited) {
      const email = samplePerson(i).email;
      assert.equal(world.marketoByEmail(email)[0]?.values['lastName'], `Edited ${i}`, `person ${i} in Marketo`);
      assert.equal(world.dynamicsByEmail(email)[0]?.values['lastname'], `Edited ${i}`, `person ${i} in Dynamics`);
    }
  } finally {
    await world.close();
  }
});
