/**
 * The shape of the REST API: versions and resources, errors as arrays, the limits header and the daily
 * allocation, request-head size limits, 503 faults and latency, describe with field-level security.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiErrorBody } from './helpers';
import { startOrg, type Org } from './helpers';

describe('versions, resources, errors', () => {
  let org: Org;
  before(async () => {
    org = await startOrg();
  });
  after(async () => {
    await org.close();
  });

  test('GET /services/data/ lists versions without a session, and does not count', async () => {
    org.sandbox.resetCounters();
    const { status, body, response } = await org.json<Array<{ label: string; url: string; version: string }>>(
      '/services/data/',
      { auth: false },
    );
    assert.equal(status, 200);
    assert.deepEqual(
      body.find((v) => v.version === '63.0'),
      { label: "Spring '25", url: '/services/data/v63.0', version: '63.0' },
    );
    assert.deepEqual(
      body.find((v) => v.version === '20.0'),
      undefined,
    );
    assert.equal(response.headers.get('sforce-limit-info'), null);
    assert.equal(org.sandbox.getCounters().apiRequests, 0);
  });

  test("every answer's Date header is the org's time, also when the clock was moved", async () => {
    const at = Date.parse('2031-05-06T07:08:09Z');
    org.sandbox.setClock(at, { frozen: true });
    try {
      for (const path of ['/services/data/', `${org.base}/limits`, '/services/oauth2/token']) {
        const r = await org.call(path, { auth: path !== '/services/oauth2/token' });
        assert.equal(r.headers.get('date'), new Date(at).toUTCString(), path);
      }
    } finally {
      org.sandbox.clock.reset();
    }
  });

  test('resources by version include the identity URL (the org id)', async () => {
    const { status, body } = await org.json<Record<string, string>>(`${org.base}/`);
    assert.equal(status, 200);
    assert.equal(body.query, `${org.base}/query`);
    assert.equal(body.sobjects, `${org.base}/sobjects`);
    assert.match(body.identity ?? '', new RegExp(`/id/${org.running.instanceId}/005`));
    const latest = await org.json<Record<string, string>>('/services/data/latest');
    assert.equal(latest.status, 200);
  });

  test('unknown version or resource: 404 NOT_FOUND as an error array', async () => {
    for (const path of [
      '/services/data/v99.0/limits',
      '/services/data/v2.0/',
      `${org.base}/nothing`,
      `${org.base}/sobjects/Account`,
      `${org.base}/sobjects/Contact/003000000000001/extra`,
    ]) {
      const { status, body } = await org.json<ApiErrorBody[]>(path);
      assert.equal(status, 404, path);
      assert.equal(body[0]?.errorCode, 'NOT_FOUND', path);
      assert.equal(typeof body[0]?.message, 'string');
    }
  });

  test('a method a resource does not take: 405', async () => {
    const { status, body } = await org.json<ApiErrorBody[]>(`${org.base}/limits`, { method: 'DELETE' });
    assert.equal(status, 405);
    assert.equal(body[0]?.errorCode, 'METHOD_NOT_ALLOWED');
  });

  test('Organization: sobjects/Organization/<id> and SOQL answer the org id', async () => {
    const r = await org.json<{ Id: string; attributes: { type: string } }>(
      `${org.base}/sobjects/Organization/${org.running.instanceId}`,
    );
    assert.equal(r.status, 200);
    assert.equal(r.body.Id, org.running.instanceId);
    assert.equal(r.body.attributes.type, 'Organization');
    const w = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Organization`, {
      method: 'POST',
      json: { Name: 'x' },
    });
    assert.equal(w.status, 405);
  });
});

describe('API allocation', () => {
  let org: Org;
  before(async () => {
    org = await startOrg({ dailyApiAllocation: 5 });
  });
  after(async () => {
    await org.close();
  });

  test('every response carries Sforce-Limit-Info: api-usage=<used>/<allocation>; past it 403 REQUEST_LIMIT_EXCEEDED', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await org.call(`${org.base}/limits`);
      seen.push(r.headers.get('sforce-limit-info') ?? '');
    }
    assert.deepEqual(seen, ['api-usage=1/5', 'api-usage=2/5', 'api-usage=3/5', 'api-usage=4/5', 'api-usage=5/5']);
    const over = await org.json<ApiErrorBody[]>(`${org.base}/limits`);
    assert.equal(over.status, 403);
    assert.deepEqual(over.body, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    assert.equal(org.sandbox.getCounters().limitExceeded, 1);
    // The window rolls: a day later the requests have aged out.
    org.sandbox.advanceClock(24 * 3600 * 1000 + 1000);
    await org.token(); // the session timed out meanwhile
    const later = await org.call(`${org.base}/limits`);
    assert.equal(later.status, 200);
    assert.equal(later.headers.get('sforce-limit-info'), 'api-usage=1/5');
  });

  test('setApiUsage and /limits agree; errors count too', async () => {
    org.sandbox.setApiUsage({ used: 10, allocation: 100 });
    const bad = await org.call(`${org.base}/query?q=nonsense`);
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('sforce-limit-info'), 'api-usage=11/100');
    const { body } = await org.json<{ DailyApiRequests: { Max: number; Remaining: number } }>(`${org.base}/limits`);
    assert.deepEqual(body.DailyApiRequests, { Max: 100, Remaining: 88 });
  });
});

describe('request head size: 16,384 bytes of URI and headers', () => {
  let org: Org;
  before(async () => {
    org = await startOrg();
  });
  after(async () => {
    await org.close();
  });

  test('a long URI: 414; headers pushing it over: 431; just under: answered', async () => {
    await org.token();
    const long = `${org.base}/query?q=${'x'.repeat(17_000)}`;
    assert.equal((await org.call(long)).status, 414);
    const headers = { 'x-padding': 'y'.repeat(16_500) };
    assert.equal((await org.call(`${org.base}/limits`, { headers })).status, 431);
    const fits = `${org.base}/query?q=${encodeURIComponent('SELECT Id FROM Contact')}${'&z='.padEnd(14_000, 'z')}`;
    assert.equal((await org.call(fits)).status, 200);
    assert.equal(org.sandbox.getCounters().tooLarge, 2);
  });
});

describe('faults', () => {
  let org: Org;
  before(async () => {
    org = await startOrg();
  });
  after(async () => {
    org.sandbox.clearFaults();
    await org.close();
  });

  test('unavailableNext: the next N requests get 503 SERVER_UNAVAILABLE, then service resumes', async () => {
    await org.token();
    org.sandbox.injectFaults({ unavailableNext: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await org.json<ApiErrorBody[]>(`${org.base}/limits`)).status);
    assert.deepEqual(statuses, [503, 503, 200]);
  });

  test('unavailableShare 0.5: every second request, and 503s do not count against the allocation', async () => {
    org.sandbox.resetCounters();
    org.sandbox.injectFaults({ unavailableShare: 0.5 });
    const answers = [];
    for (let i = 0; i < 6; i++) {
      const r = await org.json<ApiErrorBody[]>(`${org.base}/limits`);
      answers.push(r.status === 503 ? r.body[0]?.errorCode : r.status);
    }
    assert.deepEqual(answers, [200, 'SERVER_UNAVAILABLE', 200, 'SERVER_UNAVAILABLE', 200, 'SERVER_UNAVAILABLE']);
    const c = org.sandbox.getCounters();
    assert.equal(c.unavailable, 3);
    assert.equal(c.apiRequests, 3);
    org.sandbox.clearFaults();
  });
});

interface DescribeBody {
  name: string;
  keyPrefix: string;
  fields: Array<{
    name: string;
    type: string;
    length: number;
    nillable: boolean;
    createable: boolean;
    updateable: boolean;
    defaultedOnCreate: boolean;
    defaultValue: unknown;
    custom: boolean;
    idLookup: boolean;
    picklistValues: Array<{ value: string; defaultValue: boolean }>;
    compoundFieldName: string | null;
    filterable: boolean;
    sortable: boolean;
    precision: number;
    scale: number;
    soapType: string;
    referenceTo: string[];
    restrictedPicklist: boolean;
  }>;
}

describe('describe and field-level security', () => {
  let org: Org;
  before(async () => {
    org = await startOrg({ extras: true });
  });
  after(async () => {
    await org.close();
  });

  test('Contact and Lead describe their standard fields as the Object Reference does', async () => {
    const contact = await org.json<DescribeBody>(`${org.base}/sobjects/Contact/describe`);
    assert.equal(contact.status, 200);
    assert.equal(contact.body.keyPrefix, '003');
    const f = (name: string) => contact.body.fields.find((x) => x.name === name);
    assert.deepEqual(
      ['LastName', 'FirstName', 'Email', 'Title', 'MailingStreet', 'MailingCity', 'SystemModstamp'].map((n) => [
        n,
        f(n)?.type,
        f(n)?.length,
      ]),
      [
        ['LastName', 'string', 80],
        ['FirstName', 'string', 40],
        ['Email', 'email', 80],
        ['Title', 'string', 128],
        ['MailingStreet', 'textarea', 255],
        ['MailingCity', 'string', 40],
        ['SystemModstamp', 'datetime', 0],
      ],
    );
    assert.equal(f('LastName')?.nillable, false);
    assert.equal(f('Id')?.createable, false);
    assert.equal(f('CreatedDate')?.updateable, false);
    assert.equal(f('HasOptedOutOfEmail')?.defaultedOnCreate, true);
    assert.equal(f('Email')?.idLookup, true);
    assert.equal(f('Lead_Score__c')?.custom, true, 'extras add custom fields');
    const lead = await org.json<DescribeBody>(`${org.base}/sobjects/Lead/describe`);
    const status = lead.body.fields.find((x) => x.name === 'Status');
    assert.equal(status?.defaultValue, 'Open - Not Contacted');
    assert.equal(status?.picklistValues.find((p) => p.defaultValue)?.value, 'Open - Not Contacted');
    assert.equal(lead.body.fields.find((x) => x.name === 'Company')?.nillable, false);
    const basic = await org.json<{ objectDescribe: { name: string; keyPrefix: string } }>(`${org.base}/sobjects/Lead`);
    assert.deepEqual([basic.body.objectDescribe.name, basic.body.objectDescribe.keyPrefix], ['Lead', '00Q']);
  });

  test('standard addresses: components and a read-only compound address; geocodes, lookups, currency', async () => {
    const contact = await org.json<DescribeBody>(`${org.base}/sobjects/Contact/describe`);
    const f = (name: string) => contact.body.fields.find((x) => x.name === name);
    const address = f('MailingAddress');
    assert.deepEqual(
      [
        address?.type,
        address?.soapType,
        address?.createable,
        address?.updateable,
        address?.nillable,
        address?.sortable,
      ],
      ['address', 'urn:address', false, false, true, false],
    );
    assert.deepEqual(
      ['MailingStreet', 'MailingCity', 'MailingLatitude', 'MailingGeocodeAccuracy', 'OtherCity'].map(
        (n) => f(n)?.compoundFieldName,
      ),
      ['MailingAddress', 'MailingAddress', 'MailingAddress', 'MailingAddress', 'OtherAddress'],
    );
    assert.deepEqual(
      ['FirstName', 'LastName', 'Salutation'].map((n) => f(n)?.compoundFieldName),
      ['Name', 'Name', 'Name'],
    );
    assert.deepEqual(
      [f('MailingLatitude')?.type, f('MailingLatitude')?.precision, f('MailingLatitude')?.scale],
      ['double', 18, 15],
    );
    assert.equal(f('MailingGeocodeAccuracy')?.restrictedPicklist, true);
    assert.deepEqual([f('AccountId')?.type, f('AccountId')?.referenceTo], ['reference', ['Account']]);
    assert.deepEqual([f('AssistantName')?.length, f('OtherPhone')?.type], [40, 'phone']);
    assert.deepEqual([f('PhotoUrl')?.createable, f('LastViewedDate')?.updateable], [false, false]);
    const lead = await org.json<DescribeBody>(`${org.base}/sobjects/Lead/describe`);
    const l = (name: string) => lead.body.fields.find((x) => x.name === name);
    assert.deepEqual([l('Address')?.type, l('City')?.compoundFieldName], ['address', 'Address']);
    assert.deepEqual(
      [l('AnnualRevenue')?.type, l('AnnualRevenue')?.soapType, l('AnnualRevenue')?.precision],
      ['currency', 'xsd:double', 18],
    );
    assert.deepEqual([l('ConvertedContactId')?.createable, l('ConvertedContactId')?.referenceTo], [false, ['Contact']]);
  });

  test('a compound address reads as one object of its components (null when all are empty), never filtered', async () => {
    const withAddress = org.sandbox.createRecord('Contact', {
      LastName: 'Addressed',
      MailingStreet: '1 Market St',
      MailingCity: 'San Francisco',
      MailingPostalCode: '94105',
      MailingLatitude: 37.79,
    });
    const without = org.sandbox.createRecord('Contact', { LastName: 'Homeless' });
    const q = await org.query<{ MailingAddress: unknown }>(
      `SELECT MailingAddress FROM Contact WHERE Id IN ('${withAddress.id}', '${without.id}') ORDER BY LastName`,
    );
    assert.equal(q.status, 200, JSON.stringify(q.body));
    assert.deepEqual(
      q.body.records.map((r) => r.MailingAddress),
      [
        {
          city: 'San Francisco',
          country: null,
          geocodeAccuracy: null,
          latitude: 37.79,
          longitude: null,
          postalCode: '94105',
          state: null,
          street: '1 Market St',
        },
        null,
      ],
    );
    for (const soql of [
      "SELECT Id FROM Contact WHERE MailingAddress = 'x'",
      'SELECT Id FROM Contact ORDER BY MailingAddress',
    ]) {
      const bad = await org.query(soql);
      assert.equal(bad.status, 400, soql);
      assert.equal((bad.body as unknown as ApiErrorBody[])[0]?.errorCode, 'INVALID_FIELD', soql);
    }
  });

  test('a vanilla org has no custom fields', async () => {
    const vanilla = await startOrg();
    try {
      const d = await vanilla.json<DescribeBody>(`${vanilla.base}/sobjects/Contact/describe`);
      assert.deepEqual(
        d.body.fields.filter((x) => x.custom),
        [],
      );
    } finally {
      await vanilla.close();
    }
  });

  test('hidden field: absent from describe, INVALID_FIELD in queries and writes', async () => {
    org.sandbox.setFieldSecurity('Contact', 'Title', { read: false, edit: false });
    try {
      const d = await org.json<DescribeBody>(`${org.base}/sobjects/Contact/describe`);
      assert.equal(
        d.body.fields.some((x) => x.name === 'Title'),
        false,
      );
      const q = await org.query('SELECT Id, Title FROM Contact');
      assert.equal(q.status, 400);
      const err = q.body as unknown as ApiErrorBody[];
      assert.equal(err[0]?.errorCode, 'INVALID_FIELD');
      assert.match(err[0]?.message ?? '', /No such column 'Title' on entity 'Contact'/);
      const w = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Contact`, {
        method: 'POST',
        json: { LastName: 'X', Title: 'CTO' },
      });
      assert.equal(w.status, 400);
      assert.equal(w.body[0]?.errorCode, 'INVALID_FIELD');
    } finally {
      org.sandbox.resetFieldSecurity();
    }
  });

  test('read-only field: createable/updateable false, writing it INVALID_FIELD_FOR_INSERT_UPDATE', async () => {
    org.sandbox.setFieldSecurity('Contact', 'Title', { read: true, edit: false });
    try {
      const d = await org.json<DescribeBody>(`${org.base}/sobjects/Contact/describe`);
      const title = d.body.fields.find((x) => x.name === 'Title');
      assert.deepEqual([title?.createable, title?.updateable], [false, false]);
      assert.equal((await org.query('SELECT Title FROM Contact')).status, 200);
      const w = await org.json<ApiErrorBody[]>(`${org.base}/sobjects/Contact`, {
        method: 'POST',
        json: { LastName: 'X', Title: 'CTO' },
      });
      assert.equal(w.status, 400);
      assert.equal(w.body[0]?.errorCode, 'INVALID_FIELD_FOR_INSERT_UPDATE');
      assert.deepEqual(w.body[0]?.fields, ['Title']);
    } finally {
      org.sandbox.resetFieldSecurity();
    }
  });

  test('required and platform fields cannot be restricted', () => {
    assert.throws(() => org.sandbox.setFieldSecurity('Contact', 'LastName', { read: false, edit: false }), /required/);
    assert.throws(
      () => org.sandbox.setFieldSecurity('Lead', 'SystemModstamp', { read: false, edit: false }),
      /platform/,
    );
  });
});
