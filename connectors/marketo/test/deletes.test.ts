/**
 * Deletes come through Get Deleted Leads (activity type 37), read beside the change feed from a paging token of
 * its own held in the cursor: `leadchanges` never reports a delete, so a lead deleted without a change in the
 * window was never reported. Counted: what the second feed costs a read.
 */
import 'reflect-metadata';
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangePage } from '@tandem/core/plugin';
import { FIELDS, collect, startHarness, type Harness } from './helpers';

const LEAD_CHANGES = 'GET /v1/activities/leadchanges.json';
const DELETED_LEADS = 'GET /v1/activities/deletedleads.json';

const deletedIn = (pages: readonly ChangePage[]) => pages.flatMap((p) => p.deletedIds);
const recordsIn = (pages: readonly ChangePage[]) => pages.flatMap((p) => p.records.map((r) => r.id));

describe('deletes through Get Deleted Leads', () => {
  let h: Harness;
  /** The cursor of a read that has seen everything so far. */
  let cursor = '';
  const read = (from: string | null) => collect(h.connector.readChanges('lead', from, { fields: FIELDS }));
  const last = (pages: readonly ChangePage[]) => pages.at(-1)?.cursor ?? '';

  before(async () => {
    // Pacing (the sandbox's and the connector's) is not what these tests are about.
    const limits = { callsPerWindow: 100_000 };
    h = await startHarness({ seed: false, limits }, { limits });
    // What these tests do to the instance is dated a minute back, so a paging token taken now starts after it
    // (Marketo dates are whole seconds; see the last test).
    const clock = h.sandbox.store.now;
    h.sandbox.store.now = () => clock() - 60_000;
    h.sandbox.seed(20);
  });
  beforeEach(async () => {
    cursor = last(await read(cursor || null));
    h.sandbox.resetCounters();
  });
  after(() => h.close());

  test('a read with nothing changed costs one call of each feed, and ends done with nothing', async () => {
    const pages = await read(cursor);
    assert.deepEqual(
      pages.map((p) => [p.records.length, p.deletedIds.length, p.done]),
      [[0, 0, true]],
    );
    assert.deepEqual(h.sandbox.counters.byEndpoint, { [LEAD_CHANGES]: 1, [DELETED_LEADS]: 1 });
  });

  test('a lead deleted with no change since the cursor is reported deleted, in the same two calls', async () => {
    assert.ok(h.sandbox.deletePerson(3));
    const pages = await read(cursor);
    assert.deepEqual(deletedIn(pages), ['3']);
    assert.deepEqual(recordsIn(pages), []);
    assert.equal(pages.at(-1)?.done, true);
    assert.deepEqual(h.sandbox.counters.byEndpoint, { [LEAD_CHANGES]: 1, [DELETED_LEADS]: 1 });
    // Its own token moved on: the next read does not report it again.
    assert.deepEqual(deletedIn(await read(last(pages))), []);
  });

  test('a lead changed and then deleted is reported deleted once, though both feeds name it', async () => {
    h.sandbox.editPerson(4, { title: 'Changed before it went' });
    h.sandbox.deletePerson(4);
    const pages = await read(cursor);
    assert.deepEqual(deletedIn(pages), ['4']);
    assert.deepEqual(recordsIn(pages), []);
  });

  test('deletes past one page: each page holds the deletes token, and a read resumed from it reads the rest', async () => {
    const made = Array.from({ length: 320 }, (_, i) => h.sandbox.createPerson({ email: `gone.${i}@example.com` }));
    cursor = last(await read(cursor));
    for (const person of made) h.sandbox.deletePerson(person.id);
    const pages = await read(cursor);
    const ids = made.map((p) => String(p.id));
    assert.deepEqual(deletedIn(pages), ids);
    // 320 activities at 300 a page (Get Deleted Leads pages as every activities endpoint does).
    const withDeletes = pages.filter((p) => p.deletedIds.length > 0);
    assert.deepEqual(
      withDeletes.map((p) => [p.deletedIds.length, p.done]),
      [
        [300, false],
        [20, true],
      ],
    );
    const resumed = await read((withDeletes[0] as ChangePage).cursor);
    assert.deepEqual(deletedIn(resumed), ids.slice(300), 'the rest, and only the rest');
    cursor = last(pages);
  });

  test('a cursor stored before deletes were read (no deletes token) reads them from its change token', async () => {
    const stored = JSON.parse(cursor) as Record<string, unknown>;
    delete stored.deletes;
    h.sandbox.deletePerson(5);
    const pages = await read(JSON.stringify(stored));
    assert.deepEqual(deletedIn(pages), ['5']);
  });

  test('a lead deleted during the initial load, after the scan read it, is reported deleted', async () => {
    const old = h.sandbox.createPerson({ email: 'old.timer@example.com' });
    const id = String(old.id);
    const fresh = h.connect();
    // Read up to the scan's page holding it, store that page's cursor, stop (as a crash after saving it would).
    let stored: ChangePage | undefined;
    const iterator = fresh.readChanges('lead', null, { fields: FIELDS })[Symbol.asyncIterator]();
    try {
      while (!stored?.records.some((r) => r.id === id)) {
        const next = await iterator.next();
        assert.ok(!next.done && next.value.progress?.phase === 'initial', `the scan reads lead ${id}`);
        stored = next.value;
      }
    } finally {
      await iterator.return?.();
    }
    // Deleted now, after the load's paging token: the Delete Lead comes after it, the New Lead before it.
    const clock = h.sandbox.store.now;
    h.sandbox.store.now = () => Date.now();
    try {
      h.sandbox.deletePerson(old.id);
    } finally {
      h.sandbox.store.now = clock;
    }
    const rest = await collect(fresh.readChanges('lead', stored.cursor, { fields: FIELDS }));
    assert.deepEqual(deletedIn(rest), [id]);
  });
});
