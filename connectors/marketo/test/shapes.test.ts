/** Narrowing of Marketo values: datetimes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoDate } from '../src/objects/shapes';

/** The long way, for every input: what `isoDate` must answer whichever way it takes. */
function throughDate(value: string): string | undefined {
  const ms = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

test('isoDate writes Marketo datetimes as toISOString does, offsets and roll-overs included', () => {
  assert.equal(isoDate('2024-01-31T09:30:05Z'), '2024-01-31T09:30:05.000Z');
  assert.equal(isoDate('2024-01-31T09:30:05+0000'), '2024-01-31T09:30:05.000Z');
  assert.equal(isoDate('2024-01-31T09:30:05-0130'), '2024-01-31T11:00:05.000Z');
  // Get Lead by Id's example writes offsets with a colon (leads.md): `2015-05-07T11:47:30-08:00`.
  assert.equal(isoDate('2015-05-07T11:47:30-08:00'), '2015-05-07T19:47:30.000Z');
  assert.equal(isoDate('2024-01-31T09:30:05.250Z'), '2024-01-31T09:30:05.250Z');
  // Date.parse rolls these over; the short way must not answer otherwise.
  assert.equal(isoDate('2024-02-30T00:00:00Z'), '2024-03-01T00:00:00.000Z');
  assert.equal(isoDate('2024-01-01T24:00:00Z'), '2024-01-02T00:00:00.000Z');
  for (const bad of ['2024-13-01T00:00:00Z', '2024-01-01T23:60:00Z', '2024-01-01T23:59:60Z', 'yesterday', '']) {
    assert.equal(isoDate(bad), undefined, bad);
  }
  assert.equal(isoDate(1706693405000), undefined);
  assert.equal(isoDate(null), undefined);

  const days = ['01', '09', '10', '27', '28', '29', '30', '31', '32', '00'];
  const hours = ['00', '09', '23', '24', '25'];
  for (const month of ['01', '02', '04', '12', '00', '13']) {
    for (const day of days) {
      for (const hour of hours) {
        for (const rest of ['00:00Z', '59:59Z', '30:00+0000', '30:00+0530']) {
          const value = `2023-${month}-${day}T${hour}:${rest}`;
          assert.equal(isoDate(value), throughDate(value), value);
        }
      }
    }
  }
});
