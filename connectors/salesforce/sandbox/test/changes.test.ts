/** Reading changes: SystemModstamp on user and system changes, sObject Get Updated / Get Deleted, merges. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startOrg, type ApiErrorBody, type Org } from './helpers';

const T0 = Date.parse('2026-11-01T10:00:00Z');
const MIN = 60_000;
const DAY = 24 * 3600 * 1000;

describe('changes', () => {
  let org: Org;
  before(async () => {
    org = await startOrg();
    org.sandbox.setClock(T0, { frozen: true });
  });
  after(async () => {
    await org.close();
  });
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const updated = (start: number, end: number) =>
    org.json<{ ids: string[]; latestDateCovered: string }>(
      `${org.base}/sobjects/Contact/updated/?start=${encodeURIComponent(iso(start))}&end=${encodeURIComponent(iso(end))}`,
    );
  const deleted = (start: number, end: number) =>
    org.json<{
      deletedRecords: Array<{ id: string; deletedDate: string }>;
      earliestDateAvailable: string;
      latestDateCovered: string;
    }>(
      `${org.base}/sobjects/Contact/deleted/?start=${encodeURIComponent(iso(start))}&end=${encodeURIComponent(iso(end))}`,
    );

  test('a user edit moves LastModifiedDate and SystemModstamp; a system change moves SystemModstamp only', async () => {
    const c = org.sandbox.createRecord('Contact', { LastName: 'Stamp' });
    org.sandbox.advanceClock(5 * MIN);
    await org.token();
    const patch = await org.call(`${org.base}/sobjects/Contact/${c.id}`, { method: 'PATCH', json: { Title: 'CTO' } });
    assert.equal(patch.status, 204);
    const afterEdit = org.sandbox.getRecord('Contact', c.id)?.values;
    assert.equal(afterEdit?.LastModifiedDate, '2026-11-01T10:05:00.000+0000');
    assert.equal(afterEdit?.SystemModstamp, '2026-11-01T10:05:00.000+0000');
    org.sandbox.advanceClock(5 * MIN);
    const [touched] = org.sandbox.systemTouch('Contact', [c.id]);
    assert.equal(touched?.values.LastModifiedDate, '2026-11-01T10:05:00.000+0000');
    assert.equal(touched?.values.SystemModstamp, '2026-11-01T10:10:00.000+0000');
    const q = await org.query<{ Id: string }>('SELECT Id FROM Contact WHERE SystemModstamp > 2026-11-01T10:05:00Z');
    assert.deepEqual(
      q.body.records.map((r) => r.Id),
      [c.id],
    );
  });

  test('updated: ids whose SystemModstamp falls in [start, end), seconds ignored, latestDateCovered to the minute', async () => {
    const base = Date.parse('2026-11-02T09:00:00Z');
    org.sandbox.setClock(base, { frozen: true });
    await org.token();
    const a = org.sandbox.createRecord('Contact', { LastName: 'U1' });
    org.sandbox.advanceClock(2 * MIN + 30_000);
    const b = org.sandbox.createRecord('Contact', { LastName: 'U2' });
    org.sandbox.advanceClock(3 * MIN);
    const all = await updated(base, base + 10 * MIN);
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.ids, [a.id, b.id]);
    // end later than now: covered up to the current minute.
    assert.equal(all.body.latestDateCovered, '2026-11-02T09:05:00.000+0000');
    const firstMinutes = await updated(base, base + 2 * MIN + 45_000);
    assert.deepEqual(firstMinutes.body.ids, [a.id], 'the end is read as 09:02:00');
    assert.equal(firstMinutes.body.latestDateCovered, '2026-11-02T09:02:00.000+0000');
  });

  test('updated: start not before end, or more than 30 days back: INVALID_REPLICATION_DATE', async () => {
    const now = org.sandbox.now().getTime();
    const same = await org.json<ApiErrorBody[]>(
      `${org.base}/sobjects/Contact/updated/?start=${encodeURIComponent(iso(now - MIN))}&end=${encodeURIComponent(iso(now - MIN))}`,
    );
    assert.equal(same.status, 400);
    assert.equal(same.body[0]?.errorCode, 'INVALID_REPLICATION_DATE');
    assert.equal((await updated(now - 29 * DAY, now)).status, 200);
    const old = await org.json<ApiErrorBody[]>(
      `${org.base}/sobjects/Contact/updated/?start=${encodeURIComponent(iso(now - 31 * DAY))}&end=${encodeURIComponent(iso(now))}`,
    );
    assert.equal(old.status, 400);
    assert.equal(old.body[0]?.errorCode, 'INVALID_REPLICATION_DATE');
  });

  test('deleted: deletions and merged-away records with their dates; kept 15 days, then purged', async () => {
    const base = Date.parse('2026-11-03T08:00:00Z');
    org.sandbox.setClock(base, { frozen: true });
    await org.token();
    const winner = org.sandbox.createRecord('Contact', { LastName: 'Win', Email: 'm@example.com' });
    const loser = org.sandbox.createRecord('Contact', { LastName: 'Lose', Email: 'm@example.com' });
    const gone = org.sandbox.createRecord('Contact', { LastName: 'Gone' });
    org.sandbox.advanceClock(MIN);
    org.sandbox.deleteRecord('Contact', gone.id);
    org.sandbox.advanceClock(MIN);
    org.sandbox.merge('Contact', winner.id, loser.id, { Title: 'Merged' });
    org.sandbox.advanceClock(MIN);
    const r = await deleted(base, base + 10 * MIN);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.deletedRecords, [
      { id: gone.id, deletedDate: '2026-11-03T08:01:00.000+0000' },
      { id: loser.id, deletedDate: '2026-11-03T08:02:00.000+0000' },
    ]);
    assert.equal(r.body.latestDateCovered, '2026-11-03T08:03:00.000+0000');
    assert.equal(org.sandbox.getRecord('Contact', winner.id)?.values.Title, 'Merged');
    const u = await updated(base + 2 * MIN, base + 3 * MIN);
    assert.deepEqual(u.body.ids, [winner.id], 'the merge modified the winner');

    org.sandbox.advanceClock(14 * DAY);
    await org.token();
    assert.equal((await deleted(base, base + 14 * DAY)).body.deletedRecords.length, 2, 'still within 15 days');
    org.sandbox.advanceClock(2 * DAY);
    await org.token();
    const now = org.sandbox.now().getTime();
    const tooOld = await org.json<ApiErrorBody[]>(
      `${org.base}/sobjects/Contact/deleted/?start=${encodeURIComponent(iso(base))}&end=${encodeURIComponent(iso(now))}`,
    );
    assert.equal(tooOld.status, 400);
    assert.equal(tooOld.body[0]?.errorCode, 'INVALID_REPLICATION_DATE');
    const recent = await deleted(now - 14 * DAY, now);
    assert.deepEqual(recent.body.deletedRecords, []);
    assert.equal(recent.body.earliestDateAvailable, '2026-11-03T08:02:00.000+0000', 'the latest purged deletion');
    const all = await org.query<{ Id: string }>(`SELECT Id FROM Contact WHERE Id = '${loser.id}'`, true);
    assert.deepEqual(all.body.records, [], 'purged from the Recycle Bin too');
  });

  test('lead conversion: a Contact from the lead, the lead read-only with its conversion fields, SystemModstamp moved', async () => {
    const lead = org.sandbox.createRecord('Lead', {
      FirstName: 'Conv',
      LastName: 'Erted',
      Company: 'Acme',
      Email: 'conv@example.com',
      City: 'Lyon',
    });
    org.sandbox.advanceClock(3 * MIN);
    const { contact } = org.sandbox.convertLead(lead.id);
    assert.deepEqual(
      [contact.values.FirstName, contact.values.LastName, contact.values.Email, contact.values.MailingCity],
      ['Conv', 'Erted', 'conv@example.com', 'Lyon'],
    );
    await org.token();
    const q = await org.query<Record<string, unknown>>(
      `SELECT IsConverted, ConvertedContactId, ConvertedDate, Status, SystemModstamp, LastModifiedDate FROM Lead WHERE Id = '${lead.id}'`,
    );
    const row = q.body.records[0];
    assert.deepEqual(
      [row?.IsConverted, row?.ConvertedContactId, row?.ConvertedDate, row?.Status],
      [true, contact.id, org.sandbox.now().toISOString().slice(0, 10), 'Closed - Converted'],
    );
    assert.notEqual(row?.SystemModstamp, row?.LastModifiedDate);
    const patched = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Lead/${lead.id}`, {
      method: 'PATCH',
      json: { Title: 'x' },
    });
    assert.equal(patched.status, 400);
    assert.equal(patched.body[0]?.errorCode, 'CANNOT_UPDATE_CONVERTED_LEAD');
    const collection = await org.json<Array<{ success: boolean; errors: Array<{ statusCode: string }> }>>(
      `${org.base}/composite/sobjects`,
      { method: 'PATCH', json: { records: [{ attributes: { type: 'Lead' }, Id: lead.id, Title: 'x' }] } },
    );
    assert.equal(collection.body[0]?.errors[0]?.statusCode, 'CANNOT_UPDATE_CONVERTED_LEAD');
    assert.throws(() => org.sandbox.convertLead(lead.id), /already converted/);
  });

  test('merge refuses more than two records, or a record into itself', () => {
    const a = org.sandbox.createRecord('Lead', { LastName: 'A', Company: 'C' });
    const b = org.sandbox.createRecord('Lead', { LastName: 'B', Company: 'C' });
    const c = org.sandbox.createRecord('Lead', { LastName: 'C', Company: 'C' });
    const d = org.sandbox.createRecord('Lead', { LastName: 'D', Company: 'C' });
    assert.throws(() => org.sandbox.merge('Lead', a.id, [b.id, c.id, d.id]), /one or two/);
    assert.throws(() => org.sandbox.merge('Lead', a.id, a.id), /itself/);
  });
});
