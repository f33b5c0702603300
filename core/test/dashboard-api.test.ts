/**
 * What the dashboard stands on, over HTTP without a browser: its static shell (public, no data, a strict CSP,
 * revalidated caching) and the sync-health routes (grouping, the bounded read and what it left out, CSV, strict
 * input). The browser tests in `test/` drive the same through Chromium.
 */
import 'reflect-metadata';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { CommandStartedEvent } from 'mongodb';
import { startTandem, type RunningTandem } from '../src/app';
import { DASHBOARD_CSP } from '../src/api/routes/dashboard';
import { csvCell } from '../src/api/routes/sync-health-report';
import { silentLogger } from '../src/observability';
import { startTestMongo, type TestMongo } from '../src/testing';
import { fixtureDir, writeConnector, writePolicy } from './helpers/fixtures';

const TOKEN = 'test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const fixtures = fixtureDir();
const plugins = [
  writePolicy(fixtures, 'fixture-authority', 'fixture-authority'),
  writeConnector(fixtures, 'marketo'),
  writeConnector(fixtures, 'dynamics'),
];
let mongo: TestMongo;
const running: RunningTandem[] = [];

before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await Promise.all(running.map((t) => t.close()));
  await mongo.stop();
  fixtures.remove();
});

async function start(dbName: string, onMongoCommand?: (event: CommandStartedEvent) => void): Promise<RunningTandem> {
  const tandem = await startTandem({
    env: { TANDEM_API_TOKEN: TOKEN },
    plugins,
    pluginConfig: {
      marketo: { baseUrl: 'http://marketo.test', clientSecret: 'fixture-secret' },
      dynamics: { baseUrl: 'http://dynamics.test', clientSecret: 'fixture-secret' },
    },
    rootDir: fixtures.root,
    mongoUri: mongo.uri,
    dbName,
    logger: silentLogger(),
    port: 0,
    schedule: false,
    ...(onMongoCommand ? { onMongoCommand } : {}),
  });
  running.push(tandem);
  return tandem;
}

// ---- the shell -------------------------------------------------------------------------------------------

