/**
 * The change feed against the sandbox: the first read reads every record, in batches through nextRecordsUrl;
 * changes in the same second as the cursor are not lost and unchanged records do not come back; deletes and
 * merges; the delete log's window; converted Leads; the loop guard; and what an idle read costs.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTandemError } from '@tandem/core/plugin';
import { apiCalls, CONTACT_FIELDS, LEAD_FIELDS, readAll, withHarness } from './helpers';

const DAY = 24 * 3600 * 1000;

describe('first read and paging', () => {
  test('the first read hands every record once, in pages through nextRecordsUrl, one call per batch', async () => {
    await withHarness({}, async (h) => {
      for (let i = 0; i < 450; i++) {
        h.sandbox.createRecord('Contact', { LastName: `Page${i}`, Email: `page.${i}@example.com` });
      }
      const c = h.connector({ pageSize: 200 });
      await c.describe('Contact');
      h.sandbox.resetCounters();
      const { pages, ids } = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      assert.equal(pages.length, 3);
      assert.deepEqual(
        pages.map((p) => p.records.length),
        [200, 200, 50],
      );
      assert.equal(new Set(ids).size, 450);
      assert.deepEqual(pages.at(-1)?.progress, { phase: 'initial', recordsSoFar: 450, estimatedTotal: 450 });
      const counters = h.sandbox.getCounters();
      assert.equal(counters.byKind.query + counters.byKind.queryMore, 3, 'a query, then two nextRecordsUrl batches');
      assert.equal(counters.apiRequests, 3);
    });
  });

  test('a page cursor whose query locator expired: the read goes on from its last record', async () => {
    await withHarness({}, async (h) => {
      for (let i = 0; i < 450; i++) h.sandbox.createRecord('Contact', { LastName: `Loc${i}` });
      const c = h.connector({ pageSize: 200 });
      const iterator = c.readChanges('Contact', null, { fields: CONTACT_FIELDS })[Symbol.asyncIterator]();
      const first = await iterator.next();
      await iterator.return?.();
      assert.ok(!first.done && !first.value.done);
      h.sandbox.expireQueryCursors();
      const rest = await readAll(c, 'Contact', first.value.cursor, CONTACT_FIELDS);
      const firstIds = new Set(first.value.records.map((r) => r.id));
      assert.equal(rest.ids.length, 250);
      assert.ok(
        rest.ids.every((id) => !firstIds.has(id)),
        'nothing handed twice',
      );
      assert.equal(new Set([...firstIds, ...rest.ids]).size, 450);
    });
  });

  test('requested fields only; a blank one is null; a Lead without a company reads as blank (the placeholder)', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector();
      const [created] = await c.write('Lead', [
        { kind: 'create', ref: 'x', fields: { Email: 'no.company@example.com', FirstName: 'Ada' } },
      ]);
      assert.equal(created?.status, 'created');
      const id = created?.status === 'created' ? created.id : '';
      assert.equal(h.sandbox.getRecord('Lead', id)?.values.Company, '[not provided]');
      const { pages } = await readAll(c, 'Lead', null, LEAD_FIELDS);
      const record = pages.flatMap((p) => p.records).find((r) => r.id === id);
      assert.deepEqual(record?.fields, {
        FirstName: 'Ada',
        LastName: null,
        Email: 'no.company@example.com',
        Company: null,
        Title: null,
      });
    });
  });
});

describe('incremental reads', () => {
  test('changes in the same second as the cursor are not lost; unchanged records do not come back', async () => {
    await withHarness({}, async (h) => {
      // One frozen second: every record, every change and every read share one SystemModstamp.
      h.sandbox.setClock(Date.now(), { frozen: true });
      const a = h.sandbox.createRecord('Contact', { LastName: 'Same', Title: 'before' });
      const b = h.sandbox.createRecord('Contact', { LastName: 'Kept', Title: 'kept' });
      const c = h.connector();
      const first = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      assert.deepEqual(new Set(first.ids), new Set([a.id, b.id]));

      h.sandbox.editRecord('Contact', a.id, { Title: 'after' });
      const late = h.sandbox.createRecord('Contact', { LastName: 'Late' });
      const second = await readAll(c, 'Contact', first.cursor, CONTACT_FIELDS);
      assert.deepEqual(new Set(second.ids), new Set([a.id, late.id]), 'the edit and the create of that second');
      assert.equal(second.pages.flatMap((p) => p.records).find((r) => r.id === a.id)?.fields.Title, 'after');

      const third = await readAll(c, 'Contact', second.cursor, CONTACT_FIELDS);
      assert.deepEqual(third.ids, [], 'nothing changed since: nothing comes back');
      assert.deepEqual(third.deleted, []);
    });
  });

  test('a record saved with an older stamp than the newest seen (a late commit) is still read', async () => {
    await withHarness({}, async (h) => {
      const start = Date.now();
      h.sandbox.setClock(start, { frozen: true });
      h.sandbox.createRecord('Contact', { LastName: 'Early' });
      const c = h.connector();
      const first = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      // A transaction that began 30 seconds before the read commits now, its records stamped then.
      h.sandbox.setClock(start - 30_000, { frozen: true });
      const late = h.sandbox.createRecord('Contact', { LastName: 'LateCommit' });
      h.sandbox.setClock(start + 5_000, { frozen: true });
      const second = await readAll(c, 'Contact', first.cursor, CONTACT_FIELDS);
      assert.deepEqual(second.ids, [late.id]);
    });
  });

  test('deletes and merges: the deleted and the merged-away are deletes, the merge winner a change', async () => {
    await withHarness({}, async (h) => {
      const [winner, loser, other, gone] = ['Win', 'Lose', 'Other', 'Gone'].map((n) =>
        h.sandbox.createRecord('Contact', { LastName: n, Email: `${n.toLowerCase()}@example.com` }),
      );
      const c = h.connector();
      const first = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      assert.equal(first.ids.length, 4);
      h.sandbox.deleteRecord('Contact', gone?.id ?? '');
      h.sandbox.merge('Contact', winner?.id ?? '', [loser?.id ?? ''], { Title: 'merged' });
      const second = await readAll(c, 'Contact', first.cursor, CONTACT_FIELDS);
      assert.deepEqual(new Set(second.deleted), new Set([gone?.id, loser?.id]));
      assert.deepEqual(second.ids, [winner?.id]);
      assert.equal(second.pages[0]?.records[0]?.fields.Title, 'merged');
      assert.ok(!second.ids.includes(other?.id ?? ''));
      const third = await readAll(c, 'Contact', second.cursor, CONTACT_FIELDS);
      assert.deepEqual([third.ids, third.deleted], [[], []], 'each delete reported once');
    });
  });

  test('records deleted before the first read are not reported as deletes after it', async () => {
    await withHarness({}, async (h) => {
      const old = h.sandbox.createRecord('Contact', { LastName: 'Old' });
      h.sandbox.deleteRecord('Contact', old.id);
      h.sandbox.createRecord('Contact', { LastName: 'Alive' });
      const c = h.connector();
      const first = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      assert.equal(first.ids.length, 1);
      assert.deepEqual(first.deleted, []);
      const second = await readAll(c, 'Contact', first.cursor, CONTACT_FIELDS);
      assert.deepEqual([second.ids, second.deleted], [[], []]);
    });
  });

  test('the delete log is read once a minute has passed, and a delete it lists comes once', async () => {
    await withHarness({}, async (h) => {
      const start = Date.now();
      h.sandbox.setClock(start, { frozen: true });
      const made = h.sandbox.createRecord('Contact', { LastName: 'Logged' });
      const c = h.connector();
      const first = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      h.sandbox.deleteRecord('Contact', made.id);
      h.sandbox.advanceClock(3 * 60_000);
      await c.check(); // as the engine does before each cycle: it also tells the org's time, moved here by the test
      h.sandbox.resetCounters();
      const second = await readAll(c, 'Contact', first.cursor, CONTACT_FIELDS);
      assert.deepEqual(second.deleted, [made.id]);
      assert.equal(h.sandbox.getCounters().byKind.deleted, 1, 'the delete log was read');
      h.sandbox.advanceClock(3 * 60_000);
      await c.check();
      const third = await readAll(c, 'Contact', second.cursor, CONTACT_FIELDS);
      assert.deepEqual(third.deleted, [], 'and not again');
    });
  });

  test('a record emptied from the Recycle Bin (queryAll cannot show it): the delete log reports it', async () => {
    await withHarness({}, async (h) => {
      const start = Date.now();
      h.sandbox.setClock(start, { frozen: true });
      const made = h.sandbox.createRecord('Contact', { LastName: 'Emptied' });
      const c = h.connector();
      const first = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      h.sandbox.deleteRecord('Contact', made.id);
      // The sandbox has no control for emptying the Recycle Bin: its store stands in for the administrator (the
      // record leaves the bin, its entry stays in the delete log).
      h.sandbox.store.table('Contact').delete(made.id);
      h.sandbox.advanceClock(3 * 60_000);
      await c.check();
      const second = await readAll(c, 'Contact', first.cursor, CONTACT_FIELDS);
      assert.deepEqual([second.ids, second.deleted], [[], [made.id]]);
    });
  });

  test('a cursor older than the delete log (15 days): CursorExpiredError, never deletes lost in silence; a new read from the start works on', async () => {
    await withHarness({}, async (h) => {
      const made = h.sandbox.createRecord('Contact', { LastName: 'Ancient' });
      const c = h.connector();
      const first = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      h.sandbox.deleteRecord('Contact', made.id);
      h.sandbox.advanceClock(16 * DAY);
      await c.check(); // a new session (the old one timed out), and the org's clock
      await assert.rejects(
        readAll(c, 'Contact', first.cursor, CONTACT_FIELDS),
        (e: unknown) =>
          isTandemError(e) && e.code === 'CURSOR_EXPIRED' && /15 days/.test(e.message) && /full read/.test(e.message),
      );
      const again = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      assert.deepEqual(again.ids, []);
      h.sandbox.advanceClock(5 * 60_000);
      const fresh = h.sandbox.createRecord('Contact', { LastName: 'Fresh' });
      const next = await readAll(c, 'Contact', again.cursor, CONTACT_FIELDS);
      assert.deepEqual(next.ids, [fresh.id]);
    });
  });

  test('a converted Lead has become a Contact: gone from the Leads (a delete), never read or found as a Lead', async () => {
    await withHarness({}, async (h) => {
      const lead = h.sandbox.createRecord('Lead', {
        LastName: 'Convert',
        Company: 'Acme',
        Email: 'convert@example.com',
      });
      const converted = h.sandbox.createRecord('Lead', {
        LastName: 'Already',
        Company: 'Acme',
        Email: 'already@example.com',
        IsConverted: true,
      });
      const c = h.connector();
      const first = await readAll(c, 'Lead', null, LEAD_FIELDS);
      assert.deepEqual(first.ids, [lead.id], 'a Lead converted earlier is not read');
      h.sandbox.editRecord('Lead', lead.id, { IsConverted: true });
      h.sandbox.createRecord('Contact', { LastName: 'Convert', Email: 'convert@example.com' });
      const second = await readAll(c, 'Lead', first.cursor, LEAD_FIELDS);
      assert.deepEqual([second.ids, second.deleted], [[], [lead.id]]);
      assert.deepEqual(await c.get('Lead', [lead.id, converted.id], { fields: LEAD_FIELDS }), []);
      assert.deepEqual(await c.findByEmail('Lead', ['convert@example.com'], { fields: LEAD_FIELDS }), []);
      assert.equal((await c.findByEmail('Contact', ['convert@example.com'], { fields: CONTACT_FIELDS })).length, 1);
      assert.deepEqual(c.supersedes, { Contact: ['Lead'] });
    });
  });
});

describe('the loop guard', () => {
  test('our write, confirmed by the engine, does not come back; a change by someone else since does', async () => {
    await withHarness({}, async (h) => {
      const a = h.sandbox.createRecord('Contact', { LastName: 'A', Email: 'a@example.com', Title: 't0' });
      const b = h.sandbox.createRecord('Contact', { LastName: 'B', Email: 'b@example.com', Title: 't0' });
      const c = h.connector();
      const first = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      const results = await c.write('Contact', [
        { kind: 'update', ref: 'a', id: a.id, fields: { Title: 'written' } },
        { kind: 'update', ref: 'b', id: b.id, fields: { Title: 'written' } },
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['updated', 'updated'],
      );
      const holds = (r: { id: string }, email: string, last: string) =>
        [r.id, { FirstName: null, LastName: last, Email: email, Title: 't0' }] as const;
      c.inSync('Contact', [a.id, b.id], new Map([holds(a, 'a@example.com', 'A'), holds(b, 'b@example.com', 'B')]));
      h.sandbox.editRecord('Contact', b.id, { FirstName: 'Someone' });
      const second = await readAll(c, 'Contact', first.cursor, CONTACT_FIELDS);
      assert.deepEqual(second.ids, [b.id], "b changed since our write; a is our own write's echo");
      assert.equal(c.stats().echoesSkipped, 1);
    });
  });

  test('without the confirmation, our write comes back (the engine has not saved it yet); with it, not', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector();
      const first = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      const [made] = await c.write('Contact', [
        { kind: 'create', ref: 'n', fields: { LastName: 'New', Email: 'new@example.com', Title: 't' } },
      ]);
      assert.ok(made?.status === 'created');
      const second = await readAll(c, 'Contact', first.cursor, CONTACT_FIELDS);
      assert.deepEqual(second.ids, [made.id], 'not confirmed: read as usual');
      // Written again and confirmed this time: a record we created holds what we wrote, and nothing else.
      const [again] = await c.write('Contact', [{ kind: 'update', ref: 'n2', id: made.id, fields: { Title: 't2' } }]);
      assert.equal(again?.status, 'updated');
      c.inSync(
        'Contact',
        [made.id],
        new Map([[made.id, { FirstName: null, LastName: 'New', Email: 'new@example.com', Title: 't' }]]),
      );
      const third = await readAll(c, 'Contact', second.cursor, CONTACT_FIELDS);
      assert.deepEqual(third.ids, [], 'confirmed: its echo is left out');
    });
  });
});

describe('what an idle read costs', () => {
  test('nothing changed: one call per object type (two once a minute passed, for the delete log), whatever the number of records', async () => {
    await withHarness({}, async (h) => {
      for (let i = 0; i < 1500; i++) h.sandbox.createRecord('Contact', { LastName: `Idle${i}` });
      for (let i = 0; i < 500; i++) h.sandbox.createRecord('Lead', { LastName: `Idle${i}`, Company: 'Acme' });
      const c = h.connector();
      const contacts = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      const leads = await readAll(c, 'Lead', null, LEAD_FIELDS);
      let cursors = { contacts: contacts.cursor, leads: leads.cursor };
      const cycle = async () => {
        await c.check();
        const a = await readAll(c, 'Contact', cursors.contacts, CONTACT_FIELDS);
        const b = await readAll(c, 'Lead', cursors.leads, LEAD_FIELDS);
        assert.deepEqual([a.ids, a.deleted, b.ids, b.deleted], [[], [], [], []], 'nothing changed');
        cursors = { contacts: a.cursor, leads: b.cursor };
      };
      assert.equal(await apiCalls(h.sandbox, cycle), 2, 'check() is free; one queryAll each');
      h.sandbox.advanceClock(5 * 60_000);
      await c.check(); // as the engine does before each cycle: it also tells the org's time, moved by the test
      assert.equal(await apiCalls(h.sandbox, cycle), 4, 'and the delete log of each, once a minute passed');
    });
  });
});
