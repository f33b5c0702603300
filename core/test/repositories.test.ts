import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, MongoServerError } from 'mongodb';
import { startTestMongo, type TestMongo } from '../src/testing';
import { AuditRepository, PipelinesRepository, PolicySettingsRepository } from '../src/repositories';
import { SyncStore, type LinkDoc } from '../src/repositories/sync-store';
import { DEFAULT_MAPPINGS, type Mappings } from '../src/sync/mappings';

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
  assert.ok((await indexNames(db, 'links')).includes('marketo_link'));
});

test('pipelines: upsertDefault is idempotent and never overwrites saved mappings', async () => {
  const repo = new PipelinesRepository(mongo.freshDb());
  await repo.ensureIndexes();
  const first = await repo.upsertDefault({
    id: 'default',
    name: 'Default',
    mappings: DEFAULT_MAPPINGS,
    intervalMinutes: 5,
  });
  assert.equal(first.newPersonAs, 'lead');
  assert.deepEqual(first.schedule, { intervalMinutes: 5 });

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

  const again = await repo.upsertDefault({
    id: 'default',
    name: 'Default',
    mappings: DEFAULT_MAPPINGS,
    intervalMinutes: 0.5,
  });
  assert.deepEqual(again.mappings, narrowed, 'a restart keeps what the operator saved');
  assert.deepEqual(again.schedule, { intervalMinutes: 0.5 }, 'the schedule follows the environment');
  assert.equal(again.createdAt.getTime(), first.createdAt.getTime());
  assert.equal((await repo.list()).length, 1);
  assert.equal(await repo.get('nope'), null);
  assert.equal(await repo.setMappings('nope', narrowed), null);
});

test('pipelines: names are unique', async () => {
  const repo = new PipelinesRepository(mongo.freshDb());
  await repo.ensureIndexes();
  await repo.upsertDefault({ id: 'a', name: 'Same', mappings: DEFAULT_MAPPINGS, intervalMinutes: 5 });
  await assert.rejects(
    repo.upsertDefault({ id: 'b', name: 'Same', mappings: DEFAULT_MAPPINGS, intervalMinutes: 5 }),
    (error: unknown) => error instanceof MongoServerError && error.code === 11000,
  );
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
  const at = new Date('2026-01-01T00:00:00Z');
  const link = (i: number, extra: Partial<LinkDoc> = {}): LinkDoc => ({
    _id: `l${i}`,
    pipelineId: 'p',
    marketoId: String(i),
    dynamicsType: 'lead',
    email: `p${i}@example.com`,
    state: 'creating',
    snapshot: { firstName: `Old ${i}` },
    createIntent: { side: 'dynamics', at },
    createdAt: at,
    updatedAt: at,
    ...extra,
  });
  assert.deepEqual(await store.insertLinksExceptTaken([link(1), link(2), link(3)]), []);
  // Person 1 is taken: that document comes back, the one beside it is inserted.
  const taken = await store.insertLinksExceptTaken([link(7, { marketoId: '1' }), link(8)]);
  assert.deepEqual(
    taken.map((l) => l._id),
    ['l7'],
  );
  assert.equal((await store.linksByMarketoIds('p', ['8']))[0]?._id, 'l8');

  const { createIntent: _gone, ...linked } = link(1, {
    state: 'linked',
    dynamicsId: 'd1',
    snapshot: { firstName: 'New 1' },
  });
  await store.rewriteLinks('p', [linked]);
  const [one] = await store.linksByMarketoIds('p', ['1']);
  assert.equal(one?.state, 'linked');
  assert.equal(one?.dynamicsId, 'd1');
  assert.deepEqual(one?.snapshot, { firstName: 'New 1' });
  assert.equal(one?.createIntent, undefined, 'fields left out of the new document are gone');
  assert.ok((one?.updatedAt.getTime() ?? 0) > at.getTime());
  assert.equal(await store.linkJournal.countDocuments(), 0, 'the journal entry is dropped once applied');

  // A crash after the journal entry and the delete, before the insert: link 2 is missing until it is finished.
  const two = link(2, { state: 'linked', dynamicsId: 'd2' });
  await store.linkJournal.insertOne({ _id: 'j1', pipelineId: 'p', at, links: [two] });
  await store.links.deleteOne({ _id: 'l2' });
  assert.equal((await store.linksByMarketoIds('p', ['2'])).length, 0);
  assert.equal(await store.finishLinkRewrites('other-pipeline'), 0, 'another pipeline’s journal is not touched');
  assert.equal(await store.finishLinkRewrites('p'), 1);
  assert.equal((await store.linksByMarketoIds('p', ['2']))[0]?.dynamicsId, 'd2');
  assert.equal(await store.finishLinkRewrites('p'), 0, 'finishing is idempotent');

  // A person linked by someone else while the old document was away keeps that link.
  const three = link(3, { state: 'linked', dynamicsId: 'd3' });
  await store.linkJournal.insertOne({ _id: 'j2', pipelineId: 'p', at, links: [three, link(4, { state: 'linked' })] });
  await store.links.deleteOne({ _id: 'l3' });
  await store.insertLinksExceptTaken([link(9, { marketoId: '3', state: 'linked', dynamicsId: 'pushed' })]);
  await store.finishLinkRewrites('p');
  const threes = await store.linksByMarketoIds('p', ['3']);
  assert.deepEqual(
    threes.map((l) => [l._id, l.dynamicsId]),
    [['l9', 'pushed']],
  );
  assert.equal((await store.linksByMarketoIds('p', ['4']))[0]?._id, 'l4', 'the rest of the entry is still applied');
  assert.equal(await store.linkJournal.countDocuments(), 0);
});

