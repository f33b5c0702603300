import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, MongoServerError } from 'mongodb';
import { startTestMongo, type TestMongo } from '../src/testing';
import { AuditRepository, PipelinesRepository, PolicySettingsRepository } from '../src/repositories';
import { SyncStore, type LinkDoc } from '../src/repositories/sync-store';
import type { Mappings } from '../src/sync/mappings';
import { DEFAULT_MAPPINGS, defaultPipeline, migrateFirstVersion } from '../src/pipelines/presets';
import pino from 'pino';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

async function indexNames(db: ReturnType<TestMongo['freshDb']>, collection: string): Promise<string[]> {
  return (await db.collection(collection).listIndexes().toArray()).map((i) => String(i['name'])).sort();
}

test('ensureIndexes creates every collection index, and running it twice is harmless', async () => {
  const db = mongo.freshDb();
  for (let i = 0; i < 2; i++) {
    await new PipelinesRepository(db).ensureIndexes();
    await new PolicySettingsRepository(db).ensureIndexes();
    await new AuditRepository(db).ensureIndexes();
    await new SyncStore(db).ensureIndexes();
  }
  assert.deepEqual(await indexNames(db, 'pipelines'), ['_id_', 'name_unique']);
  assert.deepEqual(await indexNames(db, 'policy_settings'), ['_id_', 'pipeline_policy_unique']);
  assert.deepEqual(await indexNames(db, 'audit'), ['_id_', 'at_desc', 'target_at_desc']);
  assert.deepEqual(await indexNames(db, 'links'), ['_id_', 'left_link', 'link_email', 'link_state', 'right_link']);
});

test('pipelines: a preset is created once and a restart never overwrites what the operator saved', async () => {
  const repo = new PipelinesRepository(mongo.freshDb());
  await repo.ensureIndexes();
  const first = await repo.upsertPreset(defaultPipeline(5));
  assert.deepEqual(first.order, ['marketo', 'dynamics']);
  assert.equal(first.sides['dynamics']?.newRecordsAs, 'lead');
  assert.deepEqual(first.schedule, { intervalMinutes: 5 });
  assert.equal(first.paused, false);

  const narrowed: Mappings = {
    objects: [
      {
        marketo: 'lead',
        dynamics: 'contact',
        fields: [{ marketo: 'email', dynamics: 'emailaddress1', direction: 'both' }],
      },
    ],
  };
  const changed = await repo.setMappings('default', narrowed);
  assert.deepEqual(changed?.before, DEFAULT_MAPPINGS);
  await repo.update('default', { paused: true });

  const again = await repo.upsertPreset(defaultPipeline(0.5));
  assert.deepEqual(again.mappings, narrowed, 'a restart keeps what the operator saved');
  assert.equal(again.paused, true, 'and the pause');
  assert.deepEqual(again.schedule, { intervalMinutes: 0.5 }, 'the schedule follows the environment');
  assert.equal(again.createdAt.getTime(), first.createdAt.getTime());
  assert.equal((await repo.list()).length, 1);
  assert.equal(await repo.get('nope'), null);
  assert.equal(await repo.setMappings('nope', narrowed), null);
});

test('pipelines: a first-version document gains its sides; ids and names are unique', async () => {
  const db = mongo.freshDb();
  const repo = new PipelinesRepository(db);
  await repo.ensureIndexes();
  const at = new Date(0);
  await db.collection('pipelines').insertOne({
    _id: 'default' as unknown as never,
    name: 'Old',
    mappings: DEFAULT_MAPPINGS,
    schedule: { intervalMinutes: 5 },
    newPersonAs: 'lead',
    createdAt: at,
    updatedAt: at,
  });
  const upgraded = await repo.upsertPreset(defaultPipeline(5));
  assert.deepEqual(upgraded.order, ['marketo', 'dynamics']);
  assert.equal(upgraded.legacyFormat, true);
  assert.equal(upgraded.name, 'Old');
  const other = { ...defaultPipeline(5), id: 'other', name: 'Old' };
  assert.equal(await repo.create(other), false, 'a taken name is refused');
  assert.equal(await repo.create({ ...other, name: 'Another' }), true);
  assert.equal(await repo.create({ ...other, name: 'Third' }), false, 'a taken id is refused');
  assert.equal(await repo.delete('other'), true);
});

