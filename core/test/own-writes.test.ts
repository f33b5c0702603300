import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OwnWrites } from '../src/plugin';

test('own writes: only a confirmed write is answered, once; a later write replaces or merges an unconfirmed one', () => {
  const writes = new OwnWrites<{ fields: Record<string, string> }>();
  writes.wrote('1', { fields: { title: 'A' } });
  assert.equal(writes.take('1'), undefined, 'not confirmed yet: the echo must be read');
  writes.wrote('1', { fields: { city: 'B' } }, (a, b) => ({ fields: { ...a.fields, ...b.fields } }));
  writes.wrote('2', { fields: { title: 'C' } });
  writes.wrote('2', { fields: { title: 'D' } });
  writes.confirm(['1', '2', 'never-written']);
  assert.deepEqual(writes.take('1'), { fields: { title: 'A', city: 'B' } });
  assert.deepEqual(writes.take('2'), { fields: { title: 'D' } });
  assert.equal(writes.take('1'), undefined, 'taken once');
  assert.equal(writes.take('never-written'), undefined);
});

test('own writes: bounded in bytes, the oldest forgotten first; and by age', async () => {
  const writes = new OwnWrites<{ etag: string }>({ maxBytes: 10 * 300, ttlMs: 60_000 });
  for (let i = 0; i < 20; i++) writes.wrote(String(i), { etag: `W/"${i}"` });
  writes.confirm(Array.from({ length: 20 }, (_, i) => String(i)));
  assert.equal(writes.take('0'), undefined, 'the oldest were forgotten');
  assert.deepEqual(writes.take('19'), { etag: 'W/"19"' });

  const brief = new OwnWrites<{ etag: string }>({ maxBytes: 1 << 20, ttlMs: 20 });
  brief.wrote('x', { etag: 'W/"1"' });
  brief.confirm(['x']);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(brief.take('x'), undefined, 'expired');
});
