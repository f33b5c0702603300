/**
 * Writes against the sandbox: what they cost (sObject Collections, Bulk API 2.0), what each per-record error
 * becomes, lock contention, the placeholder for required names, and results kept when a request fails midway.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WriteOp, WriteResult } from '@tandem/core/plugin';
import { apiCalls, CONTACT_FIELDS, LEAD_FIELDS, withHarness } from './helpers';

const creates = (n: number, label: string, extra: Record<string, string> = {}): WriteOp[] =>
  Array.from({ length: n }, (_, i) => ({
    kind: 'create',
    ref: `${label}${i}`,
    fields: { LastName: `${label}${i}`, Email: `${label}.${i}@example.com`, ...extra },
  }));

const statuses = (results: readonly WriteResult[]) =>
  results.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});

describe('what writes cost', () => {
  test('sObject Collections: 1,000 creates and 1,000 updates, 5 requests each (200 records a request)', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector();
      await c.describe('Contact');
      let results: WriteResult[] = [];
      const createCalls = await apiCalls(h.sandbox, async () => {
        results = await c.write('Contact', creates(1000, 'coll'));
      });
      assert.deepEqual(statuses(results), { created: 1000 });
      assert.equal(createCalls, 5);
      const updates: WriteOp[] = results.map((r, i) => ({
        kind: 'update',
        ref: `u${i}`,
        id: r.status === 'created' ? r.id : '',
        fields: { Title: `t${i}` },
      }));
      const updateCalls = await apiCalls(h.sandbox, async () => {
        results = await c.write('Contact', updates);
      });
      assert.deepEqual(statuses(results), { updated: 1000 });
      assert.equal(updateCalls, 5);
      // Each result names the record its own op wrote.
      const sample = results[737];
      assert.ok(sample?.status === 'updated');
      assert.equal(h.sandbox.getRecord('Contact', sample.id)?.values.Title, 't737');
    });
  });

  test('Bulk API 2.0 from the threshold: one job, a handful of requests whatever the number of records', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector();
      await c.describe('Lead');
      const counts: Record<number, number> = {};
      for (const n of [2000, 10_000]) {
        let results: WriteResult[] = [];
        counts[n] = await apiCalls(h.sandbox, async () => {
          results = await c.write('Lead', creates(n, `bulk${n}-`, { Company: 'Acme' }));
        });
        assert.deepEqual(statuses(results), { created: n });
        const last = results[n - 1];
        assert.ok(last?.status === 'created');
        assert.equal(h.sandbox.getRecord('Lead', last.id)?.values.LastName, `bulk${n}-${n - 1}`);
      }
      // Create the job, upload, close, look at it (the sandbox is done by the first look), read the results.
      assert.equal(counts[2000], 5);
      assert.equal(counts[10_000], 5);
      assert.equal(c.stats().bulkJobs, 2);
      // Below the threshold, Collections: 1,999 records would take 10 requests, more than a job's 5 (or more, with
      // a real org's longer processing and more looks at the job).
      assert.equal(await apiCalls(h.sandbox, () => c.write('Lead', creates(1999, 'below', { Company: 'Acme' }))), 10);
    });
  });

  test('Bulk API 2.0 results in any order, refusals and locks: each op its own result; locked rows go again', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector({ bulkThreshold: 300 });
      h.sandbox.addValidationRule({
        object: 'Contact',
        name: 'No_Robots',
        message: 'Robots may not be contacts',
        errorDisplayField: 'Title',
        when: { field: 'Title', operator: 'equals', value: 'Robot' },
      });
      const ops = creates(400, 'mixed').map((op, i) =>
        op.kind === 'create' && i % 50 === 7 ? { ...op, fields: { ...op.fields, Title: 'Robot' } } : op,
      );
      h.sandbox.injectFaults({ lockErrorsNext: 3 });
      const results = await c.write('Contact', ops);
      assert.deepEqual(statuses(results), { created: 392, rejected: 8 });
      const refused = results[57];
      assert.ok(refused?.status === 'rejected');
      assert.equal(refused.code, 'FIELD_CUSTOM_VALIDATION_EXCEPTION');
      assert.match(refused.message, /Robots may not be contacts/);
      results.forEach((r, i) => {
        if (r.status === 'created') assert.equal(h.sandbox.getRecord('Contact', r.id)?.values.LastName, `mixed${i}`);
      });
      assert.equal(c.stats().bulkJobs, 1);
      assert.equal(c.stats().lockRetries, 3, 'the three locked rows, sent again through Collections');
    });
  });

  test('writeMany: Contacts and Leads share Collections requests', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector();
      await c.describe('Contact');
      await c.describe('Lead');
      let results: WriteResult[][] = [];
      const calls = await apiCalls(h.sandbox, async () => {
        results = await c.writeMany([
          { objectType: 'Contact', ops: creates(120, 'wmc') },
          { objectType: 'Lead', ops: creates(80, 'wml', { Company: 'Acme' }) },
        ]);
      });
      assert.equal(calls, 1);
      assert.deepEqual(results.map(statuses), [{ created: 120 }, { created: 80 }]);
      const lead = results[1]?.[79];
      assert.ok(lead?.status === 'created' && lead.id.startsWith('00Q'));
    });
  });
});

describe('per-record outcomes', () => {
  test('validation rule, required field, duplicate rule, read-only field: rejected with Salesforce’s message; a deleted record: not-found', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector({ requiredPlaceholder: 'off' });
      h.sandbox.addValidationRule({
        object: 'Lead',
        name: 'Title_Required',
        message: 'A lead needs a title',
        when: { field: 'Title', operator: 'isBlank' },
      });
      const existing = h.sandbox.createRecord('Lead', {
        LastName: 'Dup',
        Company: 'Acme',
        Email: 'dup@example.com',
        Title: 'x',
      });
      const gone = h.sandbox.createRecord('Lead', { LastName: 'Gone', Company: 'Acme', Title: 'x' });
      h.sandbox.deleteRecord('Lead', gone.id);
      h.sandbox.setDuplicateRule('Lead', { allowSave: false });
      h.sandbox.setFieldSecurity('Lead', 'Rating', { read: true, edit: false });
      const results = await c.write('Lead', [
        { kind: 'create', ref: 'rule', fields: { LastName: 'R', Company: 'Acme' } },
        { kind: 'create', ref: 'required', fields: { LastName: 'Q', Title: 'x' } },
        {
          kind: 'create',
          ref: 'duplicate',
          fields: { LastName: 'D', Company: 'Acme', Title: 'x', Email: 'DUP@example.com' },
        },
        { kind: 'update', ref: 'readonly', id: existing.id, fields: { Rating: 'Hot' } },
        { kind: 'update', ref: 'gone', id: gone.id, fields: { Title: 'y' } },
        { kind: 'update', ref: 'malformed', id: 'not-an-id', fields: { Title: 'y' } },
        { kind: 'create', ref: 'fine', fields: { LastName: 'F', Company: 'Acme', Title: 'x' } },
      ]);
      const by = Object.fromEntries(results.map((r) => [r.ref, r]));
      const rejected = (ref: string, code: string, message: RegExp) => {
        const r = by[ref];
        assert.ok(r?.status === 'rejected', `${ref}: ${JSON.stringify(r)}`);
        assert.equal(r.code, code, ref);
        assert.match(r.message, message, ref);
      };
      rejected('rule', 'FIELD_CUSTOM_VALIDATION_EXCEPTION', /A lead needs a title/);
      rejected('required', 'REQUIRED_FIELD_MISSING', /Required fields are missing: \[Company\]/);
      rejected('duplicate', 'DUPLICATES_DETECTED', /Use one of these records/);
      rejected('readonly', 'INVALID_FIELD_FOR_INSERT_UPDATE', /Rating/);
      assert.equal(by.gone?.status, 'not-found');
      assert.match(by.gone?.status === 'not-found' ? by.gone.message : '', /ENTITY_IS_DELETED/);
      assert.equal(by.malformed?.status, 'not-found');
      assert.equal(by.fine?.status, 'created');
    });
  });

  test('UNABLE_TO_LOCK_ROW: sent again, a bounded number of times, then failed and retryable', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector();
      h.sandbox.injectFaults({ lockErrorsNext: 2 });
      const passing = await c.write('Contact', creates(3, 'lock'));
      assert.deepEqual(statuses(passing), { created: 3 });
      assert.equal(c.stats().lockRetries, 2);
      h.sandbox.injectFaults({ lockErrorShare: 1 });
      const [stuck] = await c.write('Contact', creates(1, 'stuck'));
      assert.ok(stuck?.status === 'failed');
      assert.equal(stuck.code, 'UNABLE_TO_LOCK_ROW');
      assert.equal(stuck.retryable, true);
      assert.equal(h.sandbox.getCounters().lockErrors, 2 + 4, 'the first try and three more');
    });
  });

  test('a request failing as a whole after others were saved: their results are kept, its records failed (retryable)', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector({ limits: { ...h.config.limits, maxRetries: 0 } as typeof h.config.limits });
      await c.describe('Contact');
      // Every second request answered 503: the first Collections request saves, the second is refused.
      h.sandbox.injectFaults({ unavailableShare: 0.5 });
      const results = await c.write('Contact', creates(300, 'half'));
      h.sandbox.clearFaults();
      assert.deepEqual(statuses(results), { created: 200, failed: 100 });
      const failed = results[250];
      assert.ok(failed?.status === 'failed' && failed.retryable);
      assert.match(failed.message, /may or may not have been created/);
    });
  });
});

describe('required names a person from elsewhere lacks', () => {
  test('a Lead without Company or LastName gets the placeholder; reads show them blank', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector();
      const [lead, contact] = await c.writeMany([
        { objectType: 'Lead', ops: [{ kind: 'create', ref: 'l', fields: { Email: 'only.email@example.com' } }] },
        { objectType: 'Contact', ops: [{ kind: 'create', ref: 'c', fields: { FirstName: 'Only' } }] },
      ]);
      const l = lead?.[0];
      const k = contact?.[0];
      assert.ok(l?.status === 'created' && k?.status === 'created');
      const stored = h.sandbox.getRecord('Lead', l.id)?.values;
      assert.deepEqual([stored?.Company, stored?.LastName], ['[not provided]', '[not provided]']);
      assert.equal(h.sandbox.getRecord('Contact', k.id)?.values.LastName, '[not provided]');
      const [read] = await c.get('Lead', [l.id], { fields: LEAD_FIELDS });
      assert.deepEqual([read?.fields.Company, read?.fields.LastName], [null, null]);
      // An update blanking a required name keeps the placeholder rather than being refused.
      const [blanked] = await c.write('Contact', [{ kind: 'update', ref: 'b', id: k.id, fields: { LastName: '' } }]);
      assert.equal(blanked?.status, 'updated');
      const [again] = await c.get('Contact', [k.id], { fields: CONTACT_FIELDS });
      assert.equal(again?.fields.LastName, null);
    });
  });

  test('configurable: another text, or off (Salesforce refuses the Lead: rejected)', async () => {
    await withHarness({}, async (h) => {
      const custom = h.connector({ requiredPlaceholder: 'Unknown' });
      const [made] = await custom.write('Lead', [{ kind: 'create', ref: 'x', fields: { LastName: 'Known' } }]);
      assert.ok(made?.status === 'created');
      assert.equal(h.sandbox.getRecord('Lead', made.id)?.values.Company, 'Unknown');
      const off = h.connector({ requiredPlaceholder: 'off' });
      const [refused] = await off.write('Lead', [{ kind: 'create', ref: 'y', fields: { LastName: 'Known' } }]);
      assert.ok(refused?.status === 'rejected');
      assert.equal(refused.code, 'REQUIRED_FIELD_MISSING');
    });
  });
});
