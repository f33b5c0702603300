/**
 * What the in-memory connector does beyond the conformance suite, which engine tests rely on: the loop guard,
 * expired and foreign cursors, a load that records are created during, request counts, the activity log,
 * business rules and system timestamps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTandemError, type ChangePage } from '../src/plugin';
import { MemoryConnector, memoryPeopleObject, MemorySystem, type WriteAttempt } from '../src/testing';

const FIELDS = ['email', 'title'];

async function read(connector: MemoryConnector, cursor: string | null, fields = FIELDS): Promise<ChangePage[]> {
  const pages: ChangePage[] = [];
  for await (const page of connector.readChanges('contact', cursor, { fields })) pages.push(page);
  return pages;
}

const ids = (pages: readonly ChangePage[]) => pages.flatMap((p) => p.records.map((r) => r.id));
const last = (pages: readonly ChangePage[]) => pages[pages.length - 1] as ChangePage;

function start(options: { pageSize?: number; now?: () => Date } = {}) {
  const system = new MemorySystem({
    objects: [memoryPeopleObject('contact', { etags: true, fieldTimes: true })],
    ...(options.now ? { now: options.now } : {}),
  });
  return { system, connector: new MemoryConnector(system, { pageSize: options.pageSize ?? 10 }) };
}

test('loop guard: a confirmed write is left out of the next read once; unconfirmed or changed-since ones are read', async () => {
  const { system, connector } = start();
  const [a, b, c] = ['a', 'b', 'c'].map((n) => system.create('contact', { email: `${n}@example.com` }));
  const cursor = last(await read(connector, null)).cursor;
  const results = await connector.write(
    'contact',
    [a, b, c].map((id, i) => ({
      kind: 'update' as const,
      ref: String(i),
      id: id as string,
      fields: { title: 'Synced' },
    })),
  );
  assert.deepEqual(
    results.map((r) => r.status),
    ['updated', 'updated', 'updated'],
  );
  connector.inSync('contact', [a as string, c as string]);
  system.update('contact', c as string, { title: 'Changed by someone' });

  assert.deepEqual(ids(await read(connector, cursor)).sort(), [b, c].sort(), 'a is our echo: left out');
  assert.equal(connector.stats().echoesSkipped, 1);
  assert.ok(ids(await read(connector, cursor)).includes(a as string), 'left out once: a retried read has it');
});

test('a cursor of another instance, or taken before the cursors expired, is a CursorExpiredError; garbage is a 400', async () => {
  const { system, connector } = start();
  system.create('contact', { email: 'a@example.com' });
  const cursor = last(await read(connector, null)).cursor;
  const other = new MemoryConnector(new MemorySystem({ objects: [memoryPeopleObject('contact')] }));
  const expired = (e: unknown) => isTandemError(e) && e.code === 'CURSOR_EXPIRED';
  await assert.rejects(read(other, cursor), expired, 'another instance');
  system.expireCursors();
  await assert.rejects(read(connector, cursor), expired, 'expired');
  const fresh = last(await read(connector, null)).cursor;
  assert.deepEqual(ids(await read(connector, fresh)), [], 'a cursor taken since is good');
  await assert.rejects(read(connector, '{not json'), (e: unknown) => isTandemError(e) && e.status === 400);
});

test('a record created during an initial load comes once, with the changes after the scan', async () => {
  const { system, connector } = start({ pageSize: 2 });
  for (const n of [1, 2, 3]) system.create('contact', { email: `p${n}@example.com` });
  const pages: ChangePage[] = [];
  let late = '';
  for await (const page of connector.readChanges('contact', null, { fields: FIELDS })) {
    pages.push(page);
    if (pages.length === 1) late = system.create('contact', { email: 'late@example.com' });
  }
  assert.deepEqual(
    pages.map((p) => [p.progress?.phase, p.records.length, p.done]),
    [
      ['initial', 2, false],
      ['initial', 1, false],
      ['incremental', 1, true],
    ],
  );
  assert.deepEqual(
    ids(pages).filter((id) => id === late),
    [late],
  );
});

test('one request per call and per page; none for empty lists', async () => {
  const { system, connector } = start({ pageSize: 2 });
  const made = [1, 2, 3, 4, 5].map((n) => system.create('contact', { email: `p${n}@example.com` }));
  await read(connector, null);
  assert.equal(connector.stats().requests, 3, 'five records at two a page');
  await connector.get('contact', made, { fields: FIELDS });
  await connector.findByEmail('contact', ['p1@example.com', 'p2@example.com'], { fields: FIELDS });
  await connector.write('contact', [
    { kind: 'create', ref: 'a', fields: { email: 'a@example.com' } },
    { kind: 'update', ref: 'b', id: made[0] as string, fields: { title: 'T' } },
  ]);
  assert.equal(connector.stats().requests, 6);
  await connector.get('contact', [], { fields: FIELDS });
  await connector.findByEmail('contact', [' '], { fields: FIELDS });
  await connector.write('contact', []);
  assert.equal(connector.stats().requests, 6);
});

test('activity events are kept per object type; an unknown object type is a 400 naming it', async () => {
  const { system, connector } = start();
  const id = system.create('contact', { email: 'a@example.com' });
  const event = { recordId: id, type: 'rejected' as const, at: '2024-05-01T10:00:00.000Z', summary: 'Rejected' };
  await connector.logActivity('contact', [event]);
  assert.deepEqual(system.activities.get('contact'), [event]);
  await assert.rejects(
    connector.get('account', [id], { fields: FIELDS }),
    (e: unknown) => isTandemError(e) && e.status === 400 && /account/.test(e.message),
  );
});

test('business rules see the values written and what the record held; the system keeps its timestamps', async () => {
  const attempts: WriteAttempt[] = [];
  const clock = { now: Date.parse('2024-05-01T10:00:00.000Z') };
  const system = new MemorySystem({
    now: () => new Date(clock.now),
    objects: [
      memoryPeopleObject('contact', {
        fieldTimes: true,
        rules: [
          (attempt) => {
            attempts.push(attempt);
            return attempt.fields['title'] === 'CEO' ? { code: 'RULE', message: 'no CEOs' } : undefined;
          },
        ],
      }),
    ],
  });
  const connector = new MemoryConnector(system);
  const id = system.create('contact', { email: 'a@example.com', title: 'Analyst' });
  clock.now += 60_000;
  const results = await connector.write('contact', [
    { kind: 'update', ref: 'a', id, fields: { title: 'CEO' } },
    { kind: 'update', ref: 'b', id, fields: { firstName: 'Ada' } },
  ]);
  assert.deepEqual(results[0], { ref: 'a', status: 'rejected', code: 'RULE', message: 'no CEOs' });
  assert.equal(results[1]?.status, 'updated');
  assert.equal(attempts[0]?.current?.['title'], 'Analyst');
  assert.deepEqual(attempts[1]?.fields, { firstName: 'Ada' });
  const [record] = await connector.get('contact', [id], { fields: ['title', 'firstName', 'createdAt', 'updatedAt'] });
  assert.deepEqual(record?.fields, {
    title: 'Analyst',
    firstName: 'Ada',
    createdAt: '2024-05-01T10:00:00.000Z',
    updatedAt: '2024-05-01T10:01:00.000Z',
  });
  assert.equal(record?.modifiedAt, '2024-05-01T10:01:00.000Z');
  assert.deepEqual(record?.fieldModifiedAt, {
    title: '2024-05-01T10:00:00.000Z',
    firstName: '2024-05-01T10:01:00.000Z',
    createdAt: '2024-05-01T10:00:00.000Z',
    updatedAt: '2024-05-01T10:01:00.000Z',
  });
});
