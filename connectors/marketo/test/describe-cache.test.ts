/**
 * The cached description stays true: when Marketo answers that a field it described does not exist (hidden
 * since), the cache is dropped, so the next `describe()` reflects the instance, and the error is UNKNOWN_FIELD.
 */
import 'reflect-metadata';
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { TandemError } from '@tandem/core/plugin';
import { collect, startHarness, type Harness } from './helpers';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ seed: true, people: 5, extras: true });
  h.sandbox.editPerson(1, { microsoftType: 'lead' });
});
afterEach(() => h.close());

const describeCalls = () => h.sandbox.counters.byEndpoint['GET /v1/leads/describe2.json'] ?? 0;
const described = async (name: string) => (await h.connector.describe('lead')).fields.some((f) => f.name === name);

function assertUnknownField(error: unknown): true {
  assert.ok(error instanceof TandemError, String(error));
  assert.equal(error.code, 'UNKNOWN_FIELD');
  assert.equal(error.details?.field, 'microsoftType');
  assert.match(error.message, /microsoftType/);
  return true;
}

test('a read naming a field hidden since: UNKNOWN_FIELD, and describe() reads the instance again', async () => {
  assert.ok(await described('microsoftType'));
  assert.equal(describeCalls(), 1);
  h.sandbox.hideField('microsoftType');
  assert.ok(await described('microsoftType'), 'cached: the connector cannot know yet');
  await assert.rejects(h.connector.get('lead', ['1'], { fields: ['email', 'microsoftType'] }), assertUnknownField);
  assert.equal(await described('microsoftType'), false, 'the description tells the truth again');
  assert.equal(describeCalls(), 2, 'read once more, and only once');
  // The next read, planned from the new description, goes through.
  const [record] = await h.connector.get('lead', ['1'], { fields: ['email'] });
  assert.equal(record?.id, '1');
});

test('a change feed naming a field hidden since: UNKNOWN_FIELD, the description read again', async () => {
  const fields = ['email', 'microsoftType'];
  const cursor = (await collect(h.connector.readChanges('lead', null, { fields }))).at(-1)?.cursor ?? '';
  h.sandbox.hideField('microsoftType');
  await assert.rejects(collect(h.connector.readChanges('lead', cursor, { fields })), assertUnknownField);
  assert.equal(await described('microsoftType'), false);
});

test('a write naming a field hidden since: a retryable UNKNOWN_FIELD failure, the others written', async () => {
  await h.connector.describe('lead');
  h.sandbox.hideField('microsoftType');
  const results = await h.connector.write('lead', [
    { kind: 'update', ref: 'a', id: '1', fields: { title: 'Kept', microsoftType: 'contact' } },
    { kind: 'update', ref: 'b', id: '2', fields: { title: 'Written' } },
  ]);
  assert.deepEqual(
    results.map((r) => [r.ref, r.status, r.status === 'failed' ? [r.code, r.retryable] : undefined]),
    [
      ['a', 'failed', ['UNKNOWN_FIELD', true]],
      ['b', 'updated', undefined],
    ],
  );
  assert.equal(h.sandbox.getPerson(2)?.values.title, 'Written');
  assert.equal(await described('microsoftType'), false);
});
