/**
 * The two-way sync end to end: both sandboxes, real MongoDB wire protocol, the real server through its API.
 * One test per behaviour users rely on (issue 5).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestMongo, samplePerson, type TestMongo } from '@tandem/core/testing';
import { dynamicsPerson, marketoPerson, PIPELINE, World } from './harness';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

async function withWorld(
  options: Omit<Parameters<typeof World.start>[0], 'mongo'>,
  body: (world: World) => Promise<void>,
): Promise<void> {
  const world = await World.start({ mongo, ...options });
  try {
    await body(world);
  } finally {
    await world.close();
  }
}

const email = (i: number) => samplePerson(i).email;

function marketoId(world: World, i: number): number {
  const [person] = world.marketoByEmail(email(i));
  assert.ok(person, `person ${i} is in Marketo`);
  return person.id;
}

function dynamicsRecord(world: World, i: number) {
  const [record] = world.dynamicsByEmail(email(i));
  assert.ok(record, `person ${i} is in Dynamics`);
  return record;
}

describe('sync', () => {
  test('initial sync with overlapping emails: each person once on each side', async () => {
    await withWorld({ marketo: [0, 1, 2, 3, 4, 5, 6, 7], contacts: [5, 6, 7, 8], leads: [9, 10] }, async (world) => {
      // The same person typed differently in Dynamics: matched trimmed and case-insensitively.
      world.dataverse.create('contact', {
        emailaddress1: ` ${email(3).toUpperCase()} `,
        firstname: 'Third',
        lastname: 'Person',
      });
      const first = await world.cycle();
      assert.equal(first.status, 'succeeded', first.error);
      const settled = await world.settle();
      assert.equal(settled.counts['created'], 0);
      for (let i = 0; i <= 10; i++) {
        assert.equal(world.marketoByEmail(email(i)).length, 1, `person ${i} exactly once in Marketo`);
        assert.equal(world.dynamicsByEmail(email(i)).length, 1, `person ${i} exactly once in Dynamics`);
      }
      // New Marketo people became Dynamics leads; Dynamics-only people became Marketo persons.
      assert.equal(dynamicsRecord(world, 0).type, 'lead');
      assert.equal(dynamicsRecord(world, 3).type, 'contact');
      assert.equal(world.marketoByEmail(email(9))[0]?.values['firstName'], samplePerson(9).firstName);
      // Blanks were filled from the other side on first link.
      assert.equal(world.marketoByEmail(email(8))[0]?.values['title'], samplePerson(8).title);
      assert.equal((await world.link(email(3)))?.dynamicsType, 'contact');
      const links = await world.api<Array<{ state: string }>>('GET', `/v1/pipelines/${PIPELINE}/links?limit=1000`);
      assert.equal(links.body.length, 11);
      assert.ok(links.body.every((l) => l.state === 'linked'));
    });
  });

  test('one cycle writes what both feeds need in shared batches: a contact filled in and a new lead, one $batch', async () => {
    await withWorld({ marketo: [0, 1], contacts: [1] }, async (world) => {
      await world.settle();
      // Marketo gains two people: person 5 is also a new Dynamics contact lacking a job title (the contact
      // feed links and fills it in), person 6 is nowhere in Dynamics (the Marketo feed creates a lead).
      world.marketo.createPerson(marketoPerson(5));
      world.marketo.createPerson(marketoPerson(6));
      world.dataverse.create('contact', { emailaddress1: email(5), firstname: 'Five', lastname: 'Person' });
      const before = world.dataverse.getCounters();
      const marketoBefore = world.marketo.counters.byEndpoint['POST /v1/leads.json'] ?? 0;
      const run = await world.cycle();
      assert.equal(run.status, 'succeeded', run.error);
      const after = world.dataverse.getCounters();
      assert.equal(after.batches - before.batches, 1, 'the contact update and the lead create share one $batch');
      assert.equal(after.operations - before.operations, 2);
      assert.equal(
        (world.marketo.counters.byEndpoint['POST /v1/leads.json'] ?? 0) - marketoBefore,
        1,
        'one Marketo write call for both people',
      );
      assert.equal(dynamicsRecord(world, 5).type, 'contact');
      assert.equal(dynamicsRecord(world, 5).values['jobtitle'], samplePerson(5).title);
      assert.equal(dynamicsRecord(world, 6).type, 'lead');
      for (const i of [5, 6]) {
        assert.equal(world.marketoByEmail(email(i)).length, 1, `person ${i} once in Marketo`);
        assert.equal(world.dynamicsByEmail(email(i)).length, 1, `person ${i} once in Dynamics`);
      }
      assert.equal((await world.link(email(5)))?.dynamicsType, 'contact');
      // Nothing was left half done: the next cycles only see their own echoes.
      const settled = await world.settle();
      assert.equal((settled.counts['created'] ?? 0) + (settled.counts['updated'] ?? 0), 0);
      const links = await world.api<Array<{ state: string }>>('GET', `/v1/pipelines/${PIPELINE}/links?limit=100`);
      assert.equal(links.body.length, 4);
      assert.ok(links.body.every((l) => l.state === 'linked'));
    });
  });

  test('a lead qualified into a contact: the contact takes over the person, whatever the lead does in the same cycle', async () => {
    await withWorld({ marketo: [0, 1], leads: [0, 1] }, async (world) => {
      await world.settle();
      const leads = [0, 1].map((i) => dynamicsRecord(world, i));
      // Both leads are qualified: a contact with the same email appears; one lead is deleted, the other edited.
      for (const i of [0, 1]) world.dataverse.create('contact', dynamicsPerson(i, 'contact'));
      world.dataverse.deleteRecord('lead', leads[0]!.id);
      world.dataverse.editRecord('lead', leads[1]!.id, { jobtitle: 'Edited on the old lead' });
      const run = await world.cycle();
      assert.equal(run.status, 'succeeded', run.error);
      assert.equal(run.counts['deleted'], 0, 'the deleted lead no longer stands for anyone');
      for (const i of [0, 1]) {
        const [person] = world.marketoByEmail(email(i));
        assert.equal((await world.link(email(i)))?.dynamicsType, 'contact', `person ${i} is now a contact`);
        assert.notEqual(person?.values['title'], 'Edited on the old lead');
      }
      const links = await world.api<Array<{ state: string; dynamicsType: string; dynamicsId: string }>>(
        'GET',
        `/v1/pipelines/${PIPELINE}/links?limit=100`,
      );
      assert.equal(links.body.length, 2);
      for (const link of links.body) {
        assert.equal(link.state, 'linked');
        assert.equal(link.dynamicsType, 'contact');
      }
      const settled = await world.settle();
      assert.equal((settled.counts['created'] ?? 0) + (settled.counts['deleted'] ?? 0), 0);
    });
  });

  test('changes propagate both ways', async () => {
    await withWorld({ marketo: [0, 1], contacts: [1], leads: [2] }, async (world) => {
      await world.settle();
      world.marketo.editPerson(marketoId(world, 0), { title: 'Chief Marketing Officer' });
      const contact = dynamicsRecord(world, 1);
      world.dataverse.editRecord('contact', contact.id, { jobtitle: 'Head of Sales', address1_city: 'Bergen' });
      const run = await world.cycle();
      assert.equal(run.status, 'succeeded', run.error);
      assert.equal(dynamicsRecord(world, 0).values['jobtitle'], 'Chief Marketing Officer');
      const person1 = world.marketoByEmail(email(1))[0];
      assert.equal(person1?.values['title'], 'Head of Sales');
      assert.equal(person1?.values['city'], 'Bergen');
      assert.equal(run.counts['updated'], 2);
      const activity = await world.api<Array<{ type: string; detail: string }>>(
        'GET',
        `/v1/pipelines/${PIPELINE}/activity?marketoId=${marketoId(world, 1)}`,
      );
      assert.ok(activity.body.some((a) => a.type === 'updated' && a.detail.includes('title')));
    });
  });

  test('a collision: Dynamics wins for a contact, Marketo wins for a lead', async () => {
    await withWorld({ marketo: [0, 1], contacts: [0], leads: [1] }, async (world) => {
      await world.settle();
      world.marketo.editPerson(marketoId(world, 0), { title: 'From Marketo' });
      world.dataverse.editRecord('contact', dynamicsRecord(world, 0).id, { jobtitle: 'From Dynamics' });
      world.marketo.editPerson(marketoId(world, 1), { title: 'Marketo title' });
      world.dataverse.editRecord('lead', dynamicsRecord(world, 1).id, { jobtitle: 'Dynamics title' });
      const run = await world.cycle();
      assert.equal(run.counts['conflicts'], 2);
      assert.equal(world.marketoByEmail(email(0))[0]?.values['title'], 'From Dynamics');
      assert.equal(dynamicsRecord(world, 0).values['jobtitle'], 'From Dynamics');
      assert.equal(world.marketoByEmail(email(1))[0]?.values['title'], 'Marketo title');
      assert.equal(dynamicsRecord(world, 1).values['jobtitle'], 'Marketo title');
      const activity = await world.api<Array<{ type: string; detail: string }>>(
        'GET',
        `/v1/pipelines/${PIPELINE}/activity?marketoId=${marketoId(world, 0)}`,
      );
      assert.ok(activity.body.some((a) => a.type === 'conflict' && a.detail.includes('dynamics wins')));
    });
  });

  test('authority policy disabled at run time: the most recent change wins', async () => {
    await withWorld({ marketo: [0], leads: [0] }, async (world) => {
      await world.settle();
      const patched = await world.api('PATCH', `/v1/pipelines/${PIPELINE}/policies/collision-authority`, {
        enabled: false,
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      // Marketo first, Dynamics clearly later: on a lead the authority would pick Marketo; recency picks Dynamics.
      world.marketo.editPerson(marketoId(world, 0), { title: 'Older, Marketo' });
      await new Promise((r) => setTimeout(r, 1100));
      world.dataverse.editRecord('lead', dynamicsRecord(world, 0).id, { jobtitle: 'Newer, Dynamics' });
      const run = await world.cycle();
      assert.equal(run.counts['conflicts'], 1);
      assert.equal(world.marketoByEmail(email(0))[0]?.values['title'], 'Newer, Dynamics');
      // Re-enabled: the next collision on this lead goes to Marketo again, without a restart.
      await world.api('PATCH', `/v1/pipelines/${PIPELINE}/policies/collision-authority`, { enabled: true });
      world.dataverse.editRecord('lead', dynamicsRecord(world, 0).id, { jobtitle: 'Dynamics again' });
      await new Promise((r) => setTimeout(r, 1100));
      world.marketo.editPerson(marketoId(world, 0), { title: 'Marketo again' });
      await world.cycle();
      assert.equal(dynamicsRecord(world, 0).values['jobtitle'], 'Marketo again');
    });
  });

  test('a validation rejection is logged in the person’s activity and the rest syncs', async () => {
    await withWorld({ marketo: [0, 1], contacts: [0, 1] }, async (world) => {
      await world.settle();
      world.dataverse.addBusinessRule({
        entity: 'contact',
        column: 'jobtitle',
        equals: 'INVALID',
        message: 'Job title INVALID is not allowed.',
      });
      const rejectedId = marketoId(world, 0);
      world.marketo.editPerson(rejectedId, { title: 'INVALID' });
      world.marketo.editPerson(marketoId(world, 1), { title: 'Valid Title' });
      const run = await world.cycle();
      assert.equal(run.counts['rejected'], 1);
      assert.equal(dynamicsRecord(world, 1).values['jobtitle'], 'Valid Title');
      assert.notEqual(dynamicsRecord(world, 0).values['jobtitle'], 'INVALID');
      const activity = await world.api<Array<{ type: string; detail: string }>>(
        'GET',
        `/v1/pipelines/${PIPELINE}/activity?marketoId=${rejectedId}`,
      );
      const rejected = activity.body.find((a) => a.type === 'rejected');
      assert.ok(rejected, 'the rejection is in the activity log');
      assert.match(rejected.detail, /Job title INVALID is not allowed/);
      // Also posted to the person's Marketo activity log as a custom activity.
      assert.ok(
        world.marketo
          .activityLog(rejectedId)
          .some((a) => JSON.stringify(a).includes('Job title INVALID is not allowed')),
        'custom activity in Marketo',
      );
      // Not retried every cycle; retried when the source changes.
      const idle = await world.cycle();
      assert.equal(idle.counts['rejected'], 0);
      world.marketo.editPerson(rejectedId, { title: 'Fixed Title' });
      const fixed = await world.cycle();
      assert.equal(fixed.counts['rejected'], 0);
      assert.equal(dynamicsRecord(world, 0).values['jobtitle'], 'Fixed Title');
    });
  });

  test('resync: a person whose write was rejected is written again by the next cycle once the rule is fixed, without a new edit', async () => {
    await withWorld({ marketo: [0, 1], contacts: [0, 1] }, async (world) => {
      await world.settle();
      world.dataverse.addBusinessRule({
        entity: 'contact',
        column: 'jobtitle',
        equals: 'Blocked',
        message: 'Blocked titles.',
      });
      const rejectedId = marketoId(world, 0);
      world.marketo.editPerson(rejectedId, { title: 'Blocked' });
      assert.equal((await world.cycle()).counts['rejected'], 1);
      world.dataverse.clearBusinessRules();
      // Nothing changed since: a plain cycle does not retry it.
      assert.equal((await world.cycle()).counts['updated'] ?? 0, 0);
      assert.notEqual(dynamicsRecord(world, 0).values['jobtitle'], 'Blocked');
      const flagged = await world.api<{ flagged: number }>('POST', `/v1/pipelines/${PIPELINE}/resync`, {
        connection: 'marketo',
        recordIds: [String(rejectedId)],
      });
      assert.equal(flagged.status, 202);
      assert.equal(flagged.body.flagged, 1);
      const run = await world.cycle();
      assert.equal(run.counts['updated'], 1, JSON.stringify(run.counts));
      assert.equal(dynamicsRecord(world, 0).values['jobtitle'], 'Blocked', 'written again');
      const idle = await world.cycle();
      assert.equal(
        (idle.counts['updated'] ?? 0) + (idle.counts['created'] ?? 0),
        0,
        'the flag is gone after one cycle',
      );
      const bad = await world.api('POST', `/v1/pipelines/${PIPELINE}/resync`, {
        connection: 'nowhere',
        recordIds: ['1'],
      });
      assert.equal(bad.status, 400);
    });
  });

  test('loop guard: a Dynamics write whose Marketo side failed is not taken for an echo; the next cycle finishes it', async () => {
    await withWorld({ marketo: [0], contacts: [0], marketoConfig: { maxAttempts: 1 } }, async (world) => {
      await world.settle();
      const id = marketoId(world, 0);
      world.dataverse.editRecord('contact', dynamicsRecord(world, 0).id, { firstname: 'Dynamics First' });
      world.marketo.editPerson(id, { title: 'Marketo Title' });
      world.marketo.setFaults({ failWrites: 1 });
      const failed = await world.cycle();
      assert.equal(failed.counts['failed'], 1);
      assert.equal(dynamicsRecord(world, 0).values['jobtitle'], 'Marketo Title', 'the Dynamics write landed');
      assert.notEqual(world.marketo.getPerson(id)?.values['firstName'], 'Dynamics First', 'the Marketo write failed');
      // The contact now carries the etag of our own write, yet it must be read again: its change from Dynamics
      // has not reached Marketo (a loop guard trusting every landed write would lose it here).
      await world.cycle();
      assert.equal(world.marketo.getPerson(id)?.values['firstName'], 'Dynamics First');
      assert.equal(dynamicsRecord(world, 0).values['jobtitle'], 'Marketo Title');
    });
  });

  test('loop guard: the cycle after a sync reads none of its own writes back', async () => {
    await withWorld({ marketo: [0, 1, 2], contacts: [2, 3], leads: [4] }, async (world) => {
      const first = await world.cycle();
      assert.ok((first.counts['created'] ?? 0) + (first.counts['updated'] ?? 0) > 0, 'the first cycle wrote');
      // Its creates and updates on both sides come back through the change feeds, and are left out there.
      const next = await world.cycle();
      assert.deepEqual([next.counts['read'], next.counts['unchanged']], [0, 0]);
      // Someone else's change still gets through.
      world.marketo.editPerson(marketoId(world, 0), { title: 'Edited after the sync' });
      const edited = await world.cycle();
      assert.equal(edited.counts['read'], 1);
      assert.equal(dynamicsRecord(world, 0).values['jobtitle'], 'Edited after the sync');
    });
  });

  test('vanilla orgs: the standard fields sync; GET mappings lists the extras as not syncing, and why', async () => {
    await withWorld({ marketo: [0], contacts: [0] }, async (world) => {
      const run = await world.settle();
      assert.equal(run.status, 'succeeded', run.error);
      assert.equal(run.warnings, undefined, 'optional extras a vanilla org lacks are not worth a warning');
      const mappings = await world.api<{
        unsyncable: Array<{
          object: string;
          marketo: string;
          dynamics: string;
          effective: string;
          optional?: boolean;
          reasons: string[];
        }>;
        analysis: { errors: string[]; missing: string[] };
      }>('GET', `/v1/pipelines/${PIPELINE}/mappings`);
      assert.deepEqual(mappings.body.analysis.errors, []);
      assert.deepEqual(mappings.body.analysis.missing, []);
      const absent = mappings.body.unsyncable.map(
        (f) => `${f.object} ${f.marketo}:${f.dynamics} ${f.effective} ${String(f.optional)}`,
      );
      assert.deepEqual(absent.sort(), [
        'lead->contact leadScore:mkt_leadscore none true',
        'lead->contact microsoftIsDeleted: none true',
        'lead->contact microsoftType: none true',
        'lead->lead microsoftIsDeleted: none true',
        'lead->lead microsoftType: none true',
      ]);
      const score = mappings.body.unsyncable.find((f) => f.marketo === 'leadScore');
      assert.match(score?.reasons[0] ?? '', /Dynamics contact has no field "mkt_leadscore".*optional field/);
      assert.equal(world.marketoByEmail(email(0))[0]?.values['title'], samplePerson(0).title);
    });
  });

  test('a mapped Dynamics column deleted between cycles: the cycle goes on with a warning, the rest syncs, GET mappings says why', async () => {
    await withWorld({ marketo: [0, 1], contacts: [0, 1] }, async (world) => {
      assert.equal((await world.settle()).status, 'succeeded');
      // A customizer deletes the job title column, which the default mapping syncs; the cycle's descriptions are
      // cached from before, so its first read or write meets Dataverse's refusal.
      world.dataverse.deleteColumn('contact', 'jobtitle');
      world.marketo.editPerson(marketoId(world, 0), { firstName: 'Renamed', title: 'New title' });
      const run = await world.cycle();
      assert.equal(run.status, 'succeeded', run.error);
      assert.ok(
        run.warnings?.some((w) => /jobtitle/.test(w)),
        `the run warns about the column: ${JSON.stringify(run.warnings)}`,
      );
      const contact = dynamicsRecord(world, 0);
      assert.equal(contact.values['firstname'], 'Renamed', 'the rest of the person syncs');
      assert.equal('jobtitle' in contact.values, false);
      const mappings = await world.api<{
        unsyncable: Array<{ object: string; marketo: string; dynamics: string; reasons: string[] }>;
        analysis: { missing: string[] };
      }>('GET', `/v1/pipelines/${PIPELINE}/mappings`);
      const title = mappings.body.unsyncable.find((f) => f.object === 'lead->contact' && f.dynamics === 'jobtitle');
      assert.match(title?.reasons.join(' ') ?? '', /has no field "jobtitle"/);
      assert.ok(mappings.body.analysis.missing.some((m) => /jobtitle/.test(m)));
      const idle = await world.cycle();
      assert.equal(idle.status, 'succeeded', idle.error);
      assert.equal((idle.counts['created'] ?? 0) + (idle.counts['updated'] ?? 0), 0, 'and then nothing more to write');
    });
  });

  test("with the extras of Marketo's own sync: the type and deleted flags are set; a secured column is reported and never blanked", async () => {
    await withWorld({ marketo: [0, 1], contacts: [0], leads: [1], extras: true }, async (world) => {
      const contact = dynamicsRecord(world, 0);
      world.dataverse.editRecord('contact', contact.id, { mkt_leadscore: 77 });
      world.marketo.editPerson(marketoId(world, 0), { leadScore: 12 });
      await world.settle();
      assert.equal(world.marketoByEmail(email(0))[0]?.values['microsoftType'], 'contact');
      assert.equal(world.marketoByEmail(email(1))[0]?.values['microsoftType'], 'lead');
      const mappings = await world.api<{
        unsyncable: Array<{ object: string; marketo: string; effective: string; reasons: string[] }>;
      }>('GET', `/v1/pipelines/${PIPELINE}/mappings`);
      const score = mappings.body.unsyncable.find((f) => f.object === 'lead->contact' && f.marketo === 'leadScore');
      assert.equal(score?.effective, 'none');
      assert.match(score?.reasons.join(' ') ?? '', /not readable/);
      assert.ok(!mappings.body.unsyncable.some((f) => f.marketo === 'microsoftType'), 'the flags are there and set');
      world.marketo.editPerson(marketoId(world, 0), { leadScore: 50, title: 'Changed' });
      await world.cycle();
      assert.equal(dynamicsRecord(world, 0).values['mkt_leadscore'], 77);
      assert.equal(world.marketoByEmail(email(0))[0]?.values['leadScore'], 50);
      assert.equal(dynamicsRecord(world, 0).values['jobtitle'], 'Changed');
      // A Dynamics delete sets "Microsoft is Deleted" on the Marketo person.
      world.dataverse.deleteRecord('lead', dynamicsRecord(world, 1).id);
      const run = await world.cycle();
      assert.equal(run.counts['deleted'], 1);
      assert.equal(world.marketoByEmail(email(1))[0]?.values['microsoftIsDeleted'], true);
    });
  });

  test('a reduced field selection: only mapped fields sync; a bad mapping is a clear 400', async () => {
    await withWorld({ marketo: [0], contacts: [0] }, async (world) => {
      const fields = [
        { marketo: 'email', dynamics: 'emailaddress1', direction: 'both' },
        { marketo: 'firstName', dynamics: 'firstname', direction: 'both' },
      ];
      const put = await world.api('PUT', `/v1/pipelines/${PIPELINE}/mappings`, {
        objects: [
          { marketo: 'lead', dynamics: 'contact', fields },
          { marketo: 'lead', dynamics: 'lead', fields },
        ],
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const bad = await world.api<{ status: number; detail: string }>('PUT', `/v1/pipelines/${PIPELINE}/mappings`, {
        objects: [
          {
            marketo: 'lead',
            dynamics: 'contact',
            fields: [...fields, { marketo: 'noSuchField', dynamics: 'jobtitle', direction: 'both' }],
          },
        ],
      });
      assert.equal(bad.status, 400);
      assert.match(bad.body.detail, /noSuchField/);
      await world.settle();
      const before = dynamicsRecord(world, 0).values['jobtitle'];
      world.marketo.editPerson(marketoId(world, 0), { firstName: 'Renamed', title: 'Not synced' });
      await world.cycle();
      assert.equal(dynamicsRecord(world, 0).values['firstname'], 'Renamed');
      assert.equal(dynamicsRecord(world, 0).values['jobtitle'], before);
    });
  });

  test('the installed connectors and policies are listed by GET /v1/plugins', async () => {
    await withWorld({}, async (world) => {
      const plugins = await world.api<Array<{ id: string; kind: string; package: string; version: string }>>(
        'GET',
        '/v1/plugins',
      );
      assert.equal(plugins.status, 200);
      const byId = new Map(plugins.body.map((p) => [p.id, p]));
      assert.deepEqual(
        ['marketo', 'dynamics', 'collision-authority', 'validation-handling'].map((id) => [
          id,
          byId.get(id)?.kind,
          byId.get(id)?.package,
        ]),
        [
          ['marketo', 'connector', '@tandem/connector-marketo'],
          ['dynamics', 'connector', '@tandem/connector-dynamics'],
          ['collision-authority', 'policy', '@tandem/policy-collision-authority'],
          ['validation-handling', 'policy', '@tandem/policy-validation-handling'],
        ],
      );
      assert.ok([...byId.values()].every((p) => /^\d+\.\d+\.\d+/.test(p.version)));
    });
  });

  test('an idle cycle writes nothing anywhere', async () => {
    await withWorld({ marketo: [0, 1, 2], contacts: [2, 3], leads: [4] }, async (world) => {
      await world.settle();
      const marketoBefore = structuredClone(world.marketo.counters.byEndpoint);
      const dataverseBefore = world.dataverse.getCounters();
      const run = await world.cycle();
      assert.equal(run.status, 'succeeded', run.error);
      assert.deepEqual(
        {
          created: run.counts['created'],
          updated: run.counts['updated'],
          rejected: run.counts['rejected'],
          failed: run.counts['failed'],
        },
        { created: 0, updated: 0, rejected: 0, failed: 0 },
      );
      const marketoWrites = (counts: Record<string, number>) =>
        Object.entries(counts)
          .filter(([endpoint]) => endpoint.startsWith('POST'))
          .reduce((n, [, c]) => n + c, 0);
      assert.equal(
        marketoWrites(world.marketo.counters.byEndpoint),
        marketoWrites(marketoBefore),
        'no Marketo write calls',
      );
      const dataverseAfter = world.dataverse.getCounters();
      assert.equal(dataverseAfter.batches, dataverseBefore.batches, 'no Dataverse $batch');
      assert.ok(
        dataverseAfter.requests - dataverseBefore.requests <= 3,
        'an idle cycle reads only the two delta links',
      );
    });
  });
});
