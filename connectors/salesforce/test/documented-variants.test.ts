/**
 * Answers Salesforce's documentation allows that the sandbox does not give, from a bare server with canned answers:
 * the connector must take every documented variant, not only the sandbox's.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { QuotaExhaustedError, RetryableError, type WriteOp } from '@tandem/core/plugin';
import {
  CONTACT_DESCRIBE,
  contactRow,
  fakeConnector,
  ORG_ID,
  pathOf,
  startFakeOrg,
  tokenAnswer,
  USER_ID,
  type FakeAnswer,
  type FakeOrg,
  type FakeRequest,
} from './fake-org';
import { collect } from './helpers';

const BASE = '/services/data/v63.0/';

/** Runs `run` with an org whose REST API answers `answer` (the token endpoint on the same host). */
async function withOrg(
  answer: (req: FakeRequest, org: FakeOrg) => FakeAnswer | undefined,
  run: (org: FakeOrg) => Promise<void>,
): Promise<void> {
  const holder: { org?: FakeOrg } = {};
  const org = await startFakeOrg((req) => {
    const self = holder.org as FakeOrg;
    if (pathOf(req) === '/services/oauth2/token') return tokenAnswer(self.url);
    if (pathOf(req) === `${BASE}sobjects/Contact/describe`) return CONTACT_DESCRIBE;
    return answer(req, self);
  });
  holder.org = org;
  try {
    await run(org);
  } finally {
    await org.close();
  }
}