test('the dashboard shell is public, holds no data, and is served with a strict CSP and revalidated caching', async () => {
  const tandem = await start(mongo.freshDbName());
  const bare = await fetch(`${tandem.url}/ui`, { redirect: 'manual' });
  assert.equal(bare.status, 301);
  assert.equal(bare.headers.get('location'), '/ui/', 'relative module URLs resolve against /ui/');

  const shell = await fetch(`${tandem.url}/ui/`);
  assert.equal(shell.status, 200, 'public: no token needed');
  assert.match(shell.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
  assert.equal(shell.headers.get('content-security-policy'), DASHBOARD_CSP);
  for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "form-action 'none'"]) {
    assert.ok(DASHBOARD_CSP.includes(directive), directive);
  }
  assert.equal(shell.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(shell.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(shell.headers.get('cache-control'), 'no-cache');
  const html = await shell.text();
  assert.match(html, /<script type="module" src="main.js"><\/script>/);
  assert.doesNotMatch(html, /<script>|\son[a-z]+=/i, 'no inline script, which the CSP would refuse anyway');
  assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin (no CDN)');
  assert.doesNotMatch(html, /fixture|default|marketo|dynamics/i, 'no data in the shell');

  const etag = shell.headers.get('etag');
  assert.ok(etag, 'an ETag to revalidate with');
  // (Through inject: fetch() sends `Cache-Control: no-cache` with a conditional request, which asks for the body.)
  const again = await tandem.app.inject({ url: '/ui/', headers: { 'if-none-match': etag } });
  assert.equal(again.statusCode, 304, 'unchanged: not sent again');

  for (const [path, type] of [
    ['/ui/main.js', /^(application|text)\/javascript/],
    ['/ui/pages/health.js', /^(application|text)\/javascript/],
    ['/ui/styles.css', /^text\/css/],
    ['/ui/icon.svg', /^image\/svg\+xml/],
  ] as const) {
    const response = await fetch(`${tandem.url}${path}`);
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get('content-type') ?? '', type, path);
    assert.equal(response.headers.get('content-security-policy'), DASHBOARD_CSP, path);
    assert.equal(response.headers.get('cache-control'), 'no-cache', path);
  }
  // Only the files present at start are routes: nothing else under /ui is reachable, with or without the token.
  for (const path of ['/ui/types.d.ts', '/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/.tsbuildinfo']) {
    assert.equal((await fetch(`${tandem.url}${path}`, { headers: auth })).status, 404, path);
  }
  // The routes under /ui are not API routes: the OpenAPI document does not list them.
  const doc = (await (await fetch(`${tandem.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
  assert.deepEqual(
    Object.keys(doc.paths).filter((p) => p.startsWith('/ui')),
    [],
  );
  assert.ok(doc.paths['/v1/pipelines/{id}/health'], 'sync health is documented');
  assert.ok(doc.paths['/v1/pipelines/{id}/health.csv'], 'its CSV export is documented');
});

// ---- sync health -----------------------------------------------------------------------------------------

const HOUR = 3600_000;
const now = Date.now();
const at = (hoursAgo: number) => new Date(now - hoursAgo * HOUR);

/** Activity entries as the engine writes them (`left` is marketo, `right` dynamics in the default pipeline). */
function entry(fields: Record<string, unknown>): Record<string, unknown> {
  return { _id: randomUUID(), pipelineId: 'default', detail: 'x', ...fields };
}

const ada = { left: { type: 'lead', id: '11' }, right: { type: 'contact', id: 'c-ada' }, email: 'ada@example.com' };
const ben = { left: { type: 'lead', id: '12' }, right: { type: 'contact', id: 'c-ben' }, email: 'ben@example.com' };
const cyd = { left: { type: 'lead', id: '13' }, right: { type: 'lead' }, email: 'cyd@example.com' };

async function seed(dbName: string): Promise<void> {
  await mongo.client
    .db(dbName)
    .collection('activity')
    .insertMany([
      entry({ ...ada, type: 'rejected', side: 'right', code: 'RULE', at: at(1), detail: 'Rule says no (newest)' }),
      entry({ ...ada, type: 'rejected', side: 'right', code: 'RULE', at: at(5), detail: 'Rule says no (older)' }),
      entry({
        ...ben,
        type: 'rejected',
        side: 'right',
        code: 'RULE',
        at: at(3),
        detail: '=HYPERLINK("http://x","a, b")',
      }),
      entry({ ...cyd, type: 'failed', side: 'left', code: 'E500', at: at(2), detail: 'Marketo answered 500' }),
      // Not in the report: another type, outside the period, another pipeline.
      entry({ ...ada, type: 'updated', at: at(1) }),
      entry({ ...ben, type: 'rejected', side: 'right', code: 'RULE', at: at(24 * 8) }),
      entry({ ...ben, type: 'rejected', side: 'right', code: 'RULE', at: at(1), pipelineId: 'other' }),
    ]);
}

interface Report {
  examined: number;
  leftOut: number;
  examinedSince: string | null;
  groups: Array<{
    connection: string | null;
    type: string;
    code: string | null;
    entries: number;
    firstAt: string;
    lastAt: string;
    people: Array<{ email: string | null; ids: Record<string, string | null>; entries: number; detail: string }>;
  }>;
}

test('sync health groups a period’s rejected and failed writes by connection, type and code, each with its people', async () => {
  const dbName = mongo.freshDbName();
  await seed(dbName);
  const commands: CommandStartedEvent[] = [];
  const tandem = await start(dbName, (event) => commands.push(event));

  commands.length = 0;
  const response = await fetch(`${tandem.url}/v1/pipelines/default/health`, { headers: auth });
  assert.equal(response.status, 200);
  const report = (await response.json()) as Report;
  assert.equal(report.examined, 4);
  assert.equal(report.leftOut, 0);
  assert.equal(report.examinedSince, null);
  assert.equal(response.headers.get('tandem-entries-left-out'), '0');
  assert.deepEqual(
    report.groups.map((g) => [g.connection, g.type, g.code, g.entries, g.people.length]),
    [
      ['dynamics', 'rejected', 'RULE', 3, 2],
      ['marketo', 'failed', 'E500', 1, 1],
    ],
  );
  const [rejected, failed] = report.groups;
  assert.equal(rejected?.lastAt, at(1).toISOString());
  assert.equal(rejected?.firstAt, at(5).toISOString());
  assert.deepEqual(rejected?.people[0], {
    email: 'ada@example.com',
    ids: { marketo: '11', dynamics: 'c-ada' },
    objects: { marketo: 'lead', dynamics: 'contact' },
    entries: 2,
    lastAt: at(1).toISOString(),
    detail: 'Rule says no (newest)',
  });
  assert.deepEqual(failed?.people[0]?.ids, { marketo: '13', dynamics: null }, 'not created in Dynamics');
  // One bounded read of the activity collection; nothing counted, as nothing was left out.
  const activity = commands.filter((c) => (c.command as Record<string, unknown>)[c.commandName] === 'activity');
  assert.deepEqual(
    activity.map((c) => c.commandName),
    ['find'],
  );
  assert.equal((activity[0]?.command as { limit?: number }).limit, 5001, 'the default limit, plus one to see more');

  // Past the limit: the newest entries only, and how many of the period were left out.
  commands.length = 0;
  const cut = await fetch(`${tandem.url}/v1/pipelines/default/health?limit=2`, { headers: auth });
  const partial = (await cut.json()) as Report;
  assert.equal(partial.examined, 2);
  assert.equal(partial.leftOut, 2);
  assert.equal(partial.examinedSince, at(2).toISOString());
  assert.equal(cut.headers.get('tandem-entries-left-out'), '2');
  assert.deepEqual(
    partial.groups.map((g) => [g.connection, g.code, g.entries]),
    [
      ['dynamics', 'RULE', 1],
      ['marketo', 'E500', 1],
    ],
  );
  assert.deepEqual(
    commands
      .filter((c) => (c.command as Record<string, unknown>)[c.commandName] === 'activity')
      .map((c) => c.commandName),
    ['find', 'aggregate'],
    'one read and one count',
  );

  // A chosen period.
  const since = at(4).toISOString();
  const until = at(1.5).toISOString();
  const window = (await (
    await fetch(`${tandem.url}/v1/pipelines/default/health?since=${since}&until=${until}`, { headers: auth })
  ).json()) as Report & { since: string; until: string };
  assert.equal(window.since, since);
  assert.equal(window.until, until);
  assert.deepEqual(
    window.groups.map((g) => [g.code, g.people.map((p) => p.email)]),
    [
      ['E500', ['cyd@example.com']],
      ['RULE', ['ben@example.com']],
    ],
    'one entry each: the newest group first',
  );
});

test('sync health as CSV: a download with one line per group and person, quoted, formulas defused', async () => {
  const dbName = mongo.freshDbName();
  await seed(dbName);
  const tandem = await start(dbName);
  const response = await fetch(`${tandem.url}/v1/pipelines/default/health.csv`, { headers: auth });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/csv; charset=utf-8');
  assert.match(
    response.headers.get('content-disposition') ?? '',
    /^attachment; filename="tandem-health-default-\d{4}-\d{2}-\d{2}\.csv"$/,
  );
  assert.equal(response.headers.get('tandem-entries-left-out'), '0');
  const lines = (await response.text()).split('\r\n');
  assert.deepEqual(lines, [
    'connection,type,code,email,marketo id,dynamics id,entries,last at,detail',
    `dynamics,rejected,RULE,ada@example.com,11,c-ada,2,${at(1).toISOString()},Rule says no (newest)`,
    `dynamics,rejected,RULE,ben@example.com,12,c-ben,1,${at(3).toISOString()},"'=HYPERLINK(""http://x"",""a, b"")"`,
    `marketo,failed,E500,cyd@example.com,13,,1,${at(2).toISOString()},Marketo answered 500`,
    '',
  ]);
  assert.equal((await fetch(`${tandem.url}/v1/pipelines/default/health.csv`)).status, 401, 'not public');
});

test('sync health input is strict: a bad period, limit or parameter is a 400 naming it; an unknown pipeline a 404', async () => {
  const tandem = await start(mongo.freshDbName());
  const cases: Array<[string, number, RegExp]> = [
    ['/v1/pipelines/default/health?since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z', 400, /since/],
    ['/v1/pipelines/default/health?since=yesterday', 400, /since/],
    ['/v1/pipelines/default/health?until=2025-13-01T00:00:00Z', 400, /until/],
    ['/v1/pipelines/default/health?limit=0', 400, /limit/],
    ['/v1/pipelines/default/health?limit=20001', 400, /limit/],
    ['/v1/pipelines/default/health?limit=1e3', 400, /limit/],
    ['/v1/pipelines/default/health?type=rejected', 400, /type/],
    ['/v1/pipelines/default/health.csv?since=2025-01-02T00:00:00Z&until=2025-01-02T00:00:00Z', 400, /since/],
    ['/v1/pipelines/nowhere/health', 404, /nowhere/],
    ['/v1/pipelines/nowhere/health.csv', 404, /nowhere/],
  ];
  for (const [url, status, names] of cases) {
    const response = await fetch(`${tandem.url}${url}`, { headers: auth });
    assert.equal(response.status, status, url);
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/, url);
    const problem = (await response.json()) as { detail: string; errors?: Array<{ field: string }> };
    assert.match(`${problem.detail} ${JSON.stringify(problem.errors ?? [])}`, names, url);
  }
});

test('CSV cells: quoted when they hold a comma, quote or line break; text a spreadsheet would run is defused', () => {
  assert.equal(csvCell('plain'), 'plain');
  assert.equal(csvCell(null), '');
  assert.equal(csvCell(12), '12');
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('two\nlines'), '"two\nlines"');
  for (const risky of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx']) {
    assert.ok(csvCell(risky).replace(/^"/, '').startsWith(`'`), JSON.stringify(risky));
  }
});
