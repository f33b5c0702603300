/**
 * The sandbox against the documented shapes ([MK-DEV] authentication.md, error-codes.md, leads.md,
 * paging-tokens.md, activities.md), spoken to with plain HTTP, not through the connector.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { MarketoSandbox } from '../src/sandbox';

let sandbox: MarketoSandbox;
let url = '';
let token = '';
let close: () => Promise<void>;

async function http(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown, auth = true) {
  const response = await request(`${url}${path}`, {
    method,
    headers: {
      ...(auth ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    status: response.statusCode,
    type: String(response.headers['content-type']),
    text,
    json: json as Record<string, unknown>,
  };
}

const identity = () =>
  http(
    'GET',
    `/identity/oauth/token?grant_type=client_credentials&client_id=${sandbox.clientId}&client_secret=${sandbox.clientSecret}`,
    undefined,
    false,
  );

function assertEnvelope(body: Record<string, unknown>, success: boolean): void {
  assert.equal(typeof body.requestId, 'string');
  assert.match(String(body.requestId), /^[0-9a-f]+#[0-9a-f]+$/);
  assert.equal(body.success, success);
  if (!success) {
    assert.ok(Array.isArray(body.errors));
    const [error] = body.errors as Array<Record<string, unknown>>;
    assert.equal(typeof error?.code, 'string', 'error codes are strings holding integers');
    assert.equal(typeof error?.message, 'string');
  }
}

const errorCode = (body: Record<string, unknown>) => (body.errors as Array<{ code: string }> | undefined)?.[0]?.code;

before(async () => {
  sandbox = new MarketoSandbox();
  const running = await sandbox.start({ seed: true, people: 320, limits: { callsPerWindow: 10_000 } });
  url = running.url;
  close = running.close;
  token = String((await identity()).json.access_token);
});
after(() => close());

describe('identity', () => {
  test('client_credentials answers the four documented fields; the same token until expiry', async () => {
    const first = await identity();
    assert.equal(first.status, 200);
    assert.deepEqual(Object.keys(first.json).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);
    assert.equal(first.json.token_type, 'bearer');
    assert.ok(Number(first.json.expires_in) <= 3600 && Number(first.json.expires_in) > 3500);
    assert.match(String(first.json.access_token), /:int$/);
    assert.equal(first.json.access_token, token);
  });

  test('bad credentials: HTTP 401 invalid_client', async () => {
    const bad = await http(
      'GET',
      `/identity/oauth/token?grant_type=client_credentials&client_id=x&client_secret=y`,
      undefined,
      false,
    );
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error, 'invalid_client');
  });

  test('601 without/with an unknown token, 602 after expiry, and neither counts against the limits', async () => {
    const none = await http('GET', '/rest/v1/leads/describe2.json', undefined, false);
    assertEnvelope(none.json, false);
    assert.equal(errorCode(none.json), '601');
    sandbox.expireTokens();
    const expired = await http('GET', '/rest/v1/leads/describe2.json');
    assert.equal(errorCode(expired.json), '602');
    token = String((await identity()).json.access_token);
    assert.equal((await http('GET', '/rest/v1/leads/describe2.json')).json.success, true);
  });
});

describe('leads', () => {
  test('describe and describe2 have the documented shapes', async () => {
    const d1 = await http('GET', '/rest/v1/leads/describe.json');
    assertEnvelope(d1.json, true);
    const email = (d1.json.result as Array<Record<string, unknown>>).find(
      (f) => (f.rest as { name: string }).name === 'email',
    );
    assert.deepEqual(Object.keys(email ?? {}).sort(), ['dataType', 'displayName', 'id', 'length', 'rest', 'soap']);
    const d2 = await http('GET', '/rest/v1/leads/describe2.json');
    const [api] = d2.json.result as Array<Record<string, unknown>>;
    assert.equal(api?.name, 'API Lead');
    assert.ok(Array.isArray(api?.searchableFields));
    const field = (api?.fields as Array<Record<string, unknown>>).find((f) => f.name === 'microsoftType');
    assert.deepEqual(field, {
      name: 'microsoftType',
      displayName: 'Microsoft Type',
      dataType: 'string',
      length: 255,
      updateable: true,
      crmManaged: false,
    });
  });

  test('Get Leads pages with batchSize, moreResult and nextPageToken; default fields', async () => {
    const ids = Array.from({ length: 5 }, (_, i) => i + 1).join(',');
    const first = await http('GET', `/rest/v1/leads.json?filterType=id&filterValues=${ids}&batchSize=2`);
    assertEnvelope(first.json, true);
    assert.equal(first.json.moreResult, true);
    assert.equal((first.json.result as unknown[]).length, 2);
    const [lead] = first.json.result as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(lead ?? {}).sort(), [
      'createdAt',
      'email',
      'firstName',
      'id',
      'lastName',
      'updatedAt',
    ]);
    assert.match(String(lead?.createdAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    let token2 = String(first.json.nextPageToken);
    const seen = [...(first.json.result as Array<{ id: number }>).map((l) => l.id)];
    for (;;) {
      const next = await http(
        'GET',
        `/rest/v1/leads.json?filterType=id&filterValues=${ids}&batchSize=2&nextPageToken=${token2}`,
      );
      seen.push(...(next.json.result as Array<{ id: number }>).map((l) => l.id));
      if (!next.json.moreResult) break;
      token2 = String(next.json.nextPageToken);
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  });

  test('Get Leads: no match is success with an empty result; bad field 1006; >300 values 1003; unsupported filterType 1011', async () => {
    const none = await http('GET', '/rest/v1/leads.json?filterType=email&filterValues=nobody@example.com');
    assert.deepEqual(none.json.result, []);
    assert.equal(
      errorCode((await http('GET', '/rest/v1/leads.json?filterType=id&filterValues=1&fields=nope')).json),
      '1006',
    );
    const many = Array.from({ length: 301 }, (_, i) => i + 1).join(',');
    assert.equal(errorCode((await http('GET', `/rest/v1/leads.json?filterType=id&filterValues=${many}`)).json), '1003');
    assert.equal(
      errorCode((await http('GET', '/rest/v1/leads.json?filterType=firstName&filterValues=Ada')).json),
      '1011',
    );
  });

  test('Sync Leads: record-level statuses and reason codes 1003/1004/1005/1006/1007, in input order', async () => {
    await http('POST', '/rest/v1/leads.json', {
      action: 'createDuplicate',
      input: [{ email: 'twin@example.com' }, { email: 'twin@example.com' }],
    });
    const existing = String(sandbox.getPerson(1)?.values.email);
    const res = await http('POST', '/rest/v1/leads.json', {
      action: 'createOnly',
      lookupField: 'email',
      input: [
        { email: 'fresh@example.com' },
        { email: existing },
        { email: 'x@example.com', shoeSize: 3 },
        { id: 5, email: 'y@example.com' },
      ],
    });
    assertEnvelope(res.json, true);
    const r = res.json.result as Array<Record<string, unknown>>;
    assert.equal(r[0]?.status, 'created');
    assert.equal(typeof r[0]?.id, 'number');
    assert.deepEqual(
      r.slice(1).map((x) => (x.reasons as Array<{ code: string }>)[0]?.code),
      ['1005', '1006', '1003'],
    );
    assert.ok(r.slice(1).every((x) => x.status === 'skipped' && x.id === undefined));
    const upd = await http('POST', '/rest/v1/leads.json', {
      action: 'updateOnly',
      lookupField: 'email',
      input: [
        { email: existing, title: 'X' },
        { email: 'ghost@example.com', title: 'Y' },
        { email: 'twin@example.com', title: 'Z' },
      ],
    });
    const u = upd.json.result as Array<Record<string, unknown>>;
    assert.deepEqual(u[0], { id: 1, status: 'updated' });
    assert.deepEqual(
      u.slice(1).map((x) => (x.reasons as Array<{ code: string }>)[0]?.code),
      ['1004', '1007'],
    );
    const upsert = await http('POST', '/rest/v1/leads.json', {
      input: [{ email: existing, city: 'Oslo' }, { email: 'upsert@example.com' }],
    });
    assert.deepEqual(
      (upsert.json.result as Array<{ status: string }>).map((x) => x.status),
      ['updated', 'created'],
    );
  });

  test('protocol errors: 609 invalid JSON, 612 wrong content type, 610 unknown resource, 1003 >300 records', async () => {
    const bad = await request(`${url}/rest/v1/leads.json`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"input":[',
    });
    assert.equal(errorCode((await bad.body.json()) as Record<string, unknown>), '609');
    assert.equal(errorCode((await http('POST', '/rest/v1/leads.json', 'input=1')).json), '612');
    assert.equal(errorCode((await http('GET', '/rest/v1/nothing.json')).json), '610');
    const input = Array.from({ length: 301 }, (_, i) => ({ email: `n${i}@example.com` }));
    assert.equal(errorCode((await http('POST', '/rest/v1/leads.json', { input })).json), '1003');
  });
});

describe('activities', () => {
  test('paging token, then leadchanges: only types 12/13 for the asked fields, moreResult and nextPageToken always', async () => {
    const pt = await http(
      'GET',
      `/rest/v1/activities/pagingtoken.json?sinceDatetime=${encodeURIComponent(new Date().toISOString())}`,
    );
    assertEnvelope(pt.json, true);
    assert.equal(pt.json.result, undefined);
    const start = String(pt.json.nextPageToken);
    assert.equal(
      errorCode((await http('GET', '/rest/v1/activities/pagingtoken.json?sinceDatetime=yesterday')).json),
      '704',
    );

    sandbox.editPerson(2, { title: 'Edited', city: 'Riga' });
    const created = sandbox.createPerson({ email: 'brand.new@example.com', firstName: 'Brand', lastName: 'New' });
    const lc = await http('GET', `/rest/v1/activities/leadchanges.json?nextPageToken=${start}&fields=title,firstName`);
    assertEnvelope(lc.json, true);
    assert.equal(lc.json.moreResult, false);
    assert.equal(typeof lc.json.nextPageToken, 'string');
    const items = lc.json.result as Array<Record<string, unknown>>;
    assert.deepEqual(
      items.map((i) => [i.leadId, i.activityTypeId]),
      [
        [2, 13],
        [created.id, 12],
      ],
    );
    const [change, newLead] = items;
    const changed = change?.fields as Array<{ id: number; name: string; newValue: unknown; oldValue: unknown }>;
    assert.deepEqual(
      changed.map((f) => [f.id, f.name, f.newValue]),
      [[5, 'title', 'Edited']],
    );
    assert.ok('oldValue' in (changed[0] ?? {}));
    assert.match(String(change?.activityDate), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/);
    assert.deepEqual(Object.keys(change ?? {}).sort(), [
      'activityDate',
      'activityTypeId',
      'attributes',
      'fields',
      'id',
      'leadId',
      'marketoGUID',
    ]);
    assert.equal(newLead?.primaryAttributeValueId, created.id);
    assert.equal(newLead?.primaryAttributeValue, 'Brand New');

    const empty = await http(
      'GET',
      `/rest/v1/activities/leadchanges.json?nextPageToken=${String(lc.json.nextPageToken)}&fields=title`,
    );
    assert.equal(empty.json.result, undefined, 'no result member when nothing changed');
    assert.equal(empty.json.moreResult, false);
    assert.equal(
      errorCode((await http('GET', `/rest/v1/activities/leadchanges.json?nextPageToken=${start}`)).json),
      '701',
    );
  });

  test('leadchanges pages by batchSize over the log', async () => {
    const start = String(
      (await http('GET', `/rest/v1/activities/pagingtoken.json?sinceDatetime=2000-01-01T00:00:00Z`)).json.nextPageToken,
    );
    const page = await http(
      'GET',
      `/rest/v1/activities/leadchanges.json?nextPageToken=${start}&fields=email&batchSize=300`,
    );
    assert.equal((page.json.result as unknown[]).length, 300);
    assert.equal(page.json.moreResult, true);
  });

  test('custom activity types: create (draft), attributes, approve; add activities; read them back', async () => {
    const created = await http('POST', '/rest/v1/activities/external/type.json', {
      apiName: 'syncTest',
      name: 'Sync Test',
      triggerName: 'Sync Tested',
      filterName: 'Was Sync Tested',
      primaryAttribute: { apiName: 'what', name: 'What' },
    });
    const [type] = created.json.result as Array<Record<string, unknown>>;
    assert.equal(type?.status, 'draft');
    assert.ok(Number(type?.id) >= 100001);
    await http('POST', '/rest/v1/activities/external/type/syncTest/attributes/create.json', {
      attributes: [{ apiName: 'note', name: 'Note', dataType: 'string' }],
    });
    const input = [
      {
        leadId: 1,
        activityDate: new Date().toISOString(),
        activityTypeId: type?.id,
        primaryAttributeValue: 'x',
        attributes: [{ apiName: 'note', value: 'hi' }],
      },
    ];
    const draft = await http('POST', '/rest/v1/activities/external.json', { input });
    assert.equal((draft.json.result as Array<{ status: string }>)[0]?.status, 'skipped');
    await http('POST', '/rest/v1/activities/external/type/syncTest/approve.json', {});
    const added = await http('POST', '/rest/v1/activities/external.json', {
      input: [...input, { ...input[0], leadId: 99999 }],
    });
    const [ok, missing] = added.json.result as Array<Record<string, unknown>>;
    assert.equal(ok?.status, 'added');
    assert.equal(typeof ok?.marketoGUID, 'string');
    assert.deepEqual(missing, { status: 'skipped', errors: [{ code: '1004', message: 'Lead not found' }] });
    const start = String(
      (await http('GET', `/rest/v1/activities/pagingtoken.json?sinceDatetime=2000-01-01T00:00:00Z`)).json.nextPageToken,
    );
    let next = start;
    const found: Array<Record<string, unknown>> = [];
    for (;;) {
      const page = await http(
        'GET',
        `/rest/v1/activities.json?nextPageToken=${next}&activityTypeIds=${String(type?.id)}`,
      );
      found.push(...((page.json.result as Array<Record<string, unknown>> | undefined) ?? []));
      if (!page.json.moreResult) break;
      next = String(page.json.nextPageToken);
    }
    assert.equal(found.length, 1);
    assert.deepEqual(found[0]?.attributes, [{ name: 'Note', value: 'hi' }]);
    const types = await http('GET', '/rest/v1/activities/external/types.json');
    assert.ok((types.json.result as Array<{ apiName: string }>).some((t) => t.apiName === 'syncTest'));
  });
});

describe('limits and control hooks', () => {
  test('606 past the rolling window, 615 past the concurrency limit, 607 past the daily quota', async () => {
    sandbox.setLimits({ callsPerWindow: 2, windowMs: 60_000 });
    sandbox.resetWindow();
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await http('GET', '/rest/v1/leads/describe2.json')).json.errors);
    assert.equal((codes[2] as Array<{ code: string; message: string }>)[0]?.code, '606');
    assert.match(
      (codes[2] as Array<{ message: string }>)[0]?.message ?? '',
      /Max rate limit '2' exceeded with in '60' secs/,
    );

    sandbox.setLimits({ callsPerWindow: 1000, maxConcurrent: 1 });
    sandbox.setFaults({ latencyMs: 100 });
    const both = await Promise.all([
      http('GET', '/rest/v1/leads/describe2.json'),
      http('GET', '/rest/v1/leads/describe2.json'),
    ]);
    assert.deepEqual(both.map((b) => b.json.success).sort(), [false, true]);
    assert.ok(both.some((b) => errorCode(b.json) === '615'));
    sandbox.setFaults({ latencyMs: 0 });

    sandbox.setLimits({ maxConcurrent: 10, dailyQuota: 0 });
    assert.equal(errorCode((await http('GET', '/rest/v1/leads/describe2.json')).json), '607');
    sandbox.setLimits({ dailyQuota: 50_000 });
    sandbox.resetQuota();
  });

  test('control hooks over HTTP: create, edit (recorded as a change), activities, counters, faults', async () => {
    const created = await http(
      'POST',
      '/__sandbox/persons',
      { fields: { email: 'hook@example.com', firstName: 'Hook' } },
      false,
    );
    const id = Number(created.json.id);
    await http('PATCH', `/__sandbox/persons/${id}`, { fields: { firstName: 'Edited' } }, false);
    const person = await http('GET', `/__sandbox/persons/${id}`, undefined, false);
    assert.equal((person.json.values as Record<string, unknown>).firstName, 'Edited');
    const log = await http('GET', `/__sandbox/persons/${id}/activities`, undefined, false);
    assert.deepEqual(
      (log.json as unknown as Array<{ activityTypeId: number }>).map((a) => a.activityTypeId),
      [12, 13],
    );
    await http('POST', '/__sandbox/counters/reset', {}, false);
    await http('POST', '/__sandbox/faults', { failEvery: { n: 1, code: 608 } }, false);
    assert.equal(errorCode((await http('GET', '/rest/v1/leads/describe2.json')).json), '608');
    await http('POST', '/__sandbox/faults', { failEvery: null, malformedEvery: 1 }, false);
    const malformed = await http('GET', '/rest/v1/leads/describe2.json');
    assert.equal(malformed.json, undefined);
    await http('POST', '/__sandbox/faults', { malformedEvery: null, tokenHtml: true }, false);
    assert.match((await identity()).type, /text\/html/);
    await http('POST', '/__sandbox/faults', { tokenHtml: false }, false);
    const counters = await http('GET', '/__sandbox/counters', undefined, false);
    assert.equal(counters.json.restCalls, 2);
    assert.deepEqual(counters.json.byEndpoint, { 'GET /v1/leads/describe2.json': 2 });
  });
});

test('the CLI starts a standalone sandbox and prints {url, clientId, clientSecret}', async () => {
  const child = spawn(process.execPath, [
    join(__dirname, '..', 'src', 'sandbox', 'cli.js'),
    '--port',
    '0',
    '--people',
    '7',
  ]);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`cli exited with ${code}`)));
    });
    const info = JSON.parse(line) as { url: string; clientId: string; clientSecret: string };
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const tokenAnswer = await request(
      `${info.url}/identity/oauth/token?grant_type=client_credentials&client_id=${info.clientId}&client_secret=${info.clientSecret}`,
    );
    const { access_token } = (await tokenAnswer.body.json()) as { access_token: string };
    const persons = await request(`${info.url}/__sandbox/persons`);
    assert.equal(((await persons.body.json()) as unknown[]).length, 7);
    assert.ok(access_token);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});
