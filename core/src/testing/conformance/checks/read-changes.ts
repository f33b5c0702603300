/**
 * `readChanges`: pages with cursors, `done` on the last page only; a stored cursor resumes where it was taken
 * (changed records come back, unchanged ones do not, except where the harness documents an overlap window);
 * each record once per read (except where it documents repeats); deletes; a cursor read twice.
 */
import assert from 'node:assert/strict';
import type { ChangePage } from '../../../plugin';
import type { ConformanceObject } from '../harness';
import {
  assertRead,
  latest,
  normaliseEmail,
  ObjectKit,
  occurrences,
  type CheckDefinition,
  type Made,
} from '../support';

const overlapNote = (object: ConformanceObject): string[] =>
  object.feed?.overlap ? [`overlap window: ${object.feed.overlap}`] : [];
const repeatsNote = (object: ConformanceObject): string[] =>
  object.feed?.repeats ? [`repeats: ${object.feed.repeats}`] : [];

/** Whether a record unchanged since a cursor may still come back from it (see `ConformanceObject.feed`). */
const mayRepeat = (object: ConformanceObject): boolean =>
  object.feed?.overlap !== undefined || object.feed?.repeats !== undefined;

function pageSizeOf(object: ConformanceObject, check: string): number {
  const size = object.pageSize;
  assert.ok(
    size !== undefined && Number.isInteger(size) && size > 0,
    `the harness gives no pageSize for ${object.objectType}: give the one start() configures, or skip '${check}' with a reason`,
  );
  return size;
}

/** Creates `2 × pageSize + 1` records out of band: an initial load of at least three pages. */
async function fillPages(kit: ObjectKit, pageSize: number): Promise<Made[]> {
  const made: Made[] = [];
  for (let i = 0; i <= 2 * pageSize; i++) made.push(await kit.create(`p${i}`));
  return made;
}

/**
 * Reading an empty remote from `null` yields at least one page (the engine needs a cursor to store), each
 * page with a non-empty string cursor, and ends with a page marked `done` (the first page need not be it) that
 * is the last page yielded, with no records. Reading from that cursor later finds a record created since.
 */
const empty: CheckDefinition = {
  id: 'readChanges.empty',
  scope: 'object',
  fresh: true,
  title:
    'an empty remote: the initial load ends done with a cursor and no records; a record created after it comes from that cursor',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const pages = await kit.read(null);
    const cursor = assertRead(pages, kit.fields, 'the initial load of an empty remote');
    assert.deepEqual(
      pages.flatMap((p) => p.records.map((r) => r.id)),
      [],
      'an empty remote has no records to read',
    );
    const made = await kit.create('a');
    const next = await kit.read(cursor);
    assertRead(next, kit.fields, 'the read from its cursor');
    assert.ok(occurrences(next).has(made.id), 'a record created after the empty load comes back from its cursor');
  },
};

/**
 * With `2 × pageSize + 1` records, the initial load yields at least three pages, each holding at most
 * `pageSize` records and a non-empty cursor, `done` on the last page only (and nothing yielded after it).
 * Every record comes with its values and the requested fields only; each exactly once, unless the harness
 * documents `feed.repeats` (then at least once); no record the remote does not hold.
 */
const paging: CheckDefinition = {
  id: 'readChanges.paging',
  scope: 'object',
  fresh: true,
  title:
    'an initial load of several pages: each page within pageSize with a cursor, done on the last only, every record with its values',
  notes: repeatsNote,
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const pageSize = pageSizeOf(object, 'readChanges.paging');
    const made = await fillPages(kit, pageSize);
    const pages = await kit.read(null);
    assertRead(pages, kit.fields, 'the initial load');
    assert.ok(
      pages.length >= 3,
      `${made.length} records at ${pageSize} a page take at least 3 pages, not ${pages.length}`,
    );
    pages.forEach((page, i) =>
      assert.ok(
        page.records.length <= pageSize,
        `page ${i + 1} holds ${page.records.length} records, over ${pageSize}`,
      ),
    );
    const seen = occurrences(pages);
    for (const record of made) {
      const copies = seen.get(record.id) ?? [];
      assert.ok(copies.length > 0, `record ${record.id} is read`);
      if (!object.feed?.repeats)
        assert.equal(copies.length, 1, `record ${record.id} is read once, not on several pages`);
      const last = latest(seen, record.id);
      assert.equal(normaliseEmail(last?.fields[kit.emailField]), record.email, `record ${record.id}: its email`);
      assert.equal(last?.fields[kit.text], kit.value(record.label), `record ${record.id}: its '${kit.text}'`);
    }
    const ours = new Set(made.map((m) => m.id));
    assert.deepEqual(
      [...seen.keys()].filter((id) => !ours.has(id)),
      [],
      'no records the remote does not hold',
    );
  },
};

