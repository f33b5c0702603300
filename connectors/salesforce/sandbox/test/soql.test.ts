/** SOQL through the Query and QueryAll resources: a table of queries, malformed ones, paging and cursors. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startOrg, type ApiErrorBody, type Org } from './helpers';

const PEOPLE = [
  {
    FirstName: 'Ada',
    LastName: 'Lovelace',
    Email: 'Ada@Example.com',
    Title: 'CTO',
    MailingCity: 'London',
    Birthdate: '1990-12-10',
  },
  { FirstName: 'Ben', LastName: 'Baker', Email: 'ben@example.com', Title: 'Engineer', MailingCity: 'london' },
  { FirstName: 'Chloe', LastName: 'Costa', Title: 'CTO', MailingCity: 'Lyon', Birthdate: '1985-01-02' },
  { LastName: 'Dubois', Email: "d.o'brien@example.com" },
  {
    FirstName: 'Élif',
    LastName: 'Eriksen',
    Email: 'elif_e@example.com',
    Title: 'Head of Growth',
    MailingCity: 'Stockholm',
    DoNotCall: true,
  },
];

describe('SOQL', () => {
  let org: Org;
  const ids: string[] = [];
  before(async () => {
    org = await startOrg();
    for (const p of PEOPLE) ids.push(org.sandbox.createRecord('Contact', p).id);
  });
  after(async () => {
    await org.close();
  });

  const lastNames = async (soql: string): Promise<string[]> => {
    const r = await org.query<{ LastName: string }>(soql);
    assert.equal(r.status, 200, `${soql}: ${JSON.stringify(r.body)}`);
    return r.body.records.map((x) => x.LastName);
  };

  const TABLE: Array<[string, string[]]> = [
    ["SELECT LastName FROM Contact WHERE Email = 'ada@EXAMPLE.com'", ['Lovelace']],
    ["select lastname from contact where mailingcity = 'LONDON' order by lastname", ['Baker', 'Lovelace']],
    [
      "SELECT LastName FROM Contact WHERE Title IN ('cto', 'Engineer') ORDER BY LastName",
      ['Baker', 'Costa', 'Lovelace'],
    ],
    ["SELECT LastName FROM Contact WHERE Title NOT IN ('CTO') ORDER BY LastName", ['Baker', 'Dubois', 'Eriksen']],
    ['SELECT LastName FROM Contact WHERE Email != null ORDER BY LastName', ['Baker', 'Dubois', 'Eriksen', 'Lovelace']],
    ['SELECT LastName FROM Contact WHERE Email = null', ['Costa']],
    ["SELECT LastName FROM Contact WHERE Title != 'cto' ORDER BY LastName", ['Baker', 'Dubois', 'Eriksen']],
    [
      "SELECT LastName FROM Contact WHERE Email LIKE '%@EXAMPLE.COM' ORDER BY LastName",
      ['Baker', 'Dubois', 'Eriksen', 'Lovelace'],
    ],
    ["SELECT LastName FROM Contact WHERE Email LIKE 'elif\\_%'", ['Eriksen']],
    ["SELECT LastName FROM Contact WHERE Email LIKE 'b_n@%'", ['Baker']],
    ["SELECT LastName FROM Contact WHERE Email = 'd.o\\'brien@example.com'", ['Dubois']],
    [
      "SELECT LastName FROM Contact WHERE (Title = 'CTO' OR MailingCity = 'london') AND FirstName != 'Ada' ORDER BY LastName",
      ['Baker', 'Costa'],
    ],
    [
      "SELECT LastName FROM Contact WHERE Title = 'CTO' OR (MailingCity = 'london' AND FirstName = 'ben') ORDER BY LastName",
      ['Baker', 'Costa', 'Lovelace'],
    ],
    ["SELECT LastName FROM Contact WHERE NOT (Title = 'CTO') ORDER BY LastName", ['Baker', 'Dubois', 'Eriksen']],
    ["SELECT LastName FROM Contact WHERE MailingCity = 'London' AND (NOT Title = 'Engineer')", ['Lovelace']],
    ['SELECT LastName FROM Contact WHERE DoNotCall = TRUE', ['Eriksen']],
    ['SELECT LastName FROM Contact WHERE Birthdate > 1989-01-01', ['Lovelace']],
    ['SELECT LastName FROM Contact WHERE Birthdate < 1989-01-01', ['Costa']],
    ["SELECT LastName FROM Contact WHERE Email < 'c' ORDER BY LastName", ['Baker', 'Lovelace']],
    ['SELECT LastName FROM Contact ORDER BY FirstName', ['Dubois', 'Lovelace', 'Baker', 'Costa', 'Eriksen']],
    [
      'SELECT LastName FROM Contact ORDER BY FirstName DESC NULLS LAST',
      ['Eriksen', 'Costa', 'Baker', 'Lovelace', 'Dubois'],
    ],
    [
      'SELECT LastName FROM Contact ORDER BY Title ASC NULLS LAST, LastName DESC',
      ['Lovelace', 'Costa', 'Baker', 'Eriksen', 'Dubois'],
    ],
    ['SELECT LastName FROM Contact ORDER BY LastName LIMIT 2', ['Baker', 'Costa']],
    ['SELECT LastName FROM Contact ORDER BY LastName LIMIT 5 OFFSET 3', ['Eriksen', 'Lovelace']],
  ];
  for (const [soql, expected] of TABLE) {
    test(soql, async () => {
      assert.deepEqual(await lastNames(soql), expected);
    });
  }

  test('datetime literals: Z and offsets compare as instants', async () => {
    org.sandbox.setClock('2026-12-07T01:05:55Z', { frozen: true });
    try {
      const x = org.sandbox.createRecord('Contact', { LastName: 'Timed' });
      assert.equal(x.values.SystemModstamp, '2026-12-07T01:05:55.000+0000');
      const at = (literal: string) => lastNames(`SELECT LastName FROM Contact WHERE SystemModstamp = ${literal}`);
      assert.deepEqual(await at('2026-12-07T01:05:55Z'), ['Timed']);
      assert.deepEqual(await at('2026-12-07T02:05:55+01:00'), ['Timed']);
      assert.deepEqual(await at('2026-12-06T20:05:55-05:00'), ['Timed']);
      assert.deepEqual(await at('2026-12-07T01:05:55.000Z'), ['Timed']);
      // Fractional seconds of any length are read (to the millisecond), as an org reads them.
      assert.deepEqual(await at('2026-12-07T01:05:55.000000Z'), ['Timed']);
      assert.deepEqual(await at('2026-12-07T02:05:55.0+01:00'), ['Timed']);
      const timed = (cond: string) =>
        lastNames(`SELECT LastName FROM Contact WHERE LastName = 'Timed' AND SystemModstamp ${cond}`);
      assert.deepEqual(await timed('> 2026-12-07T01:05:54Z'), ['Timed']);
      assert.deepEqual(await timed('> 2026-12-07T01:05:55Z'), []);
      assert.deepEqual(await timed('>= 2026-12-07T02:05:55+01:00'), ['Timed']);
      assert.deepEqual(await timed('< 2026-12-07T02:05:55+01:00'), []);
      org.sandbox.deleteRecord('Contact', x.id);
    } finally {
      org.sandbox.setClock(Date.now());
      // The session was last used at the frozen time, maybe hours ago by the real clock: a fresh one.
      await org.token();
    }
  });

  test('records carry attributes { type, url } and the selected fields in order; ids compare as 15 or 18', async () => {
    const first = ids[0] ?? '';
    const r = await org.query<Record<string, unknown>>(
      `SELECT Email, Id, Name FROM Contact WHERE Id = '${first.slice(0, 15)}'`,
    );
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.records, [
      {
        attributes: { type: 'Contact', url: `${org.base}/sobjects/Contact/${first}` },
        // Stored lower-cased (written as Ada@Example.com).
        Email: 'ada@example.com',
        Id: first,
        Name: 'Ada Lovelace',
      },
    ]);
    assert.equal(r.body.totalSize, 1);
    assert.equal(r.body.done, true);
    assert.equal(r.body.nextRecordsUrl, undefined);
  });

  test('SELECT COUNT(): totalSize only', async () => {
    const r = await org.query("SELECT COUNT() FROM Contact WHERE Title = 'cto'");
    assert.equal(r.status, 200);
    assert.equal(r.body.totalSize, 2);
    assert.deepEqual(r.body.records, []);
  });

  const MALFORMED: Array<[string, string]> = [
    ['SELECT FROM Contact', 'MALFORMED_QUERY'],
    ['SELECT Id Contact', 'MALFORMED_QUERY'],
    ['SELECT Id FROM Contact WHERE', 'MALFORMED_QUERY'],
    ["SELECT Id FROM Contact WHERE Email = 'a' AND Email = 'b' OR Email = 'c'", 'MALFORMED_QUERY'],
    ["SELECT Id FROM Contact WHERE NOT Email = 'a' AND Title = 'b'", 'MALFORMED_QUERY'],
    ["SELECT Id FROM Contact WHERE Email = 'a' OR NOT Title = 'b'", 'MALFORMED_QUERY'],
    ['SELECT Id FROM Contact WHERE Email = "a"', 'MALFORMED_QUERY'],
    ["SELECT Id FROM Contact WHERE Email = 'open", 'MALFORMED_QUERY'],
    ["SELECT Id FROM Contact WHERE Email = 'bad \\q escape'", 'MALFORMED_QUERY'],
    ['SELECT Id FROM Contact LIMIT -1', 'MALFORMED_QUERY'],
    ['SELECT Id FROM Contact ORDER BY', 'MALFORMED_QUERY'],
    ['SELECT Id FROM Contact WHERE (Email = null', 'MALFORMED_QUERY'],
    ['SELECT Id, id FROM Contact', 'MALFORMED_QUERY'],
    ['SELECT Id FROM Contact WHERE Email > null', 'MALFORMED_QUERY'],
    ['SELECT Foo FROM Contact', 'INVALID_FIELD'],
    ['SELECT Id FROM Contact WHERE Foo__c = 1', 'INVALID_FIELD'],
    ['SELECT Account.Name FROM Contact', 'INVALID_FIELD'],
    ['SELECT Id FROM Contact ORDER BY Description', 'INVALID_FIELD'],
    ['SELECT Id FROM Foo', 'INVALID_TYPE'],
    ["SELECT Id FROM Contact WHERE CreatedDate > '2020-01-01T00:00:00Z'", 'INVALID_QUERY_FILTER_OPERATOR'],
    ['SELECT Id FROM Contact WHERE Email = 5', 'INVALID_QUERY_FILTER_OPERATOR'],
    ["SELECT Id FROM Contact WHERE Id = 'nope'", 'INVALID_QUERY_FILTER_OPERATOR'],
    ['SELECT Id FROM Contact WHERE Birthdate = 2020-01-01T00:00:00Z', 'INVALID_QUERY_FILTER_OPERATOR'],
    ["SELECT Id FROM Contact WHERE DoNotCall = 'true'", 'INVALID_QUERY_FILTER_OPERATOR'],
  ];
  for (const [soql, code] of MALFORMED) {
    test(`400 ${code}: ${soql}`, async () => {
      const r = await org.query(soql);
      assert.equal(r.status, 400);
      const errors = r.body as unknown as ApiErrorBody[];
      assert.equal(errors[0]?.errorCode, code, JSON.stringify(errors));
      assert.match(errors[0]?.message ?? '', /ERROR at Row:1:Column:\d+/);
    });
  }

  test('a missing q is MALFORMED_QUERY', async () => {
    const r = await org.json<ApiErrorBody[]>(`${org.base}/query`);
    assert.equal(r.status, 400);
    assert.equal(r.body[0]?.errorCode, 'MALFORMED_QUERY');
  });

  test('the caret points at the offending token', async () => {
    const r = await org.query("SELECT Id FROM Contact WHERE Email = 'a' AND Email = 'b' OR Email = 'c'");
    const message = (r.body as unknown as ApiErrorBody[])[0]?.message ?? '';
    assert.match(message, /ERROR at Row:1:Column:58\nunexpected token: 'OR'/);
  });
});

describe('query paging and cursors', () => {
  let org: Org;
  before(async () => {
    org = await startOrg();
    for (let i = 0; i < 450; i++)
      org.sandbox.createRecord('Lead', { LastName: `L${String(i).padStart(3, '0')}`, Company: 'Acme' });
  });
  after(async () => {
    await org.close();
  });

  test('batchSize=200: pages of 200, 200, 50 through nextRecordsUrl until done', async () => {
    const first = await org.query<{ LastName: string }>('SELECT LastName FROM Lead ORDER BY LastName', false, {
      'sforce-query-options': 'batchSize=200',
    });
    assert.equal(first.status, 200);
    const seen = first.body.records.map((r) => r.LastName);
    assert.equal(first.body.totalSize, 450);
    assert.equal(first.body.done, false);
    let next = first.body.nextRecordsUrl;
    assert.match(next ?? '', new RegExp(`^${org.base}/query/01g[0-9A-Za-z]{15}-200$`));
    const sizes = [first.body.records.length];
    while (next) {
      const page = await org.json<{
        totalSize: number;
        done: boolean;
        nextRecordsUrl?: string;
        records: Array<{ LastName: string }>;
      }>(next);
      assert.equal(page.status, 200);
      assert.equal(page.body.totalSize, 450);
      sizes.push(page.body.records.length);
      seen.push(...page.body.records.map((r) => r.LastName));
      next = page.body.nextRecordsUrl;
      if (!page.body.done) assert.ok(next);
    }
    assert.deepEqual(sizes, [200, 200, 50]);
    assert.deepEqual(seen, [...seen].sort());
    assert.equal(new Set(seen).size, 450);
    assert.equal(org.sandbox.getCounters().byKind.queryMore, 2);
  });

  test('the default batch is 2,000; batchSize is kept within 200..2,000', async () => {
    const all = await org.query('SELECT Id FROM Lead');
    assert.equal(all.body.records.length, 450);
    assert.equal(all.body.done, true);
    const small = await org.query('SELECT Id FROM Lead', false, { 'sforce-query-options': 'batchSize=10' });
    assert.equal(small.body.records.length, 200);
  });

  test('a long text area in the SELECT list caps batches at 200 whatever batchSize asked for', async () => {
    const soql = 'SELECT Id, Description FROM Lead ORDER BY LastName';
    const first = await org.query(soql, false, { 'sforce-query-options': 'batchSize=2000' });
    assert.deepEqual([first.body.records.length, first.body.totalSize, first.body.done], [200, 450, false]);
    let next = first.body.nextRecordsUrl;
    let count = first.body.records.length;
    while (next) {
      const page = await org.json<{ done: boolean; nextRecordsUrl?: string; records: unknown[] }>(next);
      count += page.body.records.length;
      next = page.body.nextRecordsUrl;
    }
    assert.equal(count, 450);
    const plain = await org.query('SELECT Id, Title FROM Lead', false, { 'sforce-query-options': 'batchSize=2000' });
    assert.equal(plain.body.records.length, 450, 'without a long text area the batch is the one asked for');
  });

  test('a cursor lives two days, then INVALID_QUERY_LOCATOR; expireQueryCursors() ends them at once', async () => {
    const first = await org.query('SELECT Id FROM Lead', false, { 'sforce-query-options': 'batchSize=200' });
    const next = first.body.nextRecordsUrl ?? '';
    org.sandbox.advanceClock(47 * 3600 * 1000);
    await org.token();
    assert.equal((await org.json(next)).status, 200, 'within two days');
    org.sandbox.advanceClock(2 * 3600 * 1000);
    await org.token();
    const expired = await org.json<ApiErrorBody[]>(next);
    assert.equal(expired.status, 400);
    assert.equal(expired.body[0]?.errorCode, 'INVALID_QUERY_LOCATOR');
    const again = await org.query('SELECT Id FROM Lead', false, { 'sforce-query-options': 'batchSize=200' });
    org.sandbox.expireQueryCursors();
    const ended = await org.json<ApiErrorBody[]>(again.body.nextRecordsUrl ?? '');
    assert.equal(ended.body[0]?.errorCode, 'INVALID_QUERY_LOCATOR');
    const bogus = await org.json<ApiErrorBody[]>(`${org.base}/query/01g000000000000AAA-200`);
    assert.equal(bogus.body[0]?.errorCode, 'INVALID_QUERY_LOCATOR');
  });
});

describe('datetimes to the second, queryAll, merges', () => {
  let org: Org;
  before(async () => {
    org = await startOrg();
  });
  after(async () => {
    await org.close();
  });

  test('records written in one second share SystemModstamp, serialised as Salesforce does', async () => {
    org.sandbox.setClock('2026-12-07T01:05:55.640Z', { frozen: true });
    try {
      const a = org.sandbox.createRecord('Contact', { LastName: 'Same1' });
      org.sandbox.advanceClock(300);
      const b = org.sandbox.createRecord('Contact', { LastName: 'Same2' });
      assert.equal(a.values.SystemModstamp, '2026-12-07T01:05:55.000+0000');
      assert.equal(b.values.SystemModstamp, a.values.SystemModstamp);
      const r = await org.query<{ SystemModstamp: string }>(
        "SELECT SystemModstamp FROM Contact WHERE LastName LIKE 'Same%'",
      );
      assert.deepEqual(
        r.body.records.map((x) => x.SystemModstamp),
        ['2026-12-07T01:05:55.000+0000', '2026-12-07T01:05:55.000+0000'],
      );
    } finally {
      org.sandbox.setClock(Date.now());
      // The session was last used at the frozen time, maybe hours ago by the real clock: a fresh one.
      await org.token();
    }
  });

  test('query leaves deleted and merged records out; queryAll returns them with IsDeleted and MasterRecordId', async () => {
    const winner = org.sandbox.createRecord('Lead', { LastName: 'Winner', Company: 'A', Email: 'w@example.com' });
    const loser = org.sandbox.createRecord('Lead', { LastName: 'Loser', Company: 'A', Email: 'w@example.com' });
    const gone = org.sandbox.createRecord('Lead', { LastName: 'Gone', Company: 'A' });
    org.sandbox.merge('Lead', winner.id, loser.id);
    org.sandbox.deleteRecord('Lead', gone.id);
    const live = await org.query<{ LastName: string }>('SELECT LastName FROM Lead ORDER BY LastName');
    assert.deepEqual(
      live.body.records.map((r) => r.LastName),
      ['Winner'],
    );
    const all = await org.query<{ LastName: string; IsDeleted: boolean; MasterRecordId: string | null }>(
      'SELECT LastName, IsDeleted, MasterRecordId FROM Lead ORDER BY LastName',
      true,
    );
    assert.deepEqual(
      all.body.records.map((r) => [r.LastName, r.IsDeleted, r.MasterRecordId]),
      [
        ['Gone', true, null],
        ['Loser', true, winner.id],
        ['Winner', false, null],
      ],
    );
    const merged = await org.query<{ Id: string }>('SELECT Id FROM Lead WHERE MasterRecordId != null', true);
    assert.deepEqual(
      merged.body.records.map((r) => r.Id),
      [loser.id],
    );
  });
});
