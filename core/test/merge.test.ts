import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeRecord, valuesForCreate } from '../src/sync/merge';
import type { ObjectPlan } from '../src/sync/plan';
import type { Collision, RemoteRecord, Side } from '../src/plugin';

const plan: ObjectPlan = {
  dynamicsType: 'contact',
  fields: [
    { marketo: 'email', dynamics: 'emailaddress1', toDynamics: true, toMarketo: true },
    { marketo: 'firstName', dynamics: 'firstname', toDynamics: true, toMarketo: true },
    { marketo: 'title', dynamics: 'jobtitle', toDynamics: true, toMarketo: true },
    { marketo: 'leadScore', dynamics: 'mkt_leadscore', toDynamics: false, toMarketo: true },
  ],
  dynamicsRead: ['emailaddress1', 'firstname', 'jobtitle', 'mkt_leadscore'],
  marketoEmail: 'email',
  dynamicsEmail: 'emailaddress1',
};

const m = (fields: RemoteRecord['fields'], at?: string): RemoteRecord => ({
  id: '1',
  fields,
  ...(at ? { modifiedAt: at } : {}),
});
const d = (fields: RemoteRecord['fields'], at?: string): RemoteRecord => ({
  id: 'a',
  fields,
  ...(at ? { modifiedAt: at } : {}),
});

function merge(
  base: RemoteRecord['fields'] | undefined,
  marketo: RemoteRecord,
  dynamics: RemoteRecord,
  winner: Side = 'dynamics',
) {
  const seen: Collision[] = [];
  const result = mergeRecord({
    pipelineId: 'p',
    plan,
    base,
    marketo,
    dynamics,
    resolve: (c) => (seen.push(c), winner),
  });
  return { result, seen };
}

test('one side changed: its value is copied to the other side', () => {
  const base = { email: 'a@x.com', firstName: 'Ann', title: 'CTO' };
  const { result, seen } = merge(
    base,
    m({ email: 'a@x.com', firstName: 'Anna', title: 'CTO' }),
    d({ emailaddress1: 'a@x.com', firstname: 'Ann', jobtitle: 'CFO' }),
  );
  assert.deepEqual(result.toDynamics, { firstname: 'Anna' });
  assert.deepEqual(result.toMarketo, { title: 'CFO' });
  assert.deepEqual(result.snapshot, { email: 'a@x.com', firstName: 'Anna', title: 'CFO' });
  assert.equal(seen.length, 0);
});

test('both changed differently: a collision decided by the resolver, both ways', () => {
  const base = { email: 'a@x.com', title: 'CTO' };
  const both = (winner: Side) =>
    merge(base, m({ email: 'a@x.com', title: 'VP' }), d({ emailaddress1: 'a@x.com', jobtitle: 'CFO' }), winner);
  const dyn = both('dynamics');
  assert.deepEqual(dyn.result.toMarketo, { title: 'CFO' });
  assert.deepEqual(dyn.result.toDynamics, {});
  assert.equal(dyn.result.collisions.length, 1);
  assert.equal(dyn.seen[0]?.dynamicsObject, 'contact');
  const mkt = both('marketo');
  assert.deepEqual(mkt.result.toDynamics, { jobtitle: 'VP' });
  assert.equal(mkt.result.snapshot.title, 'VP');
});

test('echo: values equal to the snapshot write nothing', () => {
  const base = { email: 'a@x.com', firstName: 'Ann', title: null };
  const { result } = merge(
    base,
    m({ email: 'a@x.com', firstName: 'Ann', title: '' }),
    d({ emailaddress1: 'A@x.com '.trim().toLowerCase(), firstname: 'Ann', jobtitle: null }),
  );
  assert.deepEqual(result.toDynamics, {});
  assert.deepEqual(result.toMarketo, {});
});

test('an unknown (absent) Dynamics field is never treated as blank', () => {
  const base = { email: 'a@x.com', leadScore: 40 };
  const { result } = merge(base, m({ email: 'a@x.com', leadScore: 99 }), d({ emailaddress1: 'a@x.com' }));
  assert.deepEqual(result.toDynamics, {});
  assert.deepEqual(result.toMarketo, {});
  assert.equal(result.snapshot.leadScore, 40);
});

test('first link: blanks are filled from the other side without a collision', () => {
  const { result, seen } = merge(
    undefined,
    m({ email: 'a@x.com', firstName: null, title: 'CTO' }),
    d({ emailaddress1: 'a@x.com', firstname: 'Ann', jobtitle: null }),
  );
  assert.deepEqual(result.toMarketo, { firstName: 'Ann' });
  assert.deepEqual(result.toDynamics, { jobtitle: 'CTO' });
  assert.equal(seen.length, 0);
  assert.equal(result.collisions.length, 0);
});

test('one-way field: the source wins without asking the policy', () => {
  const base = { email: 'a@x.com', leadScore: 1 };
  const { result, seen } = merge(
    base,
    m({ email: 'a@x.com', leadScore: 5 }),
    d({ emailaddress1: 'a@x.com', mkt_leadscore: 7 }),
    'marketo',
  );
  assert.deepEqual(result.toMarketo, { leadScore: 7 });
  assert.equal(seen.length, 0);
});

test('values for a create follow the allowed directions and skip blanks', () => {
  const { values, snapshot } = valuesForCreate(
    plan,
    m({ email: 'a@x.com', firstName: 'Ann', title: null, leadScore: 3 }),
    'dynamics',
  );
  assert.deepEqual(values, { emailaddress1: 'a@x.com', firstname: 'Ann' });
  assert.deepEqual(snapshot, { email: 'a@x.com', firstName: 'Ann', title: null });
});