/**
 * The cursor of the first page holding records (not `done`) is stored and the read abandoned, as after a
 * crash once that page was saved. One record of that page is then changed in the remote. Reading from the
 * stored cursor to `done` brings every record not read before; the other records read before do not come
 * back, unless the harness documents `feed.overlap` or `feed.repeats`. The changed record comes back with its
 * new value in that read or, at the latest, in the read from its final cursor: a load may page a snapshot
 * taken when it began and end with a cursor from that moment (Dataverse change tracking does), so a change
 * made during the load comes one read later; it must never be lost.
 */
const resume: CheckDefinition = {
  id: 'readChanges.resume',
  scope: 'object',
  fresh: true,
  title:
    'a cursor stored after a page resumes there: the rest comes back, and of what was read only what changed since',
  notes: (object) => [...overlapNote(object), ...repeatsNote(object)],
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const made = await fillPages(kit, pageSizeOf(object, 'readChanges.resume'));
    // Read up to the first page holding records, store its cursor, stop (as a crash after saving that page would).
    const read: ChangePage[] = [];
    const iterator = kit.connector.readChanges(kit.type, null, { fields: kit.fields })[Symbol.asyncIterator]();
    try {
      while (read.length === 0 || (read.at(-1) as ChangePage).records.length === 0) {
        const next = await iterator.next();
        assert.ok(!next.done, 'the initial load ended before reading any record');
        read.push(next.value);
        assert.ok(read.length <= made.length, 'the initial load yields pages without records, on and on');
      }
    } finally {
      await iterator.return?.();
    }
    const stored = read.at(-1) as ChangePage;
    assert.equal(stored.done, false, `a page holding some of ${made.length} records is not done`);
    const before = occurrences(read);
    const changed = (stored.records[0] as { id: string }).id;
    await started.remote.update(kit.type, changed, { [kit.text]: kit.value('changed') });

    const rest = await kit.read(stored.cursor);
    const end = assertRead(rest, kit.fields, 'the read resumed from the stored cursor');
    const seen = occurrences(rest);
    for (const record of made) {
      if (!before.has(record.id))
        assert.ok(seen.has(record.id), `record ${record.id}, not read before the cursor, comes back`);
    }
    const after = seen.has(changed) ? [] : await kit.read(end);
    assert.equal(
      latest(seen, changed)?.fields[kit.text] ?? latest(occurrences(after), changed)?.fields[kit.text],
      kit.value('changed'),
      `record ${changed}, read before the cursor and changed since, comes back with its new value (in the resumed read, or the read after it)`,
    );
    if (!mayRepeat(object)) {
      const again = [...before.keys()].filter((id) => id !== changed && seen.has(id));
      assert.deepEqual(again, [], 'records read before the cursor and unchanged since do not come back');
    }
  },
};

/**
 * From the cursor of a finished read (`done`), a read brings back, with their current values: a record
 * edited in the remote, one updated through the connector's own `write` (the engine has not called `inSync`,
 * so this is no echo to leave out), one created in the remote (its blank writable string `null`). A record
 * deleted since is not among the records. A record unchanged since does not come back, unless the harness
 * documents `feed.overlap`. Only changes to requested fields are made, so a connector may leave out records
 * whose changes touch other fields only.
 */