test('policy settings: set fills defaults on first write, keeps the rest on later ones', async () => {
  const db = mongo.freshDb();
  const repo = new PolicySettingsRepository(db);
  await repo.ensureIndexes();
  const defaults = { enabled: true, settings: { winner: 'marketo' } };
  assert.equal(await repo.get('default', 'collision-authority'), null);

  const first = await repo.set('default', 'collision-authority', { enabled: false }, 'tester', defaults);
  assert.equal(first.before, null);
  assert.equal(first.after.enabled, false);
  assert.deepEqual(first.after.settings, { winner: 'marketo' });
  assert.equal(first.after.updatedBy, 'tester');

  const second = await repo.set(
    'default',
    'collision-authority',
    { settings: { winner: 'dynamics' } },
    'tester',
    defaults,
  );
  assert.equal(second.before?.enabled, false);
  assert.equal(second.after.enabled, false, 'a settings-only patch keeps the toggle');
  assert.deepEqual(second.after.settings, { winner: 'dynamics' });

  await repo.set('other', 'collision-authority', { enabled: true }, 'tester', defaults);
  const listed = await repo.list('default');
  assert.deepEqual(
    listed.map((s) => [s.pipelineId, s.policyId, s.enabled]),
    [['default', 'collision-authority', false]],
  );
  // The unique index guards against a second document for the same pair, whatever its _id.
  await assert.rejects(
    db
      .collection('policy_settings')
      .insertOne({ pipelineId: 'default', policyId: 'collision-authority', enabled: true }),
    (error: unknown) => error instanceof MongoServerError && error.code === 11000,
  );
});

test('audit: entries come back newest first, filtered by target', async () => {
  const repo = new AuditRepository(mongo.freshDb());
  await repo.ensureIndexes();
  await repo.record({
    actor: 'a',
    action: 'policy.update',
    target: 't1',
    before: { enabled: true },
    after: { enabled: false },
  });
  await repo.record({
    actor: 'a',
    action: 'policy.update',
    target: 't1',
    before: { enabled: false },
    after: { enabled: true },
  });
  await repo.record({ actor: 'a', action: 'mappings.replace', target: 't2', before: null, after: null });
  const t1 = await repo.list({ target: 't1' });
  assert.equal(t1.length, 2);
  assert.deepEqual(t1[0]?.after, { enabled: true });
  assert.ok(t1[0]!.at.getTime() >= t1[1]!.at.getTime());
  assert.equal((await repo.list()).length, 3);
});