describe('documented variants', () => {
  test('instance_url on another host than SALESFORCE_URL: every REST request goes to the instance', async () => {
    const instance = await startFakeOrg((req) => {
      const path = pathOf(req);
      if (path === `/id/${ORG_ID}/${USER_ID}`) return { body: { username: 'integration@example.com' } };
      if (path === '/services/data/') return { body: [{ version: '63.0', url: '/services/data/v63.0' }] };
      if (path === `${BASE}sobjects/Contact/describe`) return CONTACT_DESCRIBE;
      if (path === `${BASE}query`) {
        return {
          body: {
            totalSize: 1,
            done: true,
            records: [contactRow('003000000000001AAA', 'ada@example.com', 'Lovelace')],
          },
        };
      }
      return undefined;
    });
    const login = await startFakeOrg((req) =>
      pathOf(req) === '/services/oauth2/token' ? tokenAnswer(instance.url) : undefined,
    );
    try {
      const c = fakeConnector(login.url);
      const checked = await c.check();
      assert.equal(checked.ok, true, checked.message);
      assert.equal(checked.identity, 'integration@example.com');
      const found = await c.findByEmail('Contact', ['ada@example.com'], { fields: ['Email', 'LastName'] });
      assert.deepEqual(
        found.map((r) => [r.id, r.fields.LastName]),
        [['003000000000001AAA', 'Lovelace']],
      );
      assert.deepEqual(
        login.requests.map((r) => pathOf(r)),
        ['/services/oauth2/token'],
        'only the token request goes to SALESFORCE_URL',
      );
      await c.close();
    } finally {
      await Promise.all([login.close(), instance.close()]);
    }
  });

  test('check() on an instance that serves neither the identity URL nor the Versions resource: ok, the session proven by the Limits resource', async () => {
    await withOrg(
      (req) =>
        pathOf(req) === `${BASE}limits`
          ? {
              body: { DailyApiRequests: { Max: 15000, Remaining: 14982 } },
              headers: { 'sforce-limit-info': 'api-usage=18/15000' },
            }
          : undefined,
      async (org) => {
        const c = fakeConnector(org.url);
        const checked = await c.check();
        assert.equal(checked.ok, true, checked.message);
        assert.equal(checked.identity, USER_ID);
        assert.equal(checked.instance, ORG_ID);
        assert.equal(org.requests.filter((r) => pathOf(r) === `${BASE}limits`).length, 1);
        await c.close();
      },
    );
  });

  test('a nextRecordsUrl given as an absolute URL on the instance: the read follows it', async () => {
    await withOrg(
      (req, org) => {
        const path = pathOf(req);
        if (path === `${BASE}queryAll`) {
          return {
            body: {
              totalSize: 2,
              done: false,
              nextRecordsUrl: `${org.url}${BASE}query/01g000000000001AAA-1`,
              records: [contactRow('003000000000001AAA', 'ada@example.com', 'Lovelace')],
            },
          };
        }
        if (path === `${BASE}query/01g000000000001AAA-1`) {
          return {
            body: { totalSize: 2, done: true, records: [contactRow('003000000000002AAA', 'b@example.com', 'B')] },
          };
        }
        return undefined;
      },
      async (org) => {
        const c = fakeConnector(org.url);
        const pages = await collect(c.readChanges('Contact', null, { fields: ['Email', 'LastName'] }));
        assert.deepEqual(
          pages.flatMap((p) => p.records.map((r) => r.id)),
          ['003000000000001AAA', '003000000000002AAA'],
        );
        await c.close();
      },
    );
  });

  test('REQUEST_LIMIT_EXCEEDED whatever its message says: the allocation is spent, no retry', async () => {
    await withOrg(
      (req) =>
        pathOf(req) === `${BASE}query`
          ? {
              status: 403,
              body: [{ message: 'API request limit exceeded for this org.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }],
            }
          : undefined,
      async (org) => {
        const c = fakeConnector(org.url);
        await assert.rejects(
          c.findByEmail('Contact', ['ada@example.com'], { fields: ['Email'] }),
          (e: unknown) => e instanceof QuotaExhaustedError,
        );
        assert.equal(org.requests.filter((r) => pathOf(r) === `${BASE}query`).length, 1, 'not retried');
        await c.close();
      },
    );
  });

  test('UNABLE_TO_LOCK_ROW for a whole request: sent again (nothing was applied), and retryable if it persists', async () => {
    let refusals = 2;
    const locked = {
      status: 400,
      body: [{ message: 'unable to obtain exclusive access to this record', errorCode: 'UNABLE_TO_LOCK_ROW' }],
    };
    await withOrg(
      (req) => {
        if (pathOf(req) !== `${BASE}query`) return undefined;
        if (refusals-- > 0) return locked;
        return {
          body: {
            totalSize: 1,
            done: true,
            records: [contactRow('003000000000001AAA', 'ada@example.com', 'Lovelace')],
          },
        };
      },
      async (org) => {
        const c = fakeConnector(org.url);
        const found = await c.findByEmail('Contact', ['ada@example.com'], { fields: ['Email', 'LastName'] });
        assert.deepEqual(
          found.map((r) => r.id),
          ['003000000000001AAA'],
        );
        assert.equal(org.requests.filter((r) => pathOf(r) === `${BASE}query`).length, 3, 'sent again twice');
        await c.close();
      },
    );
    await withOrg(
      (req) => (pathOf(req) === `${BASE}query` ? locked : undefined),
      async (org) => {
        const c = fakeConnector(org.url);
        await assert.rejects(
          c.findByEmail('Contact', ['ada@example.com'], { fields: ['Email'] }),
          (e: unknown) => e instanceof RetryableError && /UNABLE_TO_LOCK_ROW/.test(e.message),
        );
        await c.close();
      },
    );
  });

  test('a Bulk API 2.0 job that failed midway: what it saved is reported saved, what it refused refused, the rest failed (retryable)', async () => {
    const job = bulkJob((rows) => ({
      info: { state: 'Failed', numberRecordsProcessed: 151, numberRecordsFailed: 1, errorMessage: 'Batch timed out' },
      successful: rows.slice(0, 150).map((row, i) => [contactId(i), 'true', ...row]),
      failed: [
        ['', 'REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --', ...(rows[150] ?? [])],
      ],
    }));
    await withOrg(job.answer, async (org) => {
      const c = fakeConnector(org.url, { bulkThreshold: 201 });
      const results = await c.write('Contact', creates(201));
      assert.deepEqual(
        results.slice(0, 150).map((r) => (r.status === 'created' ? r.id : r.status)),
        Array.from({ length: 150 }, (_, i) => contactId(i)),
      );
      assert.equal(results[150]?.status, 'rejected');
      assert.ok(results.slice(151).every((r) => r.status === 'failed' && r.retryable));
      assert.match(results[200]?.status === 'failed' ? results[200].message : '', /Batch timed out/);
      await c.close();
    });
  });

  test('Bulk API 2.0 results with the sent columns in another order, every cell quoted, CRLF line endings', async () => {
    const job = bulkJob((rows, header) => ({
      info: { state: 'JobComplete', numberRecordsProcessed: rows.length, numberRecordsFailed: 0 },
      successful: rows.map((row, i) => [contactId(i), 'true', ...[...row].reverse()]),
      header: ['sf__Id', 'sf__Created', ...[...header].reverse()],
    }));
    await withOrg(job.answer, async (org) => {
      const c = fakeConnector(org.url, { bulkThreshold: 201 });
      const results = await c.write('Contact', creates(201));
      assert.deepEqual(
        results.map((r) => (r.status === 'created' ? r.id : r.status)),
        Array.from({ length: 201 }, (_, i) => contactId(i)),
      );
      await c.close();
    });
  });
});

const JOB = '750000000000001AAA';

function contactId(i: number): string {
  return `003${String(i).padStart(12, '0')}AAA`;
}

function creates(n: number): WriteOp[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: 'create' as const,
    ref: `r${i}`,
    fields: { LastName: `Person ${i}`, Email: `p${i}@example.com` },
  }));
}

