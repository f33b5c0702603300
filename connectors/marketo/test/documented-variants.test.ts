/**
 * Answers Adobe's documentation allows that the sandbox does not give: the connector must take each of them. Every
 * test drives a bare server with canned answers (see `canned.ts`) and names the page that allows the variant.
 */
import 'reflect-metadata';
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectorAuthError } from '@tandem/core/plugin';
import { startCanned, type CannedAnswer, type CannedRequest, type CannedServer } from './canned';
import { collect } from './helpers';

let server: CannedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function canned(answer: (req: CannedRequest) => CannedAnswer | undefined): Promise<CannedServer> {
  server = await startCanned(answer);
  return server;
}

const ok = (result: unknown[], more: Record<string, unknown> = {}) => ({
  body: { requestId: 'r#1', success: true, result, ...more },
});

test("Sync Leads: a skipped record's reason as the Swagger's single `reason` object is read like `reasons`", async () => {
  // https://developer.adobe.com/marketo-apis/api/mapi (model "Lead": `reason`, a Reason object).
  const s = await canned((req) =>
    req.method === 'POST' && req.path === '/rest/v1/leads.json'
      ? ok([{ status: 'skipped', reason: { code: '1005', message: 'Lead already exists' } }])
      : undefined,
  );
  const [result] = await s.connect().write('lead', [{ kind: 'create', ref: 'a', fields: { email: 'a@example.com' } }]);
  assert.deepEqual(result, { ref: 'a', status: 'rejected', code: '1005', message: 'Lead already exists' });
});

test('an error envelope under an HTTP error status is read by its code: a 601 under HTTP 401 gets a new token', async () => {
  // The docs send 601 in an HTTP 200 envelope (error-codes.md); a gateway may put the same envelope under a 401.
  let refused = 0;
  const s = await canned((req) =>
    req.path === '/rest/v1/leads/describe2.json' && refused++ === 0
      ? {
          status: 401,
          body: { requestId: 'r#1', success: false, errors: [{ code: '601', message: 'Access token invalid' }] },
        }
      : undefined,
  );
  const description = await s.connect().describe('lead');
  assert.ok(description.fields.some((f) => f.name === 'email'));
  assert.equal(s.to('/identity/oauth/token').length, 2, 'a second token');
  assert.equal(s.to('/rest/v1/leads/describe2.json').length, 2, 'the call tried again');
});

test('702 "No data found" on a read is an empty result, not a failure', async () => {
  // https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes (702).
  const s = await canned((req) =>
    req.path === '/rest/v1/leads.json'
      ? { body: { requestId: 'r#1', success: false, errors: [{ code: 702, message: 'No data found' }] } }
      : undefined,
  );
  assert.deepEqual(await s.connect().get('lead', ['5', '6'], { fields: ['email'] }), []);
});

test('614 "Invalid Subscription", "usually temporary inaccessibility", is retried', async () => {
  let calls = 0;
  const s = await canned((req) => {
    if (req.path !== '/rest/v1/leads.json') return undefined;
    if (calls++ === 0)
      return { body: { requestId: 'r#1', success: false, errors: [{ code: '614', message: 'Invalid Subscription' }] } };
    return ok([{ id: 5, email: 'five@example.com', updatedAt: '2024-01-01T00:00:00Z' }]);
  });
  const [lead] = await s.connect().get('lead', ['5'], { fields: ['email'] });
  assert.equal(lead?.fields.email, 'five@example.com');
  assert.equal(calls, 2);
});

test('the token endpoint: a 401 without a body, or an OAuth error body under 200, is a credentials error', async () => {
  for (const answer of [
    { status: 401, body: '' },
    { body: { error: 'invalid_client', error_description: 'Bad client credentials' } },
  ]) {
    const s = await canned((req) => (req.path === '/identity/oauth/token' ? answer : undefined));
    await assert.rejects(s.connect().describe('lead'), (error: unknown) => {
      assert.ok(error instanceof ConnectorAuthError, String(error));
      assert.match(error.message, /refused the client credentials .*check MARKETO_CLIENT_ID and MARKETO_CLIENT_SECRET/);
      return true;
    });
    await s.close();
    server = undefined;
  }
});

test('a last page of Get Lead Changes or Get Deleted Leads without a nextPageToken: the feed stays where it was', async () => {
  // The Swagger gives nextPageToken "if the result set exceeded the allowed batch size" (ResponseOfLeadChange).
  const s = await canned((req) => {
    if (req.path === '/rest/v1/activities/leadchanges.json' || req.path === '/rest/v1/activities/deletedleads.json') {
      return ok([]);
    }
    return undefined;
  });
  const cursor = JSON.stringify({ v: 1, phase: 'incremental', token: 'T1', deletes: 'D1' });
  const pages = await collect(s.connect().readChanges('lead', cursor, { fields: ['email'] }));
  assert.equal(pages.length, 1);
  assert.equal(pages[0]?.done, true);
  assert.deepEqual(JSON.parse(pages[0]?.cursor ?? ''), { v: 1, phase: 'incremental', token: 'T1', deletes: 'D1' });
});

