/**
 * The cycle's pure stages on plain data: planning (merges, collisions to the policy, creates, the type field)
 * and interpreting (what results mean for links, counts, activity, rejections and the loop guard).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Collision, RemoteRecord, WriteResult } from '../src/plugin';
import type { LinkDoc } from '../src/repositories/sync-store';
import type { Pair } from '../src/sync/cycle-deps';
import type { ObjectPairPlan } from '../src/sync/field-plan';
import { interpretResults } from '../src/sync/interpreting';
import type { PerSide, PipelineSide } from '../src/sync/model';
import { planWrites } from '../src/sync/planning';
import { MemoryConnector, MemorySystem, memoryPeopleObject } from '../src/testing';

const both = { left: true, right: true };
const plan: ObjectPairPlan = {
  key: 'lead->contact',
  types: { left: 'lead', right: 'contact' },
  fields: [
    { names: { left: 'email', right: 'emailaddress1' }, to: both },
    { names: { left: 'firstName', right: 'firstname' }, to: both },
    { names: { left: 'title', right: 'jobtitle' }, to: both },
  ],
  email: { left: 'email', right: 'emailaddress1' },
  typeField: { side: 'left', field: 'crmType' },
};

const connector = (id: string, type: string) =>
  new MemoryConnector(new MemorySystem({ objects: [memoryPeopleObject(type)] }), { id });
const sides: PerSide<PipelineSide> = {
  left: {
    key: 'left',
    connection: 'mkt',
    connector: connector('mkto', 'lead'),
    label: 'Mkt',
    objects: ['lead'],
    deletes: 'recreate',
  },
  right: {
    key: 'right',
    connection: 'crm',
    connector: connector('crm', 'contact'),
    label: 'Crm',
    objects: ['contact'],
    deletes: 'unlink',
  },
};

const link = (over: Partial<LinkDoc> = {}): LinkDoc => ({
  _id: 'link-1',
  pipelineId: 'p',
  left: { type: 'lead', id: '7' },
  right: { type: 'contact', id: 'c-1' },
  email: 'ann@example.com',
  state: 'linked',
  snapshot: { email: 'ann@example.com', firstName: 'Ann', title: 'CTO' },
  createdAt: new Date(0),
  updatedAt: new Date(0),
  ...over,
});
const record = (id: string, fields: RemoteRecord['fields'], etag?: string): RemoteRecord => ({
  id,
  fields,
  ...(etag ? { etag } : {}),
});
const mergePair = (left: RemoteRecord['fields'], right: RemoteRecord['fields'], doc = link()): Pair => ({
  doc,
  isNew: false,
  plan,
  records: { left: record('7', { crmType: 'contact', ...left }), right: record('c-1', right, 'W/"5"') },
  action: 'merge',
  base: doc.snapshot,
});

test("planning: each side gets the other side's changes; a collision goes to the policy by connection id", () => {
  const seen: Collision[] = [];
  const pair = mergePair(
    { email: 'ann@example.com', firstName: 'Anna', title: 'VP' },
    { emailaddress1: 'ann@example.com', firstname: 'Ann', jobtitle: 'CFO' },
  );
  const planned = planWrites([pair], {
    pipelineId: 'p',
    sides,
    resolveCollision: (c) => (seen.push(c), 'crm'),
  });
  assert.deepEqual(planned.ops.right.get('contact'), [
    { kind: 'update', ref: 'link-1', id: 'c-1', fields: { firstname: 'Anna' }, etag: 'W/"5"' },
  ]);
  assert.deepEqual(planned.ops.left.get('lead'), [
    { kind: 'update', ref: 'link-1', id: '7', fields: { title: 'CFO' } },
  ]);
  assert.equal(seen.length, 1);
  assert.deepEqual(
    seen[0]?.sides.map((s) => [s.connection, s.connector, s.objectType, s.field, s.value]),
    [
      ['mkt', 'mkto', 'lead', 'title', 'VP'],
      ['crm', 'crm', 'contact', 'jobtitle', 'CFO'],
    ],
  );
  assert.equal(seen[0]?.base, 'CTO');
  assert.deepEqual(planned.counts, { conflicts: 1 });
  assert.match(planned.notes[0]?.detail ?? '', /title changed on both sides \(Mkt "VP", Crm "CFO"\); crm wins/);
});

test('planning: a first pairing sets the type field on the side that holds it, unless it holds it already', () => {
  const first = (typeValue: string | null): Pair => ({
    ...mergePair({ email: 'ann@example.com', crmType: typeValue }, { emailaddress1: 'ann@example.com' }),
    base: undefined,
    setType: true,
  });
  const unset = planWrites([first(null)], { pipelineId: 'p', sides, resolveCollision: () => 'crm' });
  assert.deepEqual(unset.ops.left.get('lead')?.[0]?.fields, { crmType: 'contact' });
  const already = planWrites([first('contact')], { pipelineId: 'p', sides, resolveCollision: () => 'crm' });
  assert.equal(already.ops.left.size, 0);
});

test('planning: a create carries the source values the directions allow, and the type field', () => {
  const pair: Pair = {
    doc: link({ right: { type: 'contact' }, state: 'creating', snapshot: {} }),
    isNew: true,
    plan,
    records: { left: record('7', { email: 'ann@example.com', firstName: 'Ann', title: null }) },
    action: 'create',
    createOn: 'right',
    base: undefined,
    setType: true,
  };
  const planned = planWrites([pair], { pipelineId: 'p', sides, resolveCollision: () => 'crm' });
  assert.deepEqual(planned.ops.right.get('contact'), [
    { kind: 'create', ref: 'link-1', fields: { emailaddress1: 'ann@example.com', firstname: 'Ann' } },
  ]);
  assert.deepEqual(planned.creates.get('link-1')?.snapshot, {
    email: 'ann@example.com',
    firstName: 'Ann',
    title: null,
  });
});

function interpret(pair: Pair, results: Partial<PerSide<WriteResult>>, attempt = 0) {
  const planned = planWrites([pair], { pipelineId: 'p', sides, resolveCollision: () => 'crm' });
  const maps = {
    left: new Map(results.left ? [[results.left.ref, results.left]] : []),
    right: new Map(results.right ? [[results.right.ref, results.right]] : []),
  };
  return interpretResults([pair], planned, maps, { pipelineId: 'p', sides, attempt, now: new Date(1000) });
}

test('interpreting: a rejection is counted, logged, told to the policy and to the other side; its fields keep their base', () => {
  const pair = mergePair(
    { email: 'ann@example.com', firstName: 'Anna', title: 'CTO' },
    { emailaddress1: 'ann@example.com', firstname: 'Ann', jobtitle: 'CFO' },
  );
  const result = interpret(pair, {
    left: { ref: 'link-1', status: 'updated', id: '7' },
    right: { ref: 'link-1', status: 'rejected', code: 'VALIDATION', message: 'First name is too short' },
  });
  assert.deepEqual(result.counts, { rejected: 1, updated: 1 });
  assert.deepEqual(result.rejections, [
    {
      pipelineId: 'p',
      connection: 'crm',
      connector: 'crm',
      objectType: 'contact',
      recordId: 'c-1',
      code: 'VALIDATION',
      message: 'First name is too short',
    },
  ]);
  const rewritten = result.rewrites[0];
  assert.equal(rewritten?.snapshot['firstName'], 'Ann', 'the rejected write keeps the base value');
  assert.equal(rewritten?.snapshot['title'], 'CFO', 'the landed write is in the snapshot');
  assert.equal(rewritten?.rejection?.side, 'right');
  assert.equal(result.events[0]?.side, 'left');
  assert.equal(result.events[0]?.event.recordId, '7');
  assert.equal(result.inSync.size, 0, 'a person with a rejected side is not confirmed to the loop guard');
  assert.ok(result.notes.some((n) => n.type === 'rejected' && n.side === 'right' && n.code === 'VALIDATION'));
});

test('interpreting: both writes landed: the snapshot is saved and both records are confirmed, as they hold it', () => {
  const pair = mergePair(
    { email: 'ann@example.com', firstName: 'Anna', title: 'CTO' },
    { emailaddress1: 'ann@example.com', firstname: 'Ann', jobtitle: 'CFO' },
  );
  const result = interpret(pair, {
    left: { ref: 'link-1', status: 'updated', id: '7' },
    right: { ref: 'link-1', status: 'updated', id: 'c-1', etag: 'W/"6"' },
  });
  assert.deepEqual(result.counts, { updated: 1 });
  assert.deepEqual(result.rewrites[0]?.snapshot, { email: 'ann@example.com', firstName: 'Anna', title: 'CFO' });
  const confirmed = result.inSync.get('link-1') ?? [];
  assert.deepEqual(
    confirmed.map((r) => [
      r.side,
      r.id,
      r.holds['firstName'] ?? r.holds['firstname'],
      r.holds['title'] ?? r.holds['jobtitle'],
    ]),
    [
      ['left', '7', 'Anna', 'CFO'],
      ['right', 'c-1', 'Anna', 'CFO'],
    ],
  );
  assert.deepEqual(result.written, { left: 1, right: 1 });
});

test('interpreting: a stale etag is merged again once, then it is a failure to retry next cycle', () => {
  const pair = mergePair(
    { email: 'ann@example.com', firstName: 'Anna', title: 'CTO' },
    { emailaddress1: 'ann@example.com', firstname: 'Ann', jobtitle: 'CTO' },
  );
  const stale: WriteResult = { ref: 'link-1', status: 'conflict', message: 'changed since read' };
  const first = interpret(pair, { right: stale }, 0);
  assert.equal(first.retry.length, 1);
  assert.equal(first.rewrites.length, 0);
  const again = interpret(pair, { right: stale }, 1);
  assert.equal(again.retry.length, 0);
  assert.equal(again.retryLater, true);
  assert.equal(again.counts.failed, 1);
});

test('interpreting: a create that landed links the person with the new id; one that failed keeps its intent', () => {
  const creating = (): Pair => ({
    doc: link({
      right: { type: 'contact' },
      state: 'creating',
      snapshot: {},
      createIntent: { side: 'right', at: new Date(0) },
    }),
    isNew: false,
    plan,
    records: { left: record('7', { email: 'ann@example.com', firstName: 'Ann' }) },
    action: 'create',
    createOn: 'right',
    base: undefined,
  });
  const created = interpret(creating(), { right: { ref: 'link-1', status: 'created', id: 'c-9' } });
  assert.deepEqual(created.counts, { created: 1 });
  const doc = created.rewrites[0];
  assert.deepEqual(doc?.right, { type: 'contact', id: 'c-9' });
  assert.equal(doc?.state, 'linked');
  assert.equal(doc?.createIntent, undefined);
  const failed = interpret(creating(), {
    right: { ref: 'link-1', status: 'failed', code: 'TIMEOUT', message: 'no answer', retryable: true },
  });
  assert.equal(failed.rewrites.length, 0, 'nothing saved: the intent stays for the next read to look up');
  assert.equal(failed.retryLater, true);
});
