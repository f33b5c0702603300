/**
 * The sandbox against the documented shapes (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/:
 * authentication, error-codes, lead-database/leads, paging-tokens, activities), spoken to with plain HTTP, not
 * through the connector.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MarketoSandbox } from '../src';
import { Client, assertEnvelope, errorCode, results } from './http';

let sandbox: MarketoSandbox;
let c: Client;
let close: () => Promise<void>;

before(async () => {
  sandbox = new MarketoSandbox();
  const running = await sandbox.start({ seed: true, people: 320, limits: { callsPerWindow: 10_000 } });
  close = running.close;
  c = new Client(running.url, sandbox);
  await c.authenticate();
});
after(() => close());

const q = encodeURIComponent;

describe('identity', () => {
  test('client_credentials answers the four documented fields; the same token until expiry', async () => {
    const first = await c.identity();
    assert.equal(first.status, 200);
    assert.deepEqual(Object.keys(first.json).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);
    assert.equal(first.json.token_type, 'bearer');
    assert.ok(Number(first.json.expires_in) <= 3599 && Number(first.json.expires_in) > 3500);
    assert.match(String(first.json.access_token), /:int$/);
    assert.equal(first.json.access_token, c.token);
  });

  test('issued tokens are listed (for tests that scan for leaked credentials)', () => {
    assert.ok(sandbox.issuedTokens().includes(c.token));
  });

  test('bad credentials: HTTP 401', async () => {
    const bad = await c.identity('x', 'y');
    assert.equal(bad.status, 401);
  });

  test('601 without/with an unknown token, 602 after expiry, and neither counts against the limits', async () => {
    sandbox.setLimits({ callsPerWindow: 1, windowMs: 60_000 });
    sandbox.resetWindow();
    try {
      const none = await c.http('GET', '/rest/v1/leads/describe2.json', undefined, false);
      assertEnvelope(none.json, false);
      assert.equal(errorCode(none.json), '601');
      sandbox.expireTokens();
      const expired = await c.http('GET', '/rest/v1/leads/describe2.json');
      assert.equal(errorCode(expired.json), '602');
      await c.authenticate();
      // The window holds one call: had 601 or 602 counted, this would be 606.
      assert.equal((await c.http('GET', '/rest/v1/leads/describe2.json')).json.success, true);
      assert.equal(errorCode((await c.http('GET', '/rest/v1/leads/describe2.json')).json), '606');
    } finally {
      sandbox.setLimits({ callsPerWindow: 10_000, windowMs: 20_000 });
      sandbox.resetWindow();
    }
  });

  test('the deprecated access_token query parameter still works', async () => {
    const answer = await c.http('GET', `/rest/v1/leads/describe2.json?access_token=${q(c.token)}`, undefined, false);
    assert.equal(answer.json.success, true);
  });
});

describe('leads', () => {
  test('describe and describe2 have the documented shapes', async () => {
    const d1 = await c.http('GET', '/rest/v1/leads/describe.json');
    assertEnvelope(d1.json, true);
    const company = results(d1).find((f) => (f.rest as { name: string }).name === 'company');
    // The example of leads.md, "Describe" (its id aside).
    assert.deepEqual(
      { ...company, id: 0 },
      {
        id: 0,
        displayName: 'Company Name',
        dataType: 'string',
        length: 255,
        rest: { name: 'company', readOnly: false },
        soap: { name: 'Company', readOnly: false },
      },
    );
    const d2 = await c.http('GET', '/rest/v1/leads/describe2.json');
    const [api] = results(d2);
    assert.equal(api?.name, 'API Lead');
    const fields = api?.fields as Array<Record<string, unknown>>;
    assert.deepEqual(
      fields.find((f) => f.name === 'email'),
      {
        name: 'email',
        displayName: 'Email Address',
        dataType: 'email',
        length: 255,
        updateable: true,
        crmManaged: false,
      },
    );
    assert.deepEqual(
      fields.find((f) => f.name === 'updatedAt'),
      { name: 'updatedAt', displayName: 'Updated At', dataType: 'datetime', updateable: false, crmManaged: false },
    );
    assert.equal(fields.length, results(d1).length, 'both describe the same fields');
  });

  test('Get Leads pages with batchSize, moreResult and an URL-encoded nextPageToken; default fields', async () => {
    const ids = Array.from({ length: 5 }, (_, i) => i + 1).join(',');
    const first = await c.http('GET', `/rest/v1/leads.json?filterType=id&filterValues=${ids}&batchSize=2`);
    assertEnvelope(first.json, true);
    assert.equal(first.json.moreResult, true);
    assert.equal(results(first).length, 2);
    const [lead] = results(first);
    assert.deepEqual(Object.keys(lead ?? {}).sort(), [
      'createdAt',
      'email',
      'firstName',
      'id',
      'lastName',
      'updatedAt',
    ]);
    // Lead datetimes as leads.md's Get Leads example writes them.
    assert.match(String(lead?.createdAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    let token = String(first.json.nextPageToken);
    assert.match(token, /^[A-Z2-7]+=*$/, 'base32, like the tokens of the documentation');
    const seen = results(first).map((l) => l.id);
    for (;;) {
      const next = await c.http(
        'GET',
        `/rest/v1/leads.json?filterType=id&filterValues=${ids}&batchSize=2&nextPageToken=${q(token)}`,
      );
      seen.push(...results(next).map((l) => l.id));
      if (!next.json.moreResult) break;
      token = String(next.json.nextPageToken);
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  });

  test('Get Leads: no match is an empty result; bad field 1006; >300 values 1003; unsupported filterType 1011', async () => {
    const none = await c.http('GET', '/rest/v1/leads.json?filterType=email&filterValues=nobody@example.com');
    assert.deepEqual(none.json.result, []);
    const get = async (query: string) => errorCode((await c.http('GET', `/rest/v1/leads.json?${query}`)).json);
    assert.equal(await get('filterType=id&filterValues=1&fields=nope'), '1006');
    const many = Array.from({ length: 301 }, (_, i) => i + 1).join(',');
    assert.equal(await get(`filterType=id&filterValues=${many}`), '1003');
    assert.equal(await get('filterType=firstName&filterValues=Ada'), '1011');
    assert.equal(await get('filterType=shoeSize&filterValues=3'), '1006');
    assert.equal(await get('filterValues=3'), '701');
  });

  test('Get Leads: more than 1000 matches is 1003 "Too many results match the filter"', async () => {
    const s = new MarketoSandbox();
    const running = await s.start({ limits: { callsPerWindow: 10_000 } });
    try {
      for (let i = 0; i < 1001; i++) s.createPerson({ email: 'shared@example.com' });
      const client = new Client(running.url, s);
      await client.authenticate();
      const answer = await client.http('GET', '/rest/v1/leads.json?filterType=email&filterValues=shared@example.com');
      assertEnvelope(answer.json, false);
      assert.deepEqual(answer.json.errors, [{ code: '1003', message: 'Too many results match the filter' }]);
    } finally {
      await running.close();
    }
  });

  test('a URI over 8 KB is 414; the same query as POST with _method=GET is answered', async () => {
    const emails = Array.from({ length: 300 }, (_, i) => `a.rather.long.address.number.${i}@subsidiary.example.com`);
    const query = `filterType=email&filterValues=${q(emails.join(','))}&fields=email`;
    assert.ok(query.length > 8192);
    const long = await c.http('GET', `/rest/v1/leads.json?${query}`);
    assert.equal(long.status, 414);
    const viaPost = await fetch(`${c.url}/rest/v1/leads.json?_method=GET`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: query,
    });
    const answer = (await viaPost.json()) as Record<string, unknown>;
    assertEnvelope(answer, true);
    assert.deepEqual(answer.result, []);
  });

  test('Sync Leads: record-level statuses and reason codes 1001/1003/1004/1005/1006/1007, in input order', async () => {
    await c.http('POST', '/rest/v1/leads.json', {
      action: 'createDuplicate',
      input: [{ email: 'twin@example.com' }, { email: 'twin@example.com' }],
    });
    const existing = String(sandbox.getPerson(1)?.values.email);
    const res = await c.http('POST', '/rest/v1/leads.json', {
      action: 'createOnly',
      lookupField: 'email',
      input: [
        { email: 'fresh@example.com' },
        { email: existing },
        { email: 'x@example.com', shoeSize: 3 },
        { id: 5, email: 'y@example.com' },
        { email: 'z@example.com', leadScore: 'high' },
      ],
    });
    assertEnvelope(res.json, true);
    const r = results(res);
    assert.equal(r[0]?.status, 'created');
    assert.equal(typeof r[0]?.id, 'number');
    assert.deepEqual(
      r.slice(1).map((x) => (x.reasons as Array<{ code: string }>)[0]?.code),
      ['1005', '1006', '1003', '1001'],
    );
    assert.deepEqual(r[2]?.reasons, [{ code: '1006', message: "Field 'shoeSize' not found" }]);
    assert.ok(r.slice(1).every((x) => x.status === 'skipped' && x.id === undefined));
    const upd = await c.http('POST', '/rest/v1/leads.json', {
      action: 'updateOnly',
      lookupField: 'email',
      input: [
        { email: existing, title: 'X' },
        { email: 'ghost@example.com', title: 'Y' },
        { email: 'twin@example.com', title: 'Z' },
      ],
    });
    const u = results(upd);
    assert.deepEqual(u[0], { id: 1, status: 'updated' });
    assert.deepEqual(
      u.slice(1).map((x) => (x.reasons as Array<{ code: string }>)[0]?.code),
      ['1004', '1007'],
    );
    const upsert = await c.http('POST', '/rest/v1/leads.json', {
      input: [{ email: existing, city: 'Oslo' }, { email: 'upsert@example.com' }],
    });
    assert.deepEqual(
      results(upsert).map((x) => x.status),
      ['updated', 'created'],
    );
  });

  test('protocol errors: 609 bad JSON, 612 wrong content type, 610 unknown resource, 605 wrong method, 1003 >300 records', async () => {
    const bad = await fetch(`${c.url}/rest/v1/leads.json`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
      body: '{"input":[',
    });
    assert.equal(errorCode((await bad.json()) as Record<string, unknown>), '609');
    assert.equal(errorCode((await c.http('POST', '/rest/v1/leads.json', 'input=1')).json), '612');
    const form = await fetch(`${c.url}/rest/v1/leads.json`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'action=createOnly',
    });
    assert.equal(errorCode((await form.json()) as Record<string, unknown>), '612', 'a form body is no Sync Leads body');
    assert.equal(errorCode((await c.http('GET', '/rest/v1/nothing.json')).json), '610');
    const wrongMethod = await c.http('GET', '/rest/v1/leads/delete.json');
    assert.equal(wrongMethod.status, 200);
    assert.equal(errorCode(wrongMethod.json), '605');
    const input = Array.from({ length: 301 }, (_, i) => ({ email: `n${i}@example.com` }));
    assert.equal(errorCode((await c.http('POST', '/rest/v1/leads.json', { input })).json), '1003');
  });
});

describe('activities', () => {
  const token = async (since: string) =>
    String((await c.http('GET', `/rest/v1/activities/pagingtoken.json?sinceDatetime=${q(since)}`)).json.nextPageToken);

  test('paging token, then leadchanges: types 12/13 for the asked fields, as activities.md shows them', async () => {
    const pt = await c.http('GET', `/rest/v1/activities/pagingtoken.json?sinceDatetime=${q(new Date().toISOString())}`);
    assertEnvelope(pt.json, true);
    assert.equal(pt.json.result, undefined);
    const start = String(pt.json.nextPageToken);
    const bad = await c.http('GET', '/rest/v1/activities/pagingtoken.json?sinceDatetime=yesterday');
    assert.equal(errorCode(bad.json), '704');

    sandbox.editPerson(2, { title: 'Edited', city: 'Riga', leadScore: 42 });
    const created = sandbox.createPerson({ email: 'brand.new@example.com', firstName: 'Brand', lastName: 'New' });
    const lc = await c.http(
      'GET',
      `/rest/v1/activities/leadchanges.json?nextPageToken=${q(start)}&fields=title,firstName,leadScore`,
    );
    assertEnvelope(lc.json, true);
    assert.equal(lc.json.moreResult, false);
    assert.equal(typeof lc.json.nextPageToken, 'string');
    const items = results(lc);
    assert.deepEqual(
      items.map((i) => [i.leadId, i.activityTypeId]),
      [
        [2, 13],
        [2, 13],
        [created.id, 12],
      ],
    );
    const [title, score, newLead] = items;
    assert.deepEqual(Object.keys(title ?? {}).sort(), [
      'activityDate',
      'activityTypeId',
      'attributes',
      'fields',
      'id',
      'leadId',
      'marketoGUID',
    ]);
    // newValue and oldValue are text (Swagger LeadChangeField), a number's too.
    const [changed] = title?.fields as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(changed ?? {}).sort(), ['id', 'name', 'newValue', 'oldValue']);
    assert.deepEqual([changed?.name, changed?.newValue], ['title', 'Edited']);
    assert.equal(typeof changed?.oldValue, 'string', 'the seeded title');
    assert.deepEqual(
      (score?.fields as Array<Record<string, unknown>>).map((f) => [f.name, f.newValue]),
      [['leadScore', '42']],
    );
    assert.deepEqual(title?.attributes, [
      { name: 'Reason', value: 'Marketo UI' },
      { name: 'Source', value: 'Marketo UI' },
      { name: 'Lead ID', value: 2 },
    ]);
    assert.match(String(title?.activityDate), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/);
    // New Lead: no fields; the lead id and name as primary attribute (the blog's lead-changes sample).
    assert.equal(newLead?.fields, undefined);
    assert.equal(newLead?.primaryAttributeValueId, created.id);
    assert.equal(newLead?.primaryAttributeValue, 'Brand New');
    assert.deepEqual(
      (newLead?.attributes as Array<{ name: string }>).map((a) => a.name),
      ['Created Date', 'Source Type'],
    );

    const empty = await c.http(
      'GET',
      `/rest/v1/activities/leadchanges.json?nextPageToken=${q(String(lc.json.nextPageToken))}&fields=title`,
    );
    assert.equal(empty.json.result, undefined, 'no result member when nothing changed');
    assert.equal(empty.json.moreResult, false);
    assert.equal(typeof empty.json.nextPageToken, 'string', 'nextPageToken is always there');
    assert.equal(
      errorCode((await c.http('GET', `/rest/v1/activities/leadchanges.json?nextPageToken=${q(start)}`)).json),
      '701',
    );
    const unknownField = await c.http(
      'GET',
      `/rest/v1/activities/leadchanges.json?nextPageToken=${q(start)}&fields=nope`,
    );
    assert.equal(errorCode(unknownField.json), '1006');
  });

  test('a leadchanges page can be shorter than batchSize, even empty, while moreResult is true', async () => {
    const start = await token(new Date(Date.now() + 1000).toISOString().replace(/\.\d+Z$/, 'Z'));
    sandbox.store.now = () => Date.now() + 2000;
    try {
      sandbox.editPerson(3, { city: 'Nowhere' });
      sandbox.editPerson(3, { city: 'Elsewhere' });
      sandbox.editPerson(3, { title: 'Titled' });
    } finally {
      sandbox.store.now = Date.now;
    }
    const first = await c.http(
      'GET',
      `/rest/v1/activities/leadchanges.json?nextPageToken=${q(start)}&fields=title&batchSize=2`,
    );
    assert.equal(first.json.result, undefined);
    assert.equal(first.json.moreResult, true);
    const second = await c.http(
      'GET',
      `/rest/v1/activities/leadchanges.json?nextPageToken=${q(String(first.json.nextPageToken))}&fields=title&batchSize=2`,
    );
    assert.deepEqual(
      results(second).map((i) => i.leadId),
      [3],
    );
  });

  test('leadchanges pages by batchSize over the log', async () => {
    const start = await token('2000-01-01T00:00:00Z');
    const page = await c.http(
      'GET',
      `/rest/v1/activities/leadchanges.json?nextPageToken=${q(start)}&fields=email&batchSize=300`,
    );
    assert.equal(results(page).length, 300);
    assert.equal(page.json.moreResult, true);
  });

  test('custom activity types: create (a draft, no id), attributes, approve; add activities; read them back', async () => {
    const created = await c.http('POST', '/rest/v1/activities/external/type.json', {
      apiName: 'syncTest',
      name: 'Sync Test',
      triggerName: 'Sync Tested',
      filterName: 'Was Sync Tested',
      primaryAttribute: { apiName: 'what', name: 'What' },
    });
    const [type] = results(created);
    assert.equal(type?.status, 'draft');
    assert.equal(type?.id, undefined, 'the create example of activities.md has no id');
    const withAttributes = await c.http('POST', '/rest/v1/activities/external/type/syncTest/attributes/create.json', {
      attributes: [{ apiName: 'note', name: 'Note', dataType: 'string' }],
    });
    const typeId = Number(results(withAttributes)[0]?.id);
    assert.ok(typeId >= 100001);
    const input = [
      {
        leadId: 1,
        activityDate: new Date().toISOString(),
        activityTypeId: typeId,
        primaryAttributeValue: 'x',
        attributes: [{ apiName: 'note', value: 'hi' }],
      },
    ];
    const draft = await c.http('POST', '/rest/v1/activities/external.json', { input });
    assert.equal(results(draft)[0]?.status, 'skipped', 'a draft takes no activities');
    await c.http('POST', '/rest/v1/activities/external/type/syncTest/approve.json', {});
    const added = await c.http('POST', '/rest/v1/activities/external.json', {
      input: [...input, { ...input[0], leadId: 99999 }],
    });
    const [ok, missing] = results(added);
    assert.equal(ok?.status, 'added');
    assert.equal(typeof ok?.marketoGUID, 'string');
    assert.deepEqual(missing, { status: 'skipped', errors: [{ code: '1004', message: 'Lead not found' }] });
    let next = await token('2000-01-01T00:00:00Z');
    const found: Array<Record<string, unknown>> = [];
    for (;;) {
      const page = await c.http('GET', `/rest/v1/activities.json?nextPageToken=${q(next)}&activityTypeIds=${typeId}`);
      found.push(...results(page));
      if (!page.json.moreResult) break;
      next = String(page.json.nextPageToken);
    }
    assert.equal(found.length, 1);
    assert.deepEqual(found[0]?.attributes, [{ name: 'Note', value: 'hi' }]);
    assert.match(String(found[0]?.activityDate), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'the form of its example');
    const types = await c.http('GET', '/rest/v1/activities/external/types.json');
    const listed = results(types).find((t) => t.apiName === 'syncTest');
    assert.deepEqual(Object.keys(listed ?? {}).sort(), [
      'apiName',
      'createdAt',
      'filterName',
      'id',
      'name',
      'status',
      'triggerName',
      'updatedAt',
    ]);
  });
});

describe('an empty instance', () => {
  test('its first pages: no leads, no activities, a paging token all the same', async () => {
    const s = new MarketoSandbox();
    const running = await s.start({});
    try {
      const client = new Client(running.url, s);
      await client.authenticate();
      const leads = await client.http('GET', '/rest/v1/leads.json?filterType=id&filterValues=1,2,3');
      assert.deepEqual(leads.json.result, []);
      const pt = await client.http(
        'GET',
        `/rest/v1/activities/pagingtoken.json?sinceDatetime=${q('2000-01-01T00:00:00Z')}`,
      );
      const lc = await client.http(
        'GET',
        `/rest/v1/activities/leadchanges.json?nextPageToken=${q(String(pt.json.nextPageToken))}&fields=email`,
      );
      assertEnvelope(lc.json, true);
      assert.equal(lc.json.result, undefined);
      assert.equal(lc.json.moreResult, false);
      assert.equal(typeof lc.json.nextPageToken, 'string');
    } finally {
      await running.close();
    }
  });
});

describe('limits and control hooks', () => {
  test('606 past the rolling window (throttled calls count too), 615 past the concurrency limit, 607 past the daily quota', async () => {
    sandbox.setLimits({ callsPerWindow: 2, windowMs: 60_000 });
    sandbox.resetWindow();
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await c.http('GET', '/rest/v1/leads/describe2.json')).json.errors);
    assert.equal((codes[2] as Array<{ code: string; message: string }>)[0]?.code, '606');
    assert.match(
      (codes[2] as Array<{ message: string }>)[0]?.message ?? '',
      /Max rate limit '2' exceeded with in '60' secs/,
    );
    // The 606 counted: with room for four, the window holds three calls, so the fifth is refused.
    sandbox.setLimits({ callsPerWindow: 4 });
    assert.equal((await c.http('GET', '/rest/v1/leads/describe2.json')).json.success, true);
    assert.equal(errorCode((await c.http('GET', '/rest/v1/leads/describe2.json')).json), '606');

    sandbox.setLimits({ callsPerWindow: 1000, maxConcurrent: 1 });
    sandbox.setFaults({ latencyMs: 100 });
    const both = await Promise.all([
      c.http('GET', '/rest/v1/leads/describe2.json'),
      c.http('GET', '/rest/v1/leads/describe2.json'),
    ]);
    assert.deepEqual(both.map((b) => b.json.success).sort(), [false, true]);
    assert.ok(both.some((b) => errorCode(b.json) === '615'));
    sandbox.setFaults({ latencyMs: 0 });

    sandbox.setLimits({ maxConcurrent: 10, dailyQuota: 0 });
    assert.equal(errorCode((await c.http('GET', '/rest/v1/leads/describe2.json')).json), '607');
    sandbox.setLimits({ dailyQuota: 50_000, callsPerWindow: 10_000, windowMs: 20_000 });
    sandbox.resetQuota();
    sandbox.resetWindow();
  });

  test('random failures: about their share of calls, 606 in the envelope and 500 as HTTP, the same seed the same draws', async () => {
    const codes = async () => {
      sandbox.setFaults({
        randomFailures: {
          seed: 7,
          codes: [
            { code: 606, share: 0.25 },
            { code: 500, share: 0.05 },
          ],
        },
      });
      const out: string[] = [];
      for (let i = 0; i < 200; i++) {
        const answer = await c.http('GET', '/rest/v1/leads/describe2.json');
        out.push(answer.status === 200 ? (errorCode(answer.json) ?? 'ok') : `HTTP ${answer.status}`);
      }
      return out;
    };
    try {
      const first = await codes();
      const share = (code: string) => first.filter((x) => x === code).length / first.length;
      assert.ok(share('606') > 0.15 && share('606') < 0.35, `606 share ${share('606')}`);
      assert.ok(share('HTTP 500') > 0.01 && share('HTTP 500') < 0.1, `500 share ${share('HTTP 500')}`);
      assert.equal(share('ok') + share('606') + share('HTTP 500'), 1);
      assert.deepEqual(await codes(), first, 'the same seed draws the same failures');
    } finally {
      sandbox.setFaults({ randomFailures: null });
      sandbox.resetWindow();
    }
    assert.equal((await c.http('GET', '/rest/v1/leads/describe2.json')).json.success, true);
  });

  test('control hooks over HTTP: create, edit (recorded as a change), activities, hide a field, counters, faults', async () => {
    const created = await c.http(
      'POST',
      '/__sandbox/persons',
      { fields: { email: 'hook@example.com', firstName: 'Hook' } },
      false,
    );
    const id = Number(created.json.id);
    await c.http('PATCH', `/__sandbox/persons/${id}`, { fields: { firstName: 'Edited' } }, false);
    const person = await c.http('GET', `/__sandbox/persons/${id}`, undefined, false);
    assert.equal((person.json.values as Record<string, unknown>).firstName, 'Edited');
    const log = await c.http('GET', `/__sandbox/persons/${id}/activities`, undefined, false);
    assert.deepEqual(
      (log.json as unknown as Array<{ activityTypeId: number }>).map((a) => a.activityTypeId),
      [12, 13],
    );
    await c.http('POST', '/__sandbox/counters/reset', {}, false);
    await c.http('POST', '/__sandbox/faults', { failEvery: { n: 1, code: 608 } }, false);
    assert.equal(errorCode((await c.http('GET', '/rest/v1/leads/describe2.json')).json), '608');
    await c.http('POST', '/__sandbox/faults', { failEvery: null, malformedEvery: 1 }, false);
    const malformed = await c.http('GET', '/rest/v1/leads/describe2.json');
    assert.equal(malformed.json, undefined);
    await c.http('POST', '/__sandbox/faults', { malformedEvery: null, tokenHtml: true }, false);
    assert.match((await c.identity()).type, /text\/html/);
    await c.http('POST', '/__sandbox/faults', { tokenHtml: false }, false);
    const counters = await c.http('GET', '/__sandbox/counters', undefined, false);
    assert.equal(counters.json.restCalls, 2);
    assert.deepEqual(counters.json.byEndpoint, { 'GET /v1/leads/describe2.json': 2 });
  });
});