test('Get Leads by Filter Type giving a nextPageToken without moreResult: the next page is read', async () => {
  // paging-tokens.md sets moreResult with the token; the Swagger only says a token "will be returned" when there is more.
  const s = await canned((req) => {
    if (req.path !== '/rest/v1/leads.json') return undefined;
    const lead = (id: number) => ({ id, email: 'same@example.com', updatedAt: '2024-01-01T00:00:00Z' });
    return req.query.get('nextPageToken') === 'P2' ? ok([lead(2)]) : ok([lead(1)], { nextPageToken: 'P2' });
  });
  const found = await s.connect().findByEmail('lead', ['same@example.com'], { fields: ['email'] });
  assert.deepEqual(
    found.map((r) => r.id),
    ['1', '2'],
  );
  assert.equal(s.to('/rest/v1/leads.json').length, 2);
});

/** Answers 413 to a body over 1 MB (error-codes.md, "HTTP-Level errors"), as Marketo does. */
const tooLarge = (req: CannedRequest): CannedAnswer | undefined =>
  Buffer.byteLength(req.body) > 1_000_000 ? { status: 413, body: 'Request Entity Too Large' } : undefined;

test('Sync Leads: 300 records past the 1 MB body limit go in more calls, each under it', async () => {
  const s = await canned((req) => {
    if (req.method !== 'POST' || req.path !== '/rest/v1/leads.json') return undefined;
    const input = (JSON.parse(req.body) as { input: unknown[] }).input;
    return tooLarge(req) ?? ok(input.map((_, i) => ({ id: 1000 + i, status: 'created' })));
  });
  const ops = Array.from({ length: 300 }, (_, i) => ({
    kind: 'create' as const,
    ref: `r${i}`,
    fields: { email: `p${i}@example.com`, title: 'x'.repeat(4000) },
  }));
  const results = await s.connect().write('lead', ops);
  assert.equal(results.filter((r) => r.status === 'created').length, 300);
  const posts = s.requests.filter((r) => r.method === 'POST' && r.path === '/rest/v1/leads.json');
  assert.equal(posts.length, 2);
  for (const post of posts) assert.ok(Buffer.byteLength(post.body) <= 1_000_000);
});

test('custom activities: 300 with long details past the 1 MB body limit go in more calls, each under it', async () => {
  const s = await canned((req) => {
    if (req.path === '/rest/v1/activities/external/types.json') {
      return ok([{ id: 100001, apiName: 'tandemSync', status: 'approved' }]);
    }
    if (req.path !== '/rest/v1/activities/external.json') return undefined;
    const input = (JSON.parse(req.body) as { input: unknown[] }).input;
    return tooLarge(req) ?? ok(input.map((_, i) => ({ id: i, marketoGUID: String(i), status: 'added' })));
  });
  const at = '2024-01-01T00:00:00Z';
  const events = Array.from({ length: 300 }, (_, i) => ({
    recordId: String(i + 1),
    type: 'rejected' as const,
    at,
    summary: 'Rejected',
    detail: 'd'.repeat(4000),
  }));
  const c = s.connect();
  await c.logActivity('lead', events);
  assert.equal(c.stats().activitiesAdded, 300);
  const posts = s.to('/rest/v1/activities/external.json');
  assert.equal(posts.length, 2);
  for (const post of posts) assert.ok(Buffer.byteLength(post.body) <= 1_000_000);
});

test('Describe2: the field types the docs name (Score, Percent, Text area, capitalised) map to Tandem types', async () => {
  // https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/field-types
  const field = (name: string, dataType: string) => ({
    name,
    displayName: name,
    dataType,
    updateable: true,
    crmManaged: false,
  });
  const s = await canned((req) =>
    req.path === '/rest/v1/leads/describe2.json'
      ? ok([
          {
            name: 'API Lead',
            searchableFields: [['email']],
            fields: [
              field('email', 'Email'),
              field('leadScore', 'score'),
              field('probability', 'percent'),
              field('notes', 'textarea'),
              field('vip', 'Boolean'),
              field('mystery', 'formula'),
            ],
          },
        ])
      : undefined,
  );
  const description = await s.connect().describe('lead');
  assert.deepEqual(Object.fromEntries(description.fields.map((f) => [f.name, f.type])), {
    email: 'email',
    leadScore: 'integer',
    probability: 'integer',
    notes: 'text',
    vip: 'boolean',
    mystery: 'other',
  });
});