const incremental: CheckDefinition = {
  id: 'readChanges.incremental',
  scope: 'object',
  title:
    'from a done cursor: records edited in the remote, written through the connector or created since come back with their values; the rest do not',
  notes: overlapNote,
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const [edited, written, unchanged, deleted] = [
      await kit.create('a'),
      await kit.create('b'),
      await kit.create('c'),
      await kit.create('d'),
    ];
    const first = await kit.read(null);
    const cursor = assertRead(first, kit.fields, 'the initial load');
    for (const record of [edited, written, unchanged, deleted]) {
      assert.ok(occurrences(first).has(record.id), `the initial load reads record ${record.id}`);
    }

    await started.remote.update(kit.type, edited.id, { [kit.text]: kit.value('a2') });
    const [result] = await kit.connector.write(kit.type, [
      { kind: 'update', ref: 'b', id: written.id, fields: { [kit.text]: kit.value('b2') } },
    ]);
    assert.equal(result?.status, 'updated', 'the update through the connector is written');
    const created = await kit.create('e', { blankText: true });
    await started.remote.delete(kit.type, deleted.id);

    const pages = await kit.read(cursor);
    assertRead(pages, kit.fields, 'the read from the done cursor');
    const seen = occurrences(pages);
    assert.equal(
      latest(seen, edited.id)?.fields[kit.text],
      kit.value('a2'),
      'a record edited in the remote comes back with its new value',
    );
    assert.equal(
      latest(seen, written.id)?.fields[kit.text],
      kit.value('b2'),
      'a record written through the connector comes back (nothing told it the engine holds that write: no inSync)',
    );
    const fresh = latest(seen, created.id);
    assert.ok(fresh, 'a record created since the cursor comes back');
    assert.equal(normaliseEmail(fresh.fields[kit.emailField]), created.email, 'the created record: its email');
    assert.ok(
      kit.text in fresh.fields && fresh.fields[kit.text] === null,
      `the created record: its blank '${kit.text}' is null`,
    );
    assert.ok(!seen.has(deleted.id), 'a record deleted since the cursor is not among the records');
    if (!object.feed?.overlap)
      assert.ok(!seen.has(unchanged.id), 'a record unchanged since the cursor does not come back');
  },
};

/**
 * A record deleted in the remote after a cursor is in `deletedIds` of the read from that cursor, and not
 * among its records. Skip it, with the reason, for a system that cannot report deletes.
 */
const deletes: CheckDefinition = {
  id: 'readChanges.deletes',
  scope: 'object',
  title: 'a record deleted in the remote since the cursor is in deletedIds',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const made = await kit.create('a');
    const cursor = assertRead(await kit.read(null), kit.fields, 'the initial load');
    await started.remote.delete(kit.type, made.id);
    const pages = await kit.read(cursor);
    assertRead(pages, kit.fields, 'the read from the cursor');
    assert.ok(pages.flatMap((p) => p.deletedIds).includes(made.id), `the deleted record ${made.id} is in deletedIds`);
    assert.ok(!occurrences(pages).has(made.id), 'and not among the records');
  },
};

/**
 * A cursor is a value, not a consumable: reading from the same cursor twice (a cycle retried after its writes
 * failed) hands back the same change both times.
 */
const replay: CheckDefinition = {
  id: 'readChanges.replay',
  scope: 'object',
  title: 'a cursor read from again (a retried cycle) hands back the same changes',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const made = await kit.create('a');
    const cursor = assertRead(await kit.read(null), kit.fields, 'the initial load');
    await started.remote.update(kit.type, made.id, { [kit.text]: kit.value('a2') });
    for (const attempt of ['first', 'second']) {
      const pages = await kit.read(cursor);
      assertRead(pages, kit.fields, `the ${attempt} read from the cursor`);
      assert.equal(
        latest(occurrences(pages), made.id)?.fields[kit.text],
        kit.value('a2'),
        `the ${attempt} read from the cursor hands back the change`,
      );
    }
  },
};

/**
 * With nothing changed since a `done` cursor, the read from it still yields a page with a cursor and ends
 * `done`, with no records and no deletes (records may come back when the harness documents `feed.overlap`).
 */
const idle: CheckDefinition = {
  id: 'readChanges.idle',
  scope: 'object',
  title: 'nothing changed since a done cursor: the read from it ends done with no records and no deletes',
  notes: overlapNote,
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    await kit.create('a');
    const cursor = assertRead(await kit.read(null), kit.fields, 'the initial load');
    const pages = await kit.read(cursor);
    assertRead(pages, kit.fields, 'the read from the done cursor');
    if (!object.feed?.overlap) {
      assert.deepEqual(
        pages.flatMap((p) => p.records.map((r) => r.id)),
        [],
        'no records: nothing changed',
      );
      assert.deepEqual(
        pages.flatMap((p) => p.deletedIds),
        [],
        'no deletes: nothing was deleted',
      );
    }
  },
};

export const READ_CHANGES_CHECKS = [empty, paging, resume, incremental, deletes, replay, idle];