test('leases: one holder at a time, even when two instances ask at the same moment', async () => {
  const dbName = mongo.freshDbName();
  const other = new MongoClient(mongo.uri);
  await other.connect();
  try {
    const a = new SyncStore(mongo.client.db(dbName));
    const b = new SyncStore(other.db(dbName));
    await a.ensureIndexes();
    // Each round races for a lease that does not exist yet, then for one that was just released.
    for (let round = 0; round < 30; round++) {
      const name = `cycle:race-${round}`;
      const fresh = await Promise.all([a.acquireLease(name, 'A', 30_000), b.acquireLease(name, 'B', 30_000)]);
      assert.equal(fresh.filter(Boolean).length, 1, `round ${round}: exactly one takes a new lease`);
      const winner = fresh[0] ? 'A' : 'B';
      await (winner === 'A' ? a : b).releaseLease(name, winner, false);
      const freed = await Promise.all([a.acquireLease(name, 'A', 30_000), b.acquireLease(name, 'B', 30_000)]);
      assert.equal(freed.filter(Boolean).length, 1, `round ${round}: exactly one takes a released lease`);
    }
    // Held means held, for the holder too (no second cycle of one instance); the holder renews; a finished
    // cycle keeps everyone (holder too) out for the gap.
    assert.equal(await a.acquireLease('cycle:gap', 'A', 30_000), true);
    assert.equal(await a.acquireLease('cycle:gap', 'A', 30_000), false);
    assert.equal(await a.renewLease('cycle:gap', 'A', 30_000), true);
    assert.equal(await b.acquireLease('cycle:gap', 'B', 30_000), false);
    await a.releaseLease('cycle:gap', 'A', true);
    assert.equal(await b.acquireLease('cycle:gap', 'B', 30_000, 60_000), false);
    assert.equal(await a.acquireLease('cycle:gap', 'A', 30_000, 60_000), false);
    assert.equal(await b.acquireLease('cycle:gap', 'B', 30_000), true);
    assert.equal((await a.getLease('cycle:gap'))?.holder, 'B');
  } finally {
    await other.close();
  }
});