interface JobOutcome {
  info: Record<string, unknown>;
  successful?: string[][];
  failed?: string[][];
  /** The successful results' header (default: Salesforce's columns, then the columns sent). */
  header?: string[];
}

/** A Bulk API 2.0 ingest job whose outcome `finish` gives from the rows uploaded; result files quoted, CRLF. */
function bulkJob(finish: (rows: string[][], header: string[]) => JobOutcome) {
  let uploaded: string[][] = [];
  const csv = (rows: string[][]) => stringify(rows, { quoted: true, record_delimiter: '\r\n' });
  const answer = (req: FakeRequest): FakeAnswer | undefined => {
    const path = pathOf(req);
    if (req.method === 'POST' && path === `${BASE}jobs/ingest`) {
      return { body: { id: JOB, state: 'Open', object: 'Contact', operation: 'insert', contentType: 'CSV' } };
    }
    if (req.method === 'PUT' && path === `${BASE}jobs/ingest/${JOB}/batches`) {
      uploaded = parse(req.body) as string[][];
      return { status: 201 };
    }
    if (req.method === 'PATCH' && path === `${BASE}jobs/ingest/${JOB}`)
      return { body: { id: JOB, state: 'UploadComplete' } };
    const [header = [], ...rows] = uploaded;
    const outcome = finish(rows, header);
    if (req.method === 'GET' && path === `${BASE}jobs/ingest/${JOB}`) return { body: { id: JOB, ...outcome.info } };
    const text = { 'content-type': 'text/csv' };
    if (path === `${BASE}jobs/ingest/${JOB}/successfulResults/`) {
      return {
        headers: text,
        body: csv([outcome.header ?? ['sf__Id', 'sf__Created', ...header], ...(outcome.successful ?? [])]),
      };
    }
    if (path === `${BASE}jobs/ingest/${JOB}/failedResults/`) {
      return { headers: text, body: csv([['sf__Id', 'sf__Error', ...header], ...(outcome.failed ?? [])]) };
    }
    return undefined;
  };
  return { answer };
}
