/** Writes: sObject rows, sObject Collections (limits, order, allOrNone), each per-record error, lock faults. */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startOrg, type ApiErrorBody, type Org } from './helpers';

interface SaveResult {
  id?: string;
  success: boolean;
  errors: Array<{
    statusCode: string;
    message: string;
    fields: string[];
    duplicateResult?: { allowSave: boolean; matchResults: Array<{ matchRecords: Array<{ record: { Id: string } }> }> };
  }>;
}

const contact = (fields: Record<string, unknown>) => ({ attributes: { type: 'Contact' }, ...fields });
const lead = (fields: Record<string, unknown>) => ({ attributes: { type: 'Lead' }, ...fields });

describe('sObject rows', () => {
  let org: Org;
  before(async () => {
    org = await startOrg();
  });
  after(async () => {
    await org.close();
  });

  test('create, read, update, delete one Lead; Status defaults to "Open - Not Contacted"', async () => {
    const created = await org.json<{ id: string; success: boolean; errors: unknown[] }>(`${org.base}/sobjects/Lead`, {
      method: 'POST',
      json: { LastName: 'Ito', Company: 'Contoso', Email: 'ito@example.com' },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.success, true);
    assert.match(created.body.id, /^00Q[0-9A-Za-z]{15}$/);
    const read = await org.json<Record<string, unknown>>(`${org.base}/sobjects/Lead/${created.body.id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.Status, 'Open - Not Contacted');
    assert.equal(read.body.IsDeleted, false);
    assert.equal(read.body.HasOptedOutOfEmail, false);
    assert.equal(read.body.OwnerId, org.sandbox.store.identity.userId);
    assert.match(String(read.body.CreatedDate), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000\+0000$/);
    const some = await org.json<Record<string, unknown>>(
      `${org.base}/sobjects/Lead/${created.body.id}?fields=Email,Company`,
    );
    assert.deepEqual(Object.keys(some.body), ['attributes', 'Email', 'Company']);
    const patched = await org.call(`${org.base}/sobjects/Lead/${created.body.id}`, {
      method: 'PATCH',
      json: { Title: 'CFO' },
    });
    assert.equal(patched.status, 204);
    assert.equal(org.sandbox.getRecord('Lead', created.body.id)?.values.Title, 'CFO');
    assert.equal((await org.call(`${org.base}/sobjects/Lead/${created.body.id}`, { method: 'DELETE' })).status, 204);
    const again = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Lead/${created.body.id}`, {
      method: 'PATCH',
      json: { Title: 'x' },
    });
    assert.equal(again.status, 404);
    assert.equal(again.body[0]?.errorCode, 'ENTITY_IS_DELETED');
    assert.equal((await org.json(`${org.base}/sobjects/Lead/${created.body.id}`)).status, 404);
  });

  test('a failed single write is 400 with the record error as an error array', async () => {
    const r = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Lead`, {
      method: 'POST',
      json: { FirstName: 'No' },
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, [
      {
        message: 'Required fields are missing: [LastName, Company]',
        errorCode: 'REQUIRED_FIELD_MISSING',
        fields: ['LastName', 'Company'],
      },
    ]);
  });

  test('ids: malformed, of another object, unknown', async () => {
    const malformed = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Contact/xyz`, {
      method: 'PATCH',
      json: { Title: 'x' },
    });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body[0]?.errorCode, 'MALFORMED_ID');
    const leadId = org.sandbox.createRecord('Lead', { LastName: 'L', Company: 'C' }).id;
    const wrongType = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Contact/${leadId}`, {
      method: 'PATCH',
      json: { Title: 'x' },
    });
    assert.equal(wrongType.body[0]?.errorCode, 'MALFORMED_ID');
    const unknown = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Contact/003000000000001AAA`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body[0]?.errorCode, 'NOT_FOUND');
  });

  test('bad JSON and unknown fields fail the whole request', async () => {
    const bad = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Contact`, {
      method: 'POST',
      body: '{"LastName": ',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body[0]?.errorCode, 'JSON_PARSER_ERROR');
    const unknown = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Contact`, {
      method: 'POST',
      json: { LastName: 'x', Shoe__c: 1 },
    });
    assert.equal(unknown.body[0]?.errorCode, 'INVALID_FIELD');
    assert.match(unknown.body[0]?.message ?? '', /No such column 'Shoe__c' on sobject of type Contact/);
    const wrongType = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Contact`, {
      method: 'POST',
      json: { LastName: 'x', DoNotCall: 'yes' },
    });
    assert.equal(wrongType.body[0]?.errorCode, 'JSON_PARSER_ERROR');
  });
});

describe('sObject Collections', () => {
  let org: Org;
  before(async () => {
    org = await startOrg();
  });
  beforeEach(() => {
    org.sandbox.clearFaults();
    org.sandbox.clearValidationRules();
    org.sandbox.setDuplicateRule('Contact', null);
  });
  after(async () => {
    await org.close();
  });
  const create = (records: unknown[], allOrNone = false) =>
    org.json<SaveResult[]>(`${org.base}/composite/sobjects`, { method: 'POST', json: { allOrNone, records } });
  const update = (records: unknown[], allOrNone = false) =>
    org.json<SaveResult[]>(`${org.base}/composite/sobjects`, { method: 'PATCH', json: { allOrNone, records } });

  test('200 records are fine; 201 are refused as a whole with EXCEEDED_ID_LIMIT', async () => {
    const ok = await create(Array.from({ length: 200 }, (_, i) => contact({ LastName: `Max${i}` })));
    assert.equal(ok.status, 200);
    assert.equal(ok.body.length, 200);
    assert.ok(ok.body.every((r) => r.success));
    const before = org.sandbox.listRecords('Contact').length;
    const over = await org.json<ApiErrorBody[]>(`${org.base}/composite/sobjects`, {
      method: 'POST',
      json: { records: Array.from({ length: 201 }, (_, i) => contact({ LastName: `Over${i}` })) },
    });
    assert.equal(over.status, 400);
    assert.equal(over.body[0]?.errorCode, 'EXCEEDED_ID_LIMIT');
    assert.equal(org.sandbox.listRecords('Contact').length, before, 'nothing created');
  });

  test('results come back in request order, mixed types, with HTTP 200 when some fail', async () => {
    const r = await create([
      contact({ LastName: 'First' }),
      lead({ LastName: 'NoCompany' }),
      lead({ LastName: 'Third', Company: 'Acme' }),
      contact({ FirstName: 'NoLast' }),
    ]);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.map((x) => x.success),
      [true, false, true, false],
    );
    assert.match(r.body[0]?.id ?? '', /^003/);
    assert.match(r.body[2]?.id ?? '', /^00Q/);
    assert.deepEqual(r.body[1]?.errors, [
      { statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [Company]', fields: ['Company'] },
    ]);
    assert.equal(r.body[1]?.id, undefined);
    assert.deepEqual(r.body[3]?.errors[0]?.fields, ['LastName']);
  });

  test('allOrNone true: one failure rolls everything back; the others say ALL_OR_NONE_OPERATION_ROLLED_BACK', async () => {
    const before = org.sandbox.listRecords('Contact').length;
    const r = await create(
      [contact({ LastName: 'A1' }), contact({ FirstName: 'x' }), contact({ LastName: 'A3' })],
      true,
    );
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.map((x) => [x.success, x.errors[0]?.statusCode]),
      [
        [false, 'ALL_OR_NONE_OPERATION_ROLLED_BACK'],
        [false, 'REQUIRED_FIELD_MISSING'],
        [false, 'ALL_OR_NONE_OPERATION_ROLLED_BACK'],
      ],
    );
    assert.equal(r.body[0]?.id, undefined);
    assert.equal(org.sandbox.listRecords('Contact').length, before);
    const id = org.sandbox.createRecord('Contact', { LastName: 'Keep', Title: 'Old' }).id;
    const u = await update([contact({ id, Title: 'New' }), contact({ id: '003000000000001AAA', Title: 'x' })], true);
    assert.deepEqual(
      u.body.map((x) => x.errors[0]?.statusCode),
      ['ALL_OR_NONE_OPERATION_ROLLED_BACK', 'INVALID_CROSS_REFERENCE_KEY'],
    );
    assert.equal(u.body[0]?.id, id);
    assert.equal(org.sandbox.getRecord('Contact', id)?.values.Title, 'Old', 'the update was rolled back');
  });

  test('email addresses are stored in lower case, whatever case the client sent; queries still match any case', async () => {
    const created = await create([contact({ LastName: 'Case', Email: 'Ann.Smith@Example.COM' })]);
    const id = created.body[0]?.id ?? '';
    assert.equal(org.sandbox.getRecord('Contact', id)?.values.Email, 'ann.smith@example.com');
    await update([contact({ Id: id, Email: 'ANN@Example.com' })]);
    const read = await org.query<{ Email: string }>(`SELECT Email FROM Contact WHERE Email = 'Ann@EXAMPLE.com'`);
    assert.deepEqual(
      read.body.records.map((r) => r.Email),
      ['ann@example.com'],
    );
    // A user's edit in the app is saved the same way.
    const edited = org.sandbox.editRecord('Contact', id, { Email: 'Mixed.Case@Example.org' });
    assert.equal(edited.values.Email, 'mixed.case@example.org');
  });

  test('allOrNone false: the valid records are saved', async () => {
    const id = org.sandbox.createRecord('Contact', { LastName: 'Keep2', Title: 'Old' }).id;
    const u = await update([contact({ id, Title: 'New' }), contact({ id: '003000000000001AAA', Title: 'x' })]);
    assert.deepEqual(
      u.body.map((x) => x.success),
      [true, false],
    );
    assert.equal(org.sandbox.getRecord('Contact', id)?.values.Title, 'New');
  });

  test('each per-record error code', async () => {
    const existing = org.sandbox.createRecord('Contact', { LastName: 'Dup', Email: 'dup@example.com' });
    const deleted = org.sandbox.createRecord('Contact', { LastName: 'Deleted' });
    org.sandbox.deleteRecord('Contact', deleted.id);
    org.sandbox.addValidationRule({
      object: 'Contact',
      name: 'No_Test_Titles',
      message: 'Title cannot be Test',
      errorDisplayField: 'Title',
      when: { field: 'Title', operator: 'equals', value: 'Test' },
    });
    org.sandbox.setDuplicateRule('Contact', { allowSave: false });
    const created = await create([
      contact({ LastName: 'Rule', Title: 'Test' }),
      contact({ LastName: 'Dup2', Email: 'DUP@example.com' }),
      contact({ LastName: 'Long', FirstName: 'x'.repeat(41) }),
      contact({ LastName: 'Mail', Email: 'not-an-email' }),
      contact({ LastName: 'RO', CreatedDate: '2020-01-01T00:00:00Z' }),
      contact({ LastName: 'WithId', Id: existing.id }),
    ]);
    assert.deepEqual(
      created.body.map((x) => [x.errors[0]?.statusCode, x.errors[0]?.fields]),
      [
        ['FIELD_CUSTOM_VALIDATION_EXCEPTION', ['Title']],
        ['DUPLICATES_DETECTED', []],
        ['STRING_TOO_LONG', ['FirstName']],
        ['INVALID_EMAIL_ADDRESS', ['Email']],
        ['INVALID_FIELD_FOR_INSERT_UPDATE', ['CreatedDate']],
        ['INVALID_FIELD', ['Id']],
      ],
    );
    assert.equal(created.body[0]?.errors[0]?.message, 'Title cannot be Test');
    const dup = created.body[1]?.errors[0]?.duplicateResult;
    assert.equal(dup?.allowSave, false);
    assert.equal(dup?.matchResults[0]?.matchRecords[0]?.record.Id, existing.id);
    const updated = await update([
      contact({ id: deleted.id, Title: 'x' }),
      contact({ id: 'garbage', Title: 'x' }),
      contact({ id: '003000000000001AAA', Title: 'x' }),
      contact({ Title: 'no id' }),
    ]);
    assert.deepEqual(
      updated.body.map((x) => x.errors[0]?.statusCode),
      ['ENTITY_IS_DELETED', 'MALFORMED_ID', 'INVALID_CROSS_REFERENCE_KEY', 'MISSING_ARGUMENT'],
    );
    // A duplicate rule that only alerts lets the save through.
    org.sandbox.setDuplicateRule('Contact', { allowSave: true });
    const allowed = await create([contact({ LastName: 'Dup3', Email: 'dup@example.com' })]);
    assert.equal(allowed.body[0]?.success, true);
  });

  test('compound address read-only, restricted picklist values, lookups that must point at a live record', async () => {
    const manager = org.sandbox.createRecord('Contact', { LastName: 'Boss' });
    const gone = org.sandbox.createRecord('Contact', { LastName: 'Gone' });
    org.sandbox.deleteRecord('Contact', gone.id);
    const created = await create([
      contact({ LastName: 'A1', MailingAddress: 'x' }),
      contact({ LastName: 'A2', MailingGeocodeAccuracy: 'Somewhere' }),
      contact({ LastName: 'A3', MailingGeocodeAccuracy: 'Zip', MailingLongitude: -122.39 }),
      contact({ LastName: 'A4', AccountId: '001000000000001AAA' }),
      contact({ LastName: 'A5', ReportsToId: manager.id }),
      contact({ LastName: 'A6', ReportsToId: gone.id }),
      contact({ LastName: 'A7', ReportsToId: org.sandbox.store.identity.userId }),
    ]);
    assert.deepEqual(
      created.body.map((r) => [r.success, r.errors[0]?.statusCode, r.errors[0]?.fields]),
      [
        [false, 'INVALID_FIELD_FOR_INSERT_UPDATE', ['MailingAddress']],
        [false, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', ['MailingGeocodeAccuracy']],
        [true, undefined, undefined],
        [false, 'INVALID_CROSS_REFERENCE_KEY', ['AccountId']],
        [true, undefined, undefined],
        [false, 'INVALID_CROSS_REFERENCE_KEY', ['ReportsToId']],
        [false, 'MALFORMED_ID', ['ReportsToId']],
      ],
    );
  });

  test('UNABLE_TO_LOCK_ROW for a share of record writes (every second one at 0.5)', async () => {
    org.sandbox.injectFaults({ lockErrorShare: 0.5 });
    const r = await create(Array.from({ length: 6 }, (_, i) => contact({ LastName: `Lock${i}` })));
    assert.deepEqual(
      r.body.map((x) => x.success),
      [true, false, true, false, true, false],
    );
    assert.equal(r.body[1]?.errors[0]?.statusCode, 'UNABLE_TO_LOCK_ROW');
    org.sandbox.injectFaults({ lockErrorShare: 0, lockErrorsNext: 1 });
    const next = await create([contact({ LastName: 'L1' }), contact({ LastName: 'L2' })]);
    assert.deepEqual(
      next.body.map((x) => x.success),
      [false, true],
    );
  });

  test('retrieve by ids and fields; null for unknown or deleted ids; delete by ids', async () => {
    const a = org.sandbox.createRecord('Lead', { LastName: 'Ra', Company: 'C', Email: 'ra@example.com' });
    const b = org.sandbox.createRecord('Lead', { LastName: 'Rb', Company: 'C' });
    const got = await org.json<Array<Record<string, unknown> | null>>(
      `${org.base}/composite/sobjects/Lead?ids=${a.id},00Q000000000001AAA,${b.id}&fields=LastName,Email`,
    );
    assert.equal(got.status, 200);
    assert.deepEqual(
      got.body.map((r) => r?.LastName ?? null),
      ['Ra', null, 'Rb'],
    );
    assert.deepEqual(Object.keys(got.body[0] ?? {}), ['attributes', 'LastName', 'Email']);
    const del = await org.json<SaveResult[]>(`${org.base}/composite/sobjects?ids=${a.id},${a.id},bad&allOrNone=false`, {
      method: 'DELETE',
    });
    assert.deepEqual(
      del.body.map((x) => [x.success, x.errors[0]?.statusCode]),
      [
        [true, undefined],
        [false, 'ENTITY_IS_DELETED'],
        [false, 'MALFORMED_ID'],
      ],
    );
    const after = await org.json<Array<Record<string, unknown> | null>>(
      `${org.base}/composite/sobjects/Lead?ids=${a.id}&fields=LastName`,
    );
    assert.deepEqual(after.body, [null]);
    const badField = await org.json<ApiErrorBody[]>(`${org.base}/composite/sobjects/Lead?ids=${b.id}&fields=Nope`);
    assert.equal(badField.status, 400);
    assert.equal(badField.body[0]?.errorCode, 'INVALID_FIELD');
  });

  test('a record without attributes.type fails the request', async () => {
    const r = await org.json<ApiErrorBody[]>(`${org.base}/composite/sobjects`, {
      method: 'POST',
      json: { records: [{ LastName: 'x' }] },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body[0]?.errorCode, 'INVALID_TYPE');
  });
});