test('links: a rewrite replaces whole documents, and one cut short by a crash is finished next time', async () => {
  const db = mongo.freshDb();
  const store = new SyncStore(db);
  await store.ensureIndexes();
  const links = store.links;
  const at = new Date('2026-01-01T00:00:00Z');
  const link = (i: number, extra: Partial<LinkDoc> = {}): LinkDoc => ({
    _id: `l${i}`,
    pipelineId: 'p',
    left: { type: 'lead', id: String(i) },
    right: { type: 'lead' },
    email: `p${i}@example.com`,
    state: 'creating',
    snapshot: { firstName: `Old ${i}` },
    createIntent: { side: 'right', at },
    createdAt: at,
    updatedAt: at,
    ...extra,
  });
  const byLeft = (id: string) => links.byIds('p', 'left', [id]);
  assert.deepEqual(await links.insertExceptTaken([link(1), link(2), link(3)]), []);
  // Person 1 is taken: that document comes back, the one beside it is inserted.
  const taken = await links.insertExceptTaken([link(7, { left: { type: 'lead', id: '1' } }), link(8)]);
  assert.deepEqual(
    taken.map((l) => l._id),
    ['l7'],
  );
  assert.equal((await byLeft('8'))[0]?._id, 'l8');

  const { createIntent: _gone, ...linked } = link(1, {
    state: 'linked',
    right: { type: 'lead', id: 'd1' },
    snapshot: { firstName: 'New 1' },
  });
  await links.rewrite('p', [linked]);
  const [one] = await byLeft('1');
  assert.equal(one?.state, 'linked');
  assert.equal(one?.right.id, 'd1');
  assert.deepEqual(one?.snapshot, { firstName: 'New 1' });
  assert.equal(one?.createIntent, undefined, 'fields left out of the new document are gone');
  assert.ok((one?.updatedAt.getTime() ?? 0) > at.getTime());
  assert.equal(await links.journal.countDocuments(), 0, 'the journal entry is dropped once applied');

  // A crash after the journal entry and the delete, before the insert: link 2 is missing until it is finished.
  const two = link(2, { state: 'linked', right: { type: 'lead', id: 'd2' } });
  await links.journal.insertOne({ _id: 'j1', pipelineId: 'p', at, links: [two] });
  await links.collection.deleteOne({ _id: 'l2' });
  assert.equal((await byLeft('2')).length, 0);
  assert.equal(await links.finishRewrites('other-pipeline'), 0, 'another pipeline’s journal is not touched');
  assert.equal(await links.finishRewrites('p'), 1);
  assert.equal((await byLeft('2'))[0]?.right.id, 'd2');
  assert.equal(await links.finishRewrites('p'), 0, 'finishing is idempotent');

  // A person linked by someone else while the old document was away keeps that link.
  const three = link(3, { state: 'linked', right: { type: 'lead', id: 'd3' } });
  await links.journal.insertOne({ _id: 'j2', pipelineId: 'p', at, links: [three, link(4, { state: 'linked' })] });
  await links.collection.deleteOne({ _id: 'l3' });
  await links.insertExceptTaken([
    link(9, { left: { type: 'lead', id: '3' }, state: 'linked', right: { type: 'lead', id: 'pushed' } }),
  ]);
  await links.finishRewrites('p');
  const threes = await byLeft('3');
  assert.deepEqual(
    threes.map((l) => [l._id, l.right.id]),
    [['l9', 'pushed']],
  );
  assert.equal((await byLeft('4'))[0]?._id, 'l4', 'the rest of the entry is still applied');
  assert.equal(await links.journal.countDocuments(), 0);
});

test('links: inserting a batch where some records are taken costs a constant number of commands', async () => {
  const db = mongo.freshDb();
  const store = new SyncStore(db);
  await store.ensureIndexes();
  const at = new Date(0);
  const link = (i: number, right?: string): LinkDoc => ({
    _id: `n${i}`,
    pipelineId: 'p',
    left: { type: 'lead', id: String(i) },
    right: { type: 'lead', ...(right ? { id: right } : {}) },
    state: 'linked',
    snapshot: {},
    createdAt: at,
    updatedAt: at,
  });
  await store.links.insertExceptTaken(Array.from({ length: 40 }, (_, i) => link(i, `r${i}`)));
  const commands: string[] = [];
  const client = new MongoClient(mongo.uri, { monitorCommands: true });
  client.on('commandStarted', (e) => commands.push(e.commandName));
  await client.connect();
  try {
    const watched = new SyncStore(client.db(db.databaseName));
    // 40 new people, 20 of whom collide with a link already there (by either side's record).
    const batch: LinkDoc[] = Array.from({ length: 40 }, (_, i) => ({
      ...link(100 + i),
      ...(i % 2 === 0 ? { left: { type: 'lead', id: String(i) } } : {}),
      _id: `m${i}`,
    }));
    const taken = await watched.links.insertExceptTaken(batch);
    assert.equal(taken.length, 20);
    assert.ok(commands.length <= 6, `${commands.length} commands (${commands.join(', ')}), not one per person`);
    assert.equal(await db.collection<LinkDoc>('links').countDocuments({ _id: { $in: batch.map((d) => d._id) } }), 20);
  } finally {
    await client.close();
  }
});

