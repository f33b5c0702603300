/**
 * Randomized convergence: seeded random edits on both sides across many cycles, with a per-field authority
 * override. After every cycle both systems must hold exactly what the policy says, for every person and
 * field. TANDEM_TEST_SEED=<n> replays a run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestMongo, samplePerson, type TestMongo } from '@tandem/core/testing';
import { PIPELINE, World } from './harness';
import { mulberry32, testSeed } from './random';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

/** Marketo field → Dataverse column, for the fields the test edits. */
const FIELDS: Record<string, string> = {
  firstName: 'firstname',
  lastName: 'lastname',
  title: 'jobtitle',
  phone: 'telephone1',
  city: 'address1_city',
};
const FIELD_NAMES = Object.keys(FIELDS);

/** Authority settings under test: contacts follow Dynamics except `title`, which Marketo owns; leads follow Marketo. */
const SETTINGS = {
  objects: { contact: { winner: 'dynamics', fields: { title: 'marketo' } }, lead: { winner: 'marketo' } },
};

function winner(type: string, field: string): 'marketo' | 'dynamics' {
  if (type === 'contact') return field === 'title' ? 'marketo' : 'dynamics';
  return 'marketo';
}

test('random edits on both sides across many cycles converge to what the policies say', async () => {
  const seed = testSeed();
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const people = Array.from({ length: 16 }, (_, i) => i);
  const world = await World.start({
    mongo,
    marketo: people.slice(0, 12),
    contacts: people.slice(6, 13),
    leads: people.slice(13),
  });
  try {
    const patched = await world.api('PATCH', `/v1/pipelines/${PIPELINE}/policies/collision-authority`, {
      settings: SETTINGS,
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    await world.settle();

    // The model: what each person's fields must be, starting from the settled state.
    const model = new Map<number, Record<string, unknown>>();
    const handles = new Map<number, { marketoId: number; type: 'contact' | 'lead'; dynamicsId: string }>();
    for (const i of people) {
      const email = samplePerson(i).email;
      const [person] = world.marketoByEmail(email);
      const [record] = world.dynamicsByEmail(email);
      assert.ok(person && record, `person ${i} exists on both sides after the initial sync (seed ${seed})`);
      handles.set(i, { marketoId: person.id, type: record.type, dynamicsId: record.id });
      model.set(i, Object.fromEntries(FIELD_NAMES.map((f) => [f, person.values[f] ?? null])));
    }

    // Edits land on a few people (contacts and leads both) so that both sides often edit the same field.
    const hot = [
      pick(people.slice(6, 13)),
      pick(people.slice(6, 13)),
      pick(people.slice(13)),
      pick(people.slice(0, 6)),
    ];
    let collisions = 0;
    let contactCollisions = 0;
    for (let round = 1; round <= 14; round++) {
      const edits = new Map<string, { marketo?: string; dynamics?: string }>();
      const count = Math.floor(random() * 12);
      // Most rounds also carry one deliberate collision: the same field edited on both sides.
      const collide = random() < 0.7 ? { i: pick(hot), field: pick(FIELD_NAMES) } : undefined;
      for (let n = 0; n < count + (collide ? 2 : 0); n++) {
        const forced = collide && n >= count;
        const i = forced ? collide.i : random() < 0.8 ? pick(hot) : pick(people);
        const field = forced ? collide.field : pick(FIELD_NAMES);
        const side = forced ? (n === count ? 'marketo' : 'dynamics') : random() < 0.5 ? 'marketo' : 'dynamics';
        const value = `r${round}-${n}-${side[0]}`;
        const handle = handles.get(i)!;
        if (side === 'marketo') world.marketo.editPerson(handle.marketoId, { [field]: value });
        else world.dataverse.editRecord(handle.type, handle.dynamicsId, { [FIELDS[field]!]: value });
        const key = `${i}:${field}`;
        edits.set(key, { ...edits.get(key), [side]: value });
      }
      for (const [key, edit] of edits) {
        const [i, field] = key.split(':') as [string, string];
        const person = Number(i);
        const type = handles.get(person)!.type;
        const both = edit.marketo !== undefined && edit.dynamics !== undefined;
        if (both) {
          collisions += 1;
          if (type === 'contact') contactCollisions += 1;
        }
        const expected = both ? edit[winner(type, field)] : (edit.marketo ?? edit.dynamics);
        model.get(person)![field] = expected;
      }
      const run = await world.cycle();
      assert.equal(run.status, 'succeeded', `round ${round}: ${run.error} (seed ${seed})`);
      for (const i of people) {
        const handle = handles.get(i)!;
        const person = world.marketo.getPerson(handle.marketoId);
        const record = world.dataverse.get(handle.type, handle.dynamicsId);
        for (const field of FIELD_NAMES) {
          const expected = model.get(i)![field];
          assert.equal(
            person?.values[field] ?? null,
            expected,
            `round ${round}, person ${i}, Marketo ${field} (seed ${seed})`,
          );
          assert.equal(
            record?.values[FIELDS[field]!] ?? null,
            expected,
            `round ${round}, person ${i}, Dynamics ${field} (seed ${seed})`,
          );
        }
      }
    }
    assert.ok(collisions >= 3 && contactCollisions >= 1, `the run exercised collisions (${collisions}, seed ${seed})`);
    const idle = await world.cycle();
    assert.equal(
      (idle.counts['created'] ?? 0) + (idle.counts['updated'] ?? 0),
      0,
      `converged: an idle cycle writes nothing (seed ${seed})`,
    );
  } finally {
    await world.close();
  }
});
