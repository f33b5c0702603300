/**
 * Three systems kept in step: Marketo persons with Salesforce Contacts and Leads (Marketo's own Salesforce sync
 * compared), Salesforce with Dynamics (contacts with contacts, leads with leads), and Marketo shared by two
 * pipelines. All three sandboxes, the real server, pipelines created over REST as an operator would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestMongo, samplePerson, type TestMongo } from '@tandem/core/testing';
import { marketoPerson, World, type Run } from './harness';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

const email = (i: number) => samplePerson(i).email;
const pair = (marketo: string, salesforce: string) => ({ marketo, salesforce, direction: 'both' });
const COMMON = [
  pair('email', 'Email'),
  pair('firstName', 'FirstName'),
  pair('lastName', 'LastName'),
  pair('title', 'Title'),
  pair('phone', 'Phone'),
];

/** The Marketo ↔ Salesforce pipeline, as an operator would POST it. */
const MARKETO_SALESFORCE = {
  id: 'marketo-salesforce',
  sides: {
    marketo: { objects: ['lead'], deletes: 'recreate' },
    salesforce: { objects: ['Contact', 'Lead'], newRecordsAs: 'Lead' },
  },
  mappings: {
    objects: [
      { marketo: 'lead', salesforce: 'Contact', fields: [...COMMON, pair('city', 'MailingCity')] },
      { marketo: 'lead', salesforce: 'Lead', fields: [...COMMON, pair('city', 'City'), pair('company', 'Company')] },
    ],
  },
};

const field = (salesforce: string, dynamics: string) => ({ salesforce, dynamics, direction: 'both' });
const SALESFORCE_DYNAMICS = {
  id: 'salesforce-dynamics',
  sides: {
    salesforce: { objects: ['Contact', 'Lead'], newRecordsAs: 'Lead' },
    dynamics: { objects: ['contact', 'lead'], newRecordsAs: 'lead' },
  },
  mappings: {
    objects: [
      {
        salesforce: 'Contact',
        dynamics: 'contact',
        fields: [
          field('Email', 'emailaddress1'),
          field('FirstName', 'firstname'),
          field('LastName', 'lastname'),
          field('Title', 'jobtitle'),
        ],
      },
      {
        salesforce: 'Lead',
        dynamics: 'lead',
        fields: [
          field('Email', 'emailaddress1'),
          field('FirstName', 'firstname'),
          field('LastName', 'lastname'),
          field('Title', 'jobtitle'),
          field('Company', 'companyname'),
        ],
      },
    ],
  },
};

async function createPipeline(world: World, body: object): Promise<void> {
  const created = await world.api('POST', '/v1/pipelines', { ...body, paused: true });
  assert.equal(created.status, 201, JSON.stringify(created.body));
}

async function cycle(world: World, pipeline: string): Promise<Run> {
  const started = await world.api<{ runId: string }>('POST', `/v1/pipelines/${pipeline}/runs`);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  return world.waitForRun(started.body.runId);
}

async function settle(world: World, pipeline: string): Promise<Run> {
  let run = await cycle(world, pipeline);
  for (let i = 1; i < 6 && (run.counts['created'] ?? 0) + (run.counts['updated'] ?? 0) > 0; i++)
    run = await cycle(world, pipeline);
  return run;
}

async function withWorld(
  options: Omit<Parameters<typeof World.start>[0], 'mongo'>,
  body: (world: World) => Promise<void>,
) {
  const world = await World.start({ mongo, ...options });
  try {
    await body(world);
  } finally {
    await world.close();
  }
}

const sfRecord = (world: World, i: number) => {
  const [record] = world.salesforceByEmail(email(i));
  assert.ok(record, `person ${i} is in Salesforce`);
  return record;
};