test('first-version links and activity are converted to sides, crash-safely and once', async () => {
  const db = mongo.freshDb();
  const at = new Date(0);
  await db.collection('links').insertMany([
    {
      _id: 'a' as unknown as never,
      pipelineId: 'default',
      marketoId: '1',
      dynamicsId: 'c1',
      dynamicsType: 'contact',
      state: 'linked',
      snapshot: { email: 'a@x' },
      createdAt: at,
      updatedAt: at,
    },
    {
      _id: 'b' as unknown as never,
      pipelineId: 'default',
      marketoId: '2',
      dynamicsType: 'lead',
      state: 'creating',
      snapshot: {},
      createIntent: { side: 'dynamics', at },
      rejection: { side: 'marketo', code: 'X', message: 'm', at },
      createdAt: at,
      updatedAt: at,
    },
  ]);
  await db.collection('activity').insertMany([
    {
      _id: 'x' as unknown as never,
      pipelineId: 'default',
      at,
      type: 'created',
      marketoId: '1',
      dynamicsId: 'c1',
      dynamicsType: 'contact',
      detail: 'd',
    },
    { _id: 'y' as unknown as never, pipelineId: 'default', at, type: 'updated', marketoId: '2', detail: 'd' },
  ]);
  await db.collection('links').createIndex({ pipelineId: 1, marketoId: 1 }, { name: 'marketo_link' });
  const logger = pino({ level: 'silent' });
  await migrateFirstVersion(db, logger);
  await migrateFirstVersion(db, logger);
  const store = new SyncStore(db);
  await store.ensureIndexes();
  const [a] = await store.links.byIds('default', 'left', ['1']);
  assert.deepEqual(
    [a?.left, a?.right, a?.snapshot],
    [{ type: 'lead', id: '1' }, { type: 'contact', id: 'c1' }, { email: 'a@x' }],
  );
  assert.equal((a as unknown as Record<string, unknown>)['marketoId'], undefined);
  const [b] = await store.links.byIds('default', 'left', ['2']);
  assert.deepEqual([b?.right, b?.createIntent?.side, b?.rejection?.side], [{ type: 'lead' }, 'right', 'left']);
  const activity = await store.activity.list('default', {}, 10);
  assert.deepEqual(activity.map((e) => [e._id, e.left, e.right]).sort(), [
    ['x', { type: 'lead', id: '1' }, { type: 'contact', id: 'c1' }],
    ['y', { type: 'lead', id: '2' }, undefined],
  ]);
  // The first version's unique indexes are dropped where the engine can; where it cannot (jongodb), they are
  // partial on fields no document has any more, so they index nothing and refuse nothing.
  await store.links.insertExceptTaken([
    { ...(a as LinkDoc), _id: 'c', left: { type: 'lead', id: '3' }, right: { type: 'lead' } },
  ]);
  assert.equal((await store.links.byIds('default', 'left', ['3'])).length, 1);
  assert.equal(await db.collection('migration_journal').countDocuments(), 0);
});

test('leases: one holder at a time, even when two instances ask at the same moment', async () => {
  const dbName = mongo.freshDbName();
  const other = new MongoClient(mongo.uri);
  await other.connect();
  try {
    const a = new SyncStore(mongo.client.db(dbName)).leases;
    const b = new SyncStore(other.db(dbName)).leases;
    // Each round races for a lease that does not exist yet, then for one that was just released.
    for (let round = 0; round < 30; round++) {
      const name = `cycle:race-${round}`;
      const fresh = await Promise.all([a.acquire(name, 'A', 30_000), b.acquire(name, 'B', 30_000)]);
      assert.equal(fresh.filter(Boolean).length, 1, `round ${round}: exactly one takes a new lease`);
      const winner = fresh[0] ? 'A' : 'B';
      await (winner === 'A' ? a : b).release(name, winner, false);
      const freed = await Promise.all([a.acquire(name, 'A', 30_000), b.acquire(name, 'B', 30_000)]);
      assert.equal(freed.filter(Boolean).length, 1, `round ${round}: exactly one takes a released lease`);
    }
    // Held means held, for the holder too (no second cycle of one instance); the holder renews; a finished
    // cycle keeps everyone (holder too) out for the gap.
    assert.equal(await a.acquire('cycle:gap', 'A', 30_000), true);
    assert.equal(await a.acquire('cycle:gap', 'A', 30_000), false);
    assert.equal(await a.renew('cycle:gap', 'A', 30_000), true);
    assert.equal(await b.acquire('cycle:gap', 'B', 30_000), false);
    await a.release('cycle:gap', 'A', true);
    assert.equal(await b.acquire('cycle:gap', 'B', 30_000, 60_000), false);
    assert.equal(await a.acquire('cycle:gap', 'A', 30_000, 60_000), false);
    assert.equal(await b.acquire('cycle:gap', 'B', 30_000), true);
    assert.equal((await a.get('cycle:gap'))?.holder, 'B');
  } finally {
    await other.close();
  }
});
