import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeRecord, valuesForCreate, type FieldCollision } from '../src/sync/merge';
import type { ObjectPairPlan } from '../src/sync/field-plan';
import type { RemoteRecord } from '../src/plugin';
import type { SideKey } from '../src/sync/model';

const both = { left: true, right: true };
const plan: ObjectPairPlan = {
  key: 'lead->contact',
  types: { left: 'lead', right: 'contact' },
  fields: [
    { names: { left: 'email', right: 'emailaddress1' }, to: both, caseInsensitive: true },
    { names: { left: 'firstName', right: 'firstname' }, to: both },
    { names: { left: 'title', right: 'jobtitle' }, to: both },
    { names: { left: 'leadScore', right: 'mkt_leadscore' }, to: { left: true, right: false } },
  ],
  email: { left: 'email', right: 'emailaddress1' },
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
  left: RemoteRecord,
  right: RemoteRecord,
  winner: SideKey = 'right',
) {
  const seen: FieldCollision[] = [];
  const result = mergeRecord({ pair: plan, base, records: { left, right }, resolve: (c) => (seen.push(c), winner) });
  return { result, seen, toLeft: result.writes.left, toRight: result.writes.right };
}

test('one side changed: its value is copied to the other side', () => {
  const base = { email: 'a@x.com', firstName: 'Ann', title: 'CTO' };
  const { result, seen } = merge(
    base,
    m({ email: 'a@x.com', firstName: 'Anna', title: 'CTO' }),
    d({ emailaddress1: 'a@x.com', firstname: 'Ann', jobtitle: 'CFO' }),
  );
  assert.deepEqual(result.writes.right, { firstname: 'Anna' });
  assert.deepEqual(result.writes.left, { title: 'CFO' });
  assert.deepEqual(result.snapshot, { email: 'a@x.com', firstName: 'Anna', title: 'CFO' });
  assert.equal(seen.length, 0);
});

test('both changed differently: a collision decided by the resolver, both ways', () => {
  const base = { email: 'a@x.com', title: 'CTO' };
  const twice = (winner: SideKey) =>
    merge(base, m({ email: 'a@x.com', title: 'VP' }), d({ emailaddress1: 'a@x.com', jobtitle: 'CFO' }), winner);
  const dyn = twice('right');
  assert.deepEqual(dyn.result.writes.left, { title: 'CFO' });
  assert.deepEqual(dyn.result.writes.right, {});
  assert.equal(dyn.result.collisions.length, 1);
  assert.deepEqual(dyn.seen[0]?.field.names, { left: 'title', right: 'jobtitle' });
  assert.equal(dyn.seen[0]?.base, 'CTO');
  const mkt = twice('left');
  assert.deepEqual(mkt.result.writes.right, { jobtitle: 'VP' });
  assert.equal(mkt.result.snapshot.title, 'VP');
});

test('echo: values equal to the snapshot write nothing', () => {
  const base = { email: 'a@x.com', firstName: 'Ann', title: null };
  const { result } = merge(
    base,
    m({ email: 'a@x.com', firstName: 'Ann', title: '' }),
    d({ emailaddress1: 'A@x.com '.trim().toLowerCase(), firstname: 'Ann', jobtitle: null }),
  );
  assert.deepEqual(result.writes.right, {});
  assert.deepEqual(result.writes.left, {});
});

test('an unknown (absent) Dynamics field is never treated as blank', () => {
  const base = { email: 'a@x.com', leadScore: 40 };
  const { result } = merge(base, m({ email: 'a@x.com', leadScore: 99 }), d({ emailaddress1: 'a@x.com' }));
  assert.deepEqual(result.writes.right, {});
  assert.deepEqual(result.writes.left, {});
  assert.equal(result.snapshot.leadScore, 40);
});

test('first link: blanks are filled from the other side without a collision', () => {
  const { result, seen } = merge(
    undefined,
    m({ email: 'a@x.com', firstName: null, title: 'CTO' }),
    d({ emailaddress1: 'a@x.com', firstname: 'Ann', jobtitle: null }),
  );
  assert.deepEqual(result.writes.left, { firstName: 'Ann' });
  assert.deepEqual(result.writes.right, { jobtitle: 'CTO' });
  assert.equal(seen.length, 0);
  assert.equal(result.collisions.length, 0);
});

test('one-way field: the source wins without asking the policy', () => {
  const base = { email: 'a@x.com', leadScore: 1 };
  const { result, seen } = merge(
    base,
    m({ email: 'a@x.com', leadScore: 5 }),
    d({ emailaddress1: 'a@x.com', mkt_leadscore: 7 }),
    'left',
  );
  assert.deepEqual(result.writes.left, { leadScore: 7 });
  assert.equal(seen.length, 0);
});

test('values for a create follow the allowed directions and skip blanks', () => {
  const { values, snapshot } = valuesForCreate(
    plan,
    m({ email: 'a@x.com', firstName: 'Ann', title: null, leadScore: 3 }),
    'right',
  );
  assert.deepEqual(values, { emailaddress1: 'a@x.com', firstname: 'Ann' });
  assert.deepEqual(snapshot, { email: 'a@x.com', firstName: 'Ann', title: null });
});

test('a case-insensitive field (an email) differing only in case is unchanged: nothing written, no collision', () => {
  const base = { email: 'Ann.Smith@X.com', firstName: 'Ann', title: 'CTO' };
  const { result, seen } = merge(
    base,
    m({ email: 'Ann.Smith@X.com', firstName: 'Ann', title: 'CTO' }),
    d({ emailaddress1: 'ann.smith@x.com', firstname: 'ANN', jobtitle: 'CTO' }),
  );
  // The email's case is no change; a name's case is one (only emails compare without case).
  assert.deepEqual(result.writes, { left: { firstName: 'ANN' }, right: {} });
  assert.equal(seen.length, 0);
});