describe('Marketo with Salesforce', () => {
  test('initial sync with overlapping emails (case differences too): each person once per side; edits flow both ways', async () => {
    await withWorld({ marketo: [0, 1, 2, 3], salesforce: { contacts: [2, 4], leads: [3, 5] } }, async (world) => {
      // Person 1 is in Salesforce as a Contact with the email typed differently.
      world.salesforce?.sandbox.createRecord('Contact', {
        LastName: 'One',
        FirstName: 'Person',
        Email: ` ${email(1).toUpperCase()} `,
      });
      await createPipeline(world, MARKETO_SALESFORCE);
      const first = await cycle(world, 'marketo-salesforce');
      assert.equal(first.status, 'succeeded', first.error);
      // Salesforce's feeds say how many records they will hand over (the queries' totalSize): progress has a total.
      assert.deepEqual(first.sides?.['salesforce'], { read: 5, written: 2, total: 5 });
      await settle(world, 'marketo-salesforce');
      for (const i of [0, 1, 2, 3, 4, 5]) {
        assert.equal(world.marketoByEmail(email(i)).length, 1, `person ${i} once in Marketo`);
        assert.equal(world.salesforceByEmail(email(i)).length, 1, `person ${i} once in Salesforce`);
      }
      assert.equal(sfRecord(world, 0).type, 'Lead', 'a new Marketo person becomes a Salesforce Lead');
      assert.equal(sfRecord(world, 1).type, 'Contact', 'matched trimmed and case-insensitively, a Contact first');
      assert.equal(world.marketoByEmail(email(4))[0]?.values['firstName'], samplePerson(4).firstName);

      world.marketo.editPerson(world.marketoByEmail(email(2))[0]?.id ?? 0, { title: 'From Marketo' });
      world.salesforce?.sandbox.editRecord('Lead', sfRecord(world, 3).id, { Title: 'From Salesforce' });
      const run = await cycle(world, 'marketo-salesforce');
      assert.equal(run.counts['updated'], 2, JSON.stringify(run.counts));
      assert.equal(sfRecord(world, 2).values['Title'], 'From Marketo');
      assert.equal(world.marketoByEmail(email(3))[0]?.values['title'], 'From Salesforce');
      const idle = await cycle(world, 'marketo-salesforce');
      assert.equal((idle.counts['created'] ?? 0) + (idle.counts['updated'] ?? 0), 0, 'an idle cycle writes nothing');
    });
  });

  test('an email Salesforce stores in lower case is the same email: Marketo keeps its casing, nothing is written back', async () => {
    await withWorld({ marketo: [0], salesforce: {} }, async (world) => {
      const mixed = 'Mixed.Case@Example.COM';
      world.marketo.createPerson({ email: mixed, firstName: 'Mixed', lastName: 'Case', company: 'Acme' });
      await createPipeline(world, MARKETO_SALESFORCE);
      await settle(world, 'marketo-salesforce');
      const [lead] = world.salesforceByEmail(mixed);
      assert.equal(lead?.values['Email'], 'mixed.case@example.com', 'the org stores emails in lower case');
      assert.equal(world.marketoByEmail(mixed)[0]?.values['email'], mixed, 'Marketo keeps the casing it had');
      const activity = await world.api<Array<{ kind: string; side?: string }>>(
        'GET',
        `/v1/pipelines/marketo-salesforce/activity?email=${encodeURIComponent(mixed)}`,
      );
      assert.deepEqual(
        activity.body.filter((a) => a.kind === 'updated').map((a) => a.side),
        [],
        'nobody updated for a difference of case',
      );
      const idle = await cycle(world, 'marketo-salesforce');
      assert.equal((idle.counts['created'] ?? 0) + (idle.counts['updated'] ?? 0), 0, 'an idle cycle writes nothing');
    });
  });

  test('collisions: Salesforce wins for Contacts, Marketo wins for Leads', async () => {
    await withWorld({ marketo: [0, 1], salesforce: { contacts: [0], leads: [1] } }, async (world) => {
      await createPipeline(world, MARKETO_SALESFORCE);
      await settle(world, 'marketo-salesforce');
      for (const i of [0, 1]) {
        world.marketo.editPerson(world.marketoByEmail(email(i))[0]?.id ?? 0, { title: `Marketo ${i}` });
        const record = sfRecord(world, i);
        world.salesforce?.sandbox.editRecord(record.type, record.id, { Title: `Salesforce ${i}` });
      }
      const run = await cycle(world, 'marketo-salesforce');
      assert.equal(run.counts['conflicts'], 2);
      assert.equal(world.marketoByEmail(email(0))[0]?.values['title'], 'Salesforce 0', 'the CRM owns its contacts');
      assert.equal(sfRecord(world, 0).values['Title'], 'Salesforce 0');
      assert.equal(sfRecord(world, 1).values['Title'], 'Marketo 1', 'marketing owns leads');
    });
  });

  test('a validation rule rejects one person: logged in the activity log with its message while the rest syncs', async () => {
    await withWorld({ marketo: [0, 1], salesforce: { contacts: [0, 1] } }, async (world) => {
      await createPipeline(world, MARKETO_SALESFORCE);
      await settle(world, 'marketo-salesforce');
      world.salesforce?.sandbox.addValidationRule({
        object: 'Contact',
        name: 'No_Interns',
        message: 'Interns are not contacts.',
        errorDisplayField: 'Title',
        when: { field: 'Title', operator: 'equals', value: 'Intern' },
      });
      const rejected = world.marketoByEmail(email(0))[0]?.id ?? 0;
      world.marketo.editPerson(rejected, { title: 'Intern' });
      world.marketo.editPerson(world.marketoByEmail(email(1))[0]?.id ?? 0, { title: 'Director' });
      const run = await cycle(world, 'marketo-salesforce');
      assert.equal(run.status, 'succeeded', run.error);
      assert.equal(run.counts['rejected'], 1);
      assert.equal(sfRecord(world, 1).values['Title'], 'Director');
      assert.notEqual(sfRecord(world, 0).values['Title'], 'Intern');
      const activity = await world.api<Array<{ type: string; detail: string; connection?: string; code?: string }>>(
        'GET',
        `/v1/pipelines/marketo-salesforce/activity?connection=marketo&recordId=${rejected}`,
      );
      const entry = activity.body.find((a) => a.type === 'rejected');
      assert.match(entry?.detail ?? '', /Interns are not contacts/);
      assert.equal(entry?.connection, 'salesforce');
      assert.equal(entry?.code, 'FIELD_CUSTOM_VALIDATION_EXCEPTION');
    });
  });

  test('a field the integration user may read but not edit is never written and never blanked', async () => {
    await withWorld({ marketo: [0], salesforce: { contacts: [0] } }, async (world) => {
      world.salesforce?.sandbox.setFieldSecurity('Contact', 'Title', { read: true, edit: false });
      await createPipeline(world, MARKETO_SALESFORCE);
      const mappings = await world.api<{
        unsyncable: Array<{ object: string; salesforce: string; effective: string; reasons: string[] }>;
      }>('GET', '/v1/pipelines/marketo-salesforce/mappings');
      const title = mappings.body.unsyncable.find((f) => f.object === 'lead->Contact' && f.salesforce === 'Title');
      assert.equal(title?.effective, 'to:marketo');
      assert.match(title?.reasons.join(' ') ?? '', /cannot be written/);
      await settle(world, 'marketo-salesforce');
      const before = sfRecord(world, 0).values['Title'];
      world.marketo.editPerson(world.marketoByEmail(email(0))[0]?.id ?? 0, {
        title: 'Changed in Marketo',
        firstName: 'Renamed',
      });
      const run = await cycle(world, 'marketo-salesforce');
      assert.equal(run.counts['rejected'] ?? 0, 0);
      assert.equal(sfRecord(world, 0).values['Title'], before, 'never written');
      assert.equal(sfRecord(world, 0).values['FirstName'], 'Renamed', 'the rest syncs');
      assert.equal(world.marketoByEmail(email(0))[0]?.values['title'], 'Changed in Marketo', 'never blanked');
    });
  });

  test('lock errors and token expiry in the middle of a run lose nothing', async () => {
    await withWorld({ marketo: [0, 1, 2, 3, 4, 5], salesforce: { contacts: [4, 5] } }, async (world) => {
      await createPipeline(world, MARKETO_SALESFORCE);
      world.salesforce?.sandbox.injectFaults({ lockErrorShare: 0.34, latencyMs: 20 });
      const started = await world.api<{ runId: string }>('POST', '/v1/pipelines/marketo-salesforce/runs');
      await new Promise((r) => setTimeout(r, 60));
      world.salesforce?.sandbox.expireTokens();
      world.marketo.expireTokens();
      const run = await world.waitForRun(started.body.runId);
      assert.notEqual(run.status, 'failed', run.error);
      world.salesforce?.sandbox.clearFaults();
      await settle(world, 'marketo-salesforce');
      for (const i of [0, 1, 2, 3, 4, 5]) {
        assert.equal(world.salesforceByEmail(email(i)).length, 1, `person ${i} once in Salesforce`);
        assert.equal(world.marketoByEmail(email(i)).length, 1, `person ${i} once in Marketo`);
      }
      assert.ok((world.salesforce?.sandbox.getCounters().lockErrors ?? 0) > 0, 'lock errors were met');
    });
  });

  test('a Salesforce delete is not re-created by later cycles', async () => {
    await withWorld({ marketo: [0], salesforce: { leads: [0] } }, async (world) => {
      await createPipeline(world, MARKETO_SALESFORCE);
      await settle(world, 'marketo-salesforce');
      world.salesforce?.sandbox.deleteRecord('Lead', sfRecord(world, 0).id);
      // The delete log is read once its minute has passed (Salesforce's `deleted` resource is minute-grained).
      world.salesforce?.sandbox.advanceClock(61_000);
      const run = await cycle(world, 'marketo-salesforce');
      assert.equal(run.counts['deleted'], 1, JSON.stringify(run.counts));
      world.marketo.editPerson(world.marketoByEmail(email(0))[0]?.id ?? 0, { title: 'Still here' });
      await cycle(world, 'marketo-salesforce');
      await cycle(world, 'marketo-salesforce');
      assert.equal(world.salesforceByEmail(email(0)).length, 0);
      assert.equal(world.marketoByEmail(email(0)).length, 1, 'the Marketo person is kept');
    });
  });
});

