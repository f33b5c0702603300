/**
 * The dry run (`GET /v1/pipelines/:id/plan`, `tandem plan`): what the next cycle would do, per person and
 * field, with nothing written and no cursor moved; and the next cycle then does exactly that.
 */
import { after, before, test } from 'node:test';
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

interface Plan {
  counts: Record<string, number>;
  changes: Array<{
    email?: string;
    action: string;
    connection?: string;
    objectType?: string;
    fields?: Record<string, { from?: unknown; to: unknown }>;
    collisions?: Array<{ field: string; winner: string }>;
  }>;
}

const email = (i: number) => samplePerson(i).email;

test('a dry run writes nothing, moves no cursor, and the next cycle does what it planned', async () => {
  const world = await World.start({ mongo, marketo: [0, 1, 2], contacts: [1, 3], leads: [4] });
  try {
    const before = {
      marketo: world.marketo.listPersons().length,
      dataverse: world.dataverse.list('contact').length + world.dataverse.list('lead').length,
    };
    const first = await world.api<Plan>('GET', `/v1/pipelines/${PIPELINE}/plan`);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    // Nothing written anywhere, nothing saved: asking again gives the same plan.
    assert.deepEqual(
      {
        marketo: world.marketo.listPersons().length,
        dataverse: world.dataverse.list('contact').length + world.dataverse.list('lead').length,
      },
      before,
    );
    assert.equal((await world.api<unknown[]>('GET', `/v1/pipelines/${PIPELINE}/links?limit=1000`)).body.length, 0);
    const again = await world.api<Plan>('GET', `/v1/pipelines/${PIPELINE}/plan`);
    assert.deepEqual(again.body.counts, first.body.counts);

    const creates = first.body.changes.filter((c) => c.action === 'create');
    assert.deepEqual(
      creates.map((c) => [c.email, c.connection, c.objectType]).sort(),
      [
        [email(0), 'dynamics', 'lead'],
        [email(2), 'dynamics', 'lead'],
        [email(3), 'marketo', 'lead'],
        [email(4), 'marketo', 'lead'],
      ].sort(),
    );
    assert.equal(creates.find((c) => c.email === email(0))?.fields?.['emailaddress1']?.to, email(0));
    assert.ok(first.body.changes.some((c) => c.action === 'link' && c.email === email(1)));

    const run = await world.cycle();
    for (const count of ['read', 'created', 'updated', 'unchanged', 'conflicts', 'rejected', 'deleted'] as const) {
      assert.equal(run.counts[count], first.body.counts[count], `${count}: the cycle does what the plan said`);
    }
    assert.equal(world.dynamicsByEmail(email(0)).length, 1);

    // Edits on both sides, one field on both: the plan shows each field's change and the collision's winner.
    world.marketo.editPerson(world.marketoByEmail(email(1))[0]?.id ?? 0, {
      firstName: 'Marketo edit',
      title: 'From Marketo',
    });
    world.dataverse.editRecord('contact', world.dynamicsByEmail(email(1))[0]?.id ?? '', { jobtitle: 'From Dynamics' });
    world.marketo.createPerson(marketoPerson(9));
    const next = await world.api<Plan>('GET', `/v1/pipelines/${PIPELINE}/plan`);
    const toDynamics = next.body.changes.find((c) => c.email === email(1) && c.connection === 'dynamics');
    assert.deepEqual(toDynamics?.fields?.['firstname'], { from: samplePerson(1).firstName, to: 'Marketo edit' });
    const toMarketo = next.body.changes.find((c) => c.email === email(1) && c.connection === 'marketo');
    assert.deepEqual(toMarketo?.fields?.['title'], { from: 'From Marketo', to: 'From Dynamics' });
    assert.deepEqual(toMarketo?.collisions, [{ field: 'title', winner: 'dynamics' }]);
    assert.ok(next.body.changes.some((c) => c.action === 'create' && c.email === email(9)));
    const second = await world.cycle();
    for (const count of ['created', 'updated', 'conflicts'] as const) {
      assert.equal(second.counts[count], next.body.counts[count], `${count}: the second cycle does what its plan said`);
    }
    assert.equal(world.marketoByEmail(email(1))[0]?.values['title'], 'From Dynamics');
  } finally {
    await world.close();
  }
});
