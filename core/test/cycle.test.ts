import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangePage } from '../src/plugin';
import { combinePages } from '../src/sync/cycle';

const page = (cursor: string, records: Array<[string, string]>, deletedIds: string[] = []): ChangePage => ({
  records: records.map(([id, name]) => ({ id, fields: { name } })),
  deletedIds,
  cursor,
  done: false,
  progress: { phase: 'initial', recordsSoFar: Number(cursor) },
});

test('combinePages: one page comes back as it is', () => {
  const only = page('1', [['a', 'A']]);
  assert.equal(combinePages([only]), only);
});

test('combinePages: records keep their first position with their last values, deletes are merged, the last cursor wins', () => {
  const combined = combinePages([
    page('1', [
      ['a', 'A1'],
      ['b', 'B1'],
    ]),
    page('2', [['c', 'C1']], ['x']),
    { ...page('3', [['a', 'A2']], ['x', 'y']), done: true },
  ]);
  assert.deepEqual(
    combined.records.map((r) => [r.id, r.fields['name']]),
    [
      ['a', 'A2'],
      ['b', 'B1'],
      ['c', 'C1'],
    ],
  );
  assert.deepEqual(combined.deletedIds, ['x', 'y']);
  assert.equal(combined.cursor, '3');
  assert.equal(combined.done, true);
  assert.deepEqual(combined.progress, { phase: 'initial', recordsSoFar: 3 });
});