describe('three systems', () => {
  test('Salesforce with Dynamics: contacts with contacts, leads with leads', async () => {
    await withWorld({ contacts: [1], leads: [2], salesforce: { contacts: [0, 1], leads: [2, 3] } }, async (world) => {
      await createPipeline(world, SALESFORCE_DYNAMICS);
      await settle(world, 'salesforce-dynamics');
      assert.deepEqual(
        world.dynamicsByEmail(email(0)).map((r) => r.type),
        ['contact'],
        'a Salesforce Contact becomes a Dynamics contact',
      );
      assert.deepEqual(
        world.dynamicsByEmail(email(3)).map((r) => r.type),
        ['lead'],
      );
      assert.equal(world.dynamicsByEmail(email(1)).length, 1);
      assert.equal(world.dynamicsByEmail(email(2)).length, 1);
      world.dataverse.editRecord('contact', world.dynamicsByEmail(email(1))[0]?.id ?? '', {
        jobtitle: 'Edited in Dynamics',
      });
      await cycle(world, 'salesforce-dynamics');
      assert.equal(sfRecord(world, 1).values['Title'], 'Edited in Dynamics');
    });
  });

  test('two pipelines share Marketo: an edit travels Salesforce → Marketo → Dynamics, then both idle cycles write nothing', async () => {
    await withWorld({ marketo: [0, 1], contacts: [0], salesforce: { contacts: [0] } }, async (world) => {
      world.marketo.createPerson(marketoPerson(7));
      await createPipeline(world, MARKETO_SALESFORCE);
      await settle(world, 'default');
      await settle(world, 'marketo-salesforce');
      await settle(world, 'default');
      for (const i of [0, 1, 7]) {
        assert.equal(world.marketoByEmail(email(i)).length, 1, `person ${i} once in Marketo`);
        assert.equal(world.dynamicsByEmail(email(i)).length, 1, `person ${i} once in Dynamics`);
        assert.equal(world.salesforceByEmail(email(i)).length, 1, `person ${i} once in Salesforce`);
      }
      world.salesforce?.sandbox.editRecord('Contact', sfRecord(world, 0).id, { Title: 'Set in Salesforce' });
      const toMarketo = await cycle(world, 'marketo-salesforce');
      assert.equal(toMarketo.counts['updated'], 1);
      assert.equal(world.marketoByEmail(email(0))[0]?.values['title'], 'Set in Salesforce');
      const toDynamics = await cycle(world, 'default');
      assert.equal(toDynamics.counts['updated'], 1);
      assert.equal(world.dynamicsByEmail(email(0))[0]?.values['jobtitle'], 'Set in Salesforce');
      // No echo between the pipelines: each one's writes come back to the other as already agreed.
      for (let round = 0; round < 2; round++) {
        for (const pipeline of ['marketo-salesforce', 'default']) {
          const idle = await cycle(world, pipeline);
          assert.equal(
            (idle.counts['created'] ?? 0) + (idle.counts['updated'] ?? 0),
            0,
            `${pipeline} round ${round}: ${JSON.stringify(idle.counts)}`,
          );
        }
      }
    });
  });
});
