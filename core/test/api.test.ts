import 'reflect-metadata';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { readFile } from 'node:fs/promises';
import pino from 'pino';
import { container } from 'tsyringe';
import type { FastifyInstance } from 'fastify';
import { buildApp, type ApiDeps, type ConnectionStatus, type PipelineStatus } from '../src/api';
import { startTandem, type RunningTandem, type StartOptions } from '../src/app';
import { createMetrics, silentLogger } from '../src/observability';
import { PluginHost } from '../src/plugins';
import { AuditRepository, PipelinesRepository, PolicySettingsRepository } from '../src/repositories';
import { SyncStore } from '../src/repositories/sync-store';
import { Connections } from '../src/connections/connections';
import { SyncRuntime } from '../src/pipelines/runtime';
import { startTestMongo, type TestMongo } from '../src/testing';
import { connectMongo, startJongodb } from '../src/db';
import { fixtureDir, writeConnector, writePolicy } from './helpers/fixtures';

const TOKEN = 'test-token-0123456789abcdef';
const fixtures = fixtureDir();
const policyDir = writePolicy(fixtures, 'fixture-authority', 'fixture-authority');
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

/** Fixture connections named like the default pipeline's, so that it exists (CONTRACT.md: when both do). */
const connectorDirs = [writeConnector(fixtures, 'marketo'), writeConnector(fixtures, 'dynamics')];
const connectorConfig = {
  marketo: { baseUrl: 'http://marketo.test', clientSecret: 'fixture-secret' },
  dynamics: { baseUrl: 'http://dynamics.test', clientSecret: 'fixture-secret' },
};

async function start(dbName: string, options: Partial<StartOptions> = {}): Promise<RunningTandem> {
  const tandem = await startTandem({
    env: { TANDEM_API_TOKEN: TOKEN },
    plugins: [policyDir, ...connectorDirs],
    pluginConfig: connectorConfig,
    rootDir: fixtures.root,
    mongoUri: mongo.uri,
    dbName,
    logger: silentLogger(),
    port: 0,
    schedule: false,
    ...options,
  });
  running.push(tandem);
  return tandem;
}

const auth = { authorization: `Bearer ${TOKEN}` };

function assertProblem(
  response: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
  status: number,
) {
  assert.equal(response.statusCode, status);
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
  const body = response.json() as { type: string; title: string; status: number; detail: string; code: string };
  assert.equal(body.status, status);
  for (const key of ['type', 'title', 'detail', 'code'] as const) assert.equal(typeof body[key], 'string', key);
  return body;
}

test('only /health and the API documentation are public; without the token nothing else is learned', async () => {
  const tandem = await start(mongo.freshDbName());
  const health = await fetch(`${tandem.url}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const doc = await tandem.app.inject({ url: '/docs/json' });
  assert.equal(doc.statusCode, 200, 'the OpenAPI document is public (CONTRACT.md)');
  assert.ok((await tandem.app.inject({ url: '/docs' })).statusCode < 400, 'Swagger UI is public');

  for (const url of ['/ready', '/metrics', '/v1/plugins', '/v1/pipelines', '/v1/pipelines/default/policies']) {
    const anonymous = await tandem.app.inject({ url });
    assertProblem(anonymous, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="tandem"');
    const wrong = await tandem.app.inject({ url, headers: { authorization: 'Bearer not-the-token' } });
    assertProblem(wrong, 401);
  }
  // Nothing route-specific answers first: not the router (bad escapes, long ids, unknown paths, wrong
  // methods), not validation.
  for (const [method, url, payload] of [
    ['GET', '/v1/pipelines/%ZZ'],
    ['GET', `/v1/pipelines/${'x'.repeat(101)}`],
    ['GET', '/v1/nothing-here'],
    ['DELETE', '/v1/pipelines/default'],
    ['POST', '/health'],
    ['GET', '/v1/pipelines/default/runs?limit=Infinity'],
    ['PATCH', '/v1/pipelines/default/policies/fixture-authority', { enabled: null }],
  ] as const) {
    const response = await tandem.app.inject({ method, url, ...(payload ? { payload } : {}) });
    assertProblem(response, 401);
    assert.equal(response.headers['allow'], undefined, `${method} ${url} says nothing about methods`);
  }
  const plugins = await fetch(`${tandem.url}/v1/plugins`, { headers: auth });
  assert.equal(plugins.status, 200);
  assert.deepEqual(await plugins.json(), [
    { id: 'dynamics', kind: 'connector', package: '@fixture/connector-dynamics', version: '1.0.0' },
    { id: 'fixture-authority', kind: 'policy', package: '@fixture/fixture-authority', version: '1.0.0' },
    { id: 'marketo', kind: 'connector', package: '@fixture/connector-marketo', version: '1.0.0' },
  ]);
});

test('query integers are plain decimal integers in range, else a 400 naming the parameter', async () => {
  const tandem = await start(mongo.freshDbName());
  for (const route of ['runs', 'links', 'activity']) {
    for (const limit of ['Infinity', '-Infinity', '1e309', '0x10', '1e3', '%205', '%2B5', '1.5', '0', '1001', '']) {
      const response = await tandem.app.inject({ url: `/v1/pipelines/default/${route}?limit=${limit}`, headers: auth });
      const problem = assertProblem(response, 400);
      assert.match(problem.detail, /querystring\.limit/, `${route}?limit=${limit}`);
    }
    const twice = await tandem.app.inject({ url: `/v1/pipelines/default/${route}?limit=5&limit=6`, headers: auth });
    assert.match(assertProblem(twice, 400).detail, /querystring\.limit/);
    const unknown = await tandem.app.inject({ url: `/v1/pipelines/default/${route}?colour=red`, headers: auth });
    assert.match(assertProblem(unknown, 400).detail, /querystring\.colour is not allowed/);
    // A good limit passes validation and reaches the route.
    const good = await tandem.app.inject({ url: `/v1/pipelines/default/${route}?limit=5`, headers: auth });
    assert.equal(good.statusCode, 200);
  }
});

test('JSON bodies are never coerced: a wrong type is a 400 naming the field and changes nothing', async () => {
  const tandem = await start(mongo.freshDbName());
  const url = '/v1/pipelines/default/policies/fixture-authority';
  for (const enabled of [null, 'false', 0, 'true', 1, []]) {
    const response = await tandem.app.inject({ method: 'PATCH', url, headers: auth, payload: { enabled } });
    assert.match(assertProblem(response, 400).detail, /body\.enabled must be boolean/, JSON.stringify(enabled));
  }
  const [policy] = (await tandem.app.inject({ url: '/v1/pipelines/default/policies', headers: auth })).json() as Array<{
    enabled: boolean;
    updatedAt: string | null;
  }>;
  assert.equal(policy?.enabled, true, 'the policy is still enabled');
  assert.equal(policy?.updatedAt, null, 'nothing was stored');

  const push = await tandem.app.inject({
    method: 'POST',
    url: '/v1/pipelines/default/push',
    headers: auth,
    payload: { marketoId: 123, as: 'lead' },
  });
  assert.match(assertProblem(push, 400).detail, /body\.marketoId must be string/);
});

test('JSON bodies are bounded before anything walks them: depth, size, media type, keys, numbers', async () => {
  const tandem = await start(mongo.freshDbName());
  const url = '/v1/pipelines/default/policies/fixture-authority';
  const patch = (payload: string, contentType = 'application/json') =>
    tandem.app.inject({ method: 'PATCH', url, headers: { ...auth, 'content-type': contentType }, payload });

  const deep = `{"settings":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
  assert.match(assertProblem(await patch(deep), 400).detail, /nested deeper than 32 levels/);
  const huge = await patch(JSON.stringify({ settings: { blob: 'x'.repeat(1_100_000) } }));
  const tooLarge = assertProblem(huge, 413);
  assert.equal(tooLarge.code, 'PAYLOAD_TOO_LARGE');
  assert.match(tooLarge.detail, /1048576 bytes/);
  const text = assertProblem(await patch('{"enabled":false}', 'text/plain'), 415);
  assert.equal(text.code, 'UNSUPPORTED_MEDIA_TYPE');
  assert.equal(
    assertProblem(await patch('{"enabled":false}', 'application/json; charset=utf-16'), 415).code,
    'UNSUPPORTED_MEDIA_TYPE',
  );
  assert.match(assertProblem(await patch('{"enabled": 1e309}'), 400).detail, /body\.enabled is a number too large/);

  for (const [key, named] of [
    ['$where', 'body.settings["$where"]'],
    ['a.b', 'body.settings.perField["a.b"]'],
    ['', 'body.settings.perField[""]'],
    ['constructor', 'body.settings.perField.constructor'],
  ] as const) {
    const settings = key === '$where' ? { [key]: 'sleep(1)' } : { winner: 'marketo', perField: { [key]: 'marketo' } };
    const problem = assertProblem(await patch(JSON.stringify({ settings })), 400);
    assert.ok(problem.detail.includes(named), `${problem.detail} names ${named}`);
  }
  assertProblem(await patch('{"settings": {"__proto__": {"polluted": true}}}'), 400);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  const [policy] = (await tandem.app.inject({ url: '/v1/pipelines/default/policies', headers: auth })).json() as Array<{
    updatedAt: string | null;
  }>;
  assert.equal(policy?.updatedAt, null, 'no refused body was stored');
});

test('router errors are problem+json with codes of their own; a wrong method is a 405 with Allow', async () => {
  const tandem = await start(mongo.freshDbName());
  const badUrl = assertProblem(await tandem.app.inject({ url: '/v1/pipelines/%ZZ', headers: auth }), 400);
  assert.equal(badUrl.code, 'BAD_REQUEST');
  const long = await tandem.app.inject({ url: `/v1/pipelines/${'x'.repeat(101)}`, headers: auth });
  assert.equal(assertProblem(long, 414).code, 'URI_TOO_LONG');
  const forbidden = await tandem.app.inject({ url: '/docs/static/%2e%2e%5cpackage.json', headers: auth });
  assert.equal(assertProblem(forbidden, 403).code, 'FORBIDDEN');

  const wrongMethod = await tandem.app.inject({ method: 'PUT', url: '/v1/pipelines/default', headers: auth });
  assert.equal(assertProblem(wrongMethod, 405).code, 'METHOD_NOT_ALLOWED');
  assert.equal(wrongMethod.headers['allow'], 'GET, HEAD, PATCH, DELETE');
  const put = await tandem.app.inject({ method: 'PUT', url: '/v1/pipelines/default/policies/x', headers: auth });
  assertProblem(put, 405);
  assert.equal(put.headers['allow'], 'PATCH');
  assertProblem(await tandem.app.inject({ url: '/v1/nothing-here', headers: auth }), 404);

  // Node's HTTP parser refuses a request line and headers over 16 KiB: still problem+json.
  const oversized = await fetch(`${tandem.url}/v1/pipelines`, {
    headers: { ...auth, 'x-padding': 'x'.repeat(20_000) },
  });
  assert.equal(oversized.status, 431);
  assert.match(oversized.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(((await oversized.json()) as { code: string }).code, 'HEADERS_TOO_LARGE');
});

test('a client mistake is a 4xx problem+json naming what was wrong', async () => {
  const tandem = await start(mongo.freshDbName());
  const patch = (url: string, payload: unknown) =>
    tandem.app.inject({ method: 'PATCH', url, headers: auth, payload: payload as Record<string, unknown> });
  const url = '/v1/pipelines/default/policies/fixture-authority';

  assert.match(assertProblem(await patch(url, { enabled: 'yes' }), 400).detail, /body\.enabled/);
  assert.match(assertProblem(await patch(url, { enabled: true, colour: 'red' }), 400).detail, /colour/);
  assert.match(assertProblem(await patch(url, {}), 400).detail, /body/);
  const badSetting = assertProblem(await patch(url, { settings: { winner: 'nobody' } }), 400);
  assert.match(badSetting.detail, /settings\.winner/);
  assert.equal(badSetting.code, 'BAD_REQUEST');

  const malformed = await tandem.app.inject({
    method: 'PATCH',
    url,
    headers: { ...auth, 'content-type': 'application/json' },
    payload: '{"enabled": tru',
  });
  assertProblem(malformed, 400);
  const badMapping = await tandem.app.inject({
    method: 'PUT',
    url: '/v1/pipelines/default/mappings',
    headers: auth,
    payload: {
      objects: [
        {
          marketo: 'lead',
          dynamics: 'contact',
          fields: [{ marketo: 'email', dynamics: 'emailaddress1', direction: 'sideways' }],
        },
      ],
    },
  });
  assert.match(assertProblem(badMapping, 400).detail, /body\.objects\.0\.fields\.0\.direction/);
  const badQuery = await tandem.app.inject({ url: '/v1/pipelines/default/runs?limit=0', headers: auth });
  assertProblem(badQuery, 400);

  assertProblem(await patch('/v1/pipelines/nope/policies/fixture-authority', { enabled: false }), 404);
  assertProblem(await patch('/v1/pipelines/default/policies/nope', { enabled: false }), 404);
  assertProblem(await tandem.app.inject({ url: '/v1/pipelines/nope', headers: auth }), 404);
  assertProblem(await tandem.app.inject({ url: '/v1/nothing-here', headers: auth }), 404);
});

test('a policy toggle is persisted, audited and survives a restart', async () => {
  const dbName = mongo.freshDbName();
  const first = await start(dbName);
  const url = '/v1/pipelines/default/policies';
  const initial = await first.app.inject({ url, headers: auth });
  assert.deepEqual(initial.json(), [
    {
      id: 'fixture-authority',
      kind: 'collision',
      description: 'Fixture policy fixture-authority',
      enabled: true,
      settings: { winner: 'marketo' },
      updatedAt: null,
    },
  ]);
  const patched = await first.app.inject({
    method: 'PATCH',
    url: `${url}/fixture-authority`,
    headers: auth,
    payload: { enabled: false, settings: { winner: 'dynamics' } },
  });
  assert.equal(patched.statusCode, 200);
  assert.equal(patched.json().enabled, false);
  await first.close();

  const second = await start(dbName);
  const [after] = (await second.app.inject({ url, headers: auth })).json() as Array<Record<string, unknown>>;
  assert.equal(after?.['enabled'], false);
  assert.deepEqual(after?.['settings'], { winner: 'dynamics' });
  assert.equal(typeof after?.['updatedAt'], 'string');

  const audit = await mongo.client.db(dbName).collection('audit').find({}).toArray();
  assert.equal(audit.length, 1);
  assert.equal(audit[0]?.['action'], 'policy.update');
  assert.equal(audit[0]?.['target'], 'pipelines/default/policies/fixture-authority');
  assert.deepEqual(audit[0]?.['before'], { enabled: true, settings: { winner: 'marketo' } });
  assert.deepEqual(audit[0]?.['after'], { enabled: false, settings: { winner: 'dynamics' } });
});

test('the OpenAPI document at /docs/json lists every route of CONTRACT.md', async () => {
  const tandem = await start(mongo.freshDbName());
  const response = await tandem.app.inject({ url: '/docs/json', headers: auth });
  assert.equal(response.statusCode, 200);
  const doc = response.json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.match(doc.openapi, /^3\./);
  const contract = [
    'get /health',
    'get /ready',
    'get /metrics',
    'get /v1/plugins',
    'get /v1/pipelines',
    'get /v1/pipelines/{id}',
    'get /v1/pipelines/{id}/mappings',
    'put /v1/pipelines/{id}/mappings',
    'get /v1/pipelines/{id}/policies',
    'patch /v1/pipelines/{id}/policies/{policyId}',
    'post /v1/pipelines/{id}/runs',
    'get /v1/pipelines/{id}/runs',
    'get /v1/runs/{runId}',
    'post /v1/pipelines/{id}/push',
    'get /v1/pipelines/{id}/links',
    'get /v1/pipelines/{id}/activity',
  ];
  const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((m) => `${m} ${path}`),
  );
  for (const route of contract) assert.ok(documented.includes(route), `${route} is missing from /docs/json`);
  const ui = await tandem.app.inject({ url: '/docs', headers: auth });
  assert.ok(ui.statusCode < 400, 'Swagger UI is served');
});

test('operations routes: /ready, /metrics; a pipeline whose connection is not configured says so and cannot run', async () => {
  const dbName = mongo.freshDbName();
  const tandem = await start(dbName);
  const ready = await tandem.app.inject({ url: '/ready', headers: auth });
  assert.equal(ready.statusCode, 200);
  const body = ready.json() as { status: string; warnings: string[]; mongo: { engine: string } };
  assert.equal(body.status, 'ready');
  assert.ok(body.warnings.some((w) => /will not survive a restart/.test(w)) || body.mongo.engine === 'external');

  const metrics = await tandem.app.inject({ url: '/metrics', headers: auth });
  assert.equal(metrics.statusCode, 200);
  assert.match(metrics.body, /tandem_http_request_duration_seconds_bucket/);
  assert.match(metrics.body, /tandem_process_cpu_user_seconds_total/);

  // The same database under an instance where only one of the default pipeline's connections is configured.
  const partial = await start(dbName, {
    plugins: [policyDir, connectorDirs[0] as string],
    pluginConfig: { marketo: connectorConfig.marketo },
  });
  const view = (await partial.app.inject({ url: '/v1/pipelines/default', headers: auth })).json() as {
    state: { syncEngine: string; message?: string };
  };
  assert.equal(view.state.syncEngine, 'unavailable');
  assert.match(view.state.message ?? '', /dynamics not configured/);
  const push = await partial.app.inject({
    method: 'POST',
    url: '/v1/pipelines/default/push',
    headers: auth,
    payload: { marketoId: '1', as: 'lead' },
  });
  assert.match(assertProblem(push, 503).detail, /needs connection "dynamics", which is not configured/);
  const run = await partial.sync.runOnce('default');
  assert.equal(run?.status, 'failed');
  assert.match(run?.error ?? '', /needs connection "dynamics"/);
  for (const url of ['/v1/pipelines/default/runs', '/v1/pipelines/default/links', '/v1/pipelines/default/activity']) {
    assert.equal((await partial.app.inject({ url, headers: auth })).statusCode, 200, url);
  }
});

test('pipelines show connections with secrets masked; logs redact them; mappings are checked against both systems', async () => {
  const lines: string[] = [];
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const secret = 'very-secret-value-42';
  const tandem = await start(mongo.freshDbName(), {
    pluginConfig: {
      marketo: { baseUrl: 'http://marketo.test', clientSecret: secret },
      dynamics: { baseUrl: 'http://dynamics.test', clientSecret: secret },
    },
    logger: pino({ level: 'info' }, capture),
  });
  const pipeline = (await tandem.app.inject({ url: '/v1/pipelines/default', headers: auth })).json() as {
    connections: Record<string, { loaded: boolean; config: Record<string, unknown> }>;
  };
  assert.equal(pipeline.connections['marketo']?.loaded, true);
  assert.deepEqual(pipeline.connections['marketo']?.config, {
    baseUrl: 'http://marketo.test',
    clientSecret: '********',
  });
  assert.ok(
    lines.some((l) => l.includes('fixture connector configured')),
    'the fixture logged its config',
  );
  assert.ok(!lines.some((l) => l.includes(secret)), 'no log line carries the secret');

  const good = {
    objects: [
      {
        marketo: 'lead',
        dynamics: 'contact',
        fields: [
          { marketo: 'email', dynamics: 'emailaddress1', direction: 'both' },
          { marketo: 'leadScore', dynamics: 'mkt_secret', direction: 'both' },
        ],
      },
    ],
  };
  const put = await tandem.app.inject({
    method: 'PUT',
    url: '/v1/pipelines/default/mappings',
    headers: auth,
    payload: good,
  });
  assert.equal(put.statusCode, 200, put.body);
  const got = (await tandem.app.inject({ url: '/v1/pipelines/default/mappings', headers: auth })).json() as {
    objects: unknown[];
    unsyncable: Array<{ dynamics: string; effective: string; reasons: string[] }>;
  };
  assert.deepEqual(got.objects, good.objects);
  assert.equal(got.unsyncable.length, 1);
  assert.equal(got.unsyncable[0]?.dynamics, 'mkt_secret');
  assert.equal(got.unsyncable[0]?.effective, 'none');
  assert.match(got.unsyncable[0]?.reasons[0] ?? '', /not readable.*field security profile/);

  const unknownField = structuredClone(good);
  unknownField.objects[0]!.fields.push({ marketo: 'shoeSize', dynamics: 'firstname', direction: 'toMarketo' });
  const rejected = await tandem.app.inject({
    method: 'PUT',
    url: '/v1/pipelines/default/mappings',
    headers: auth,
    payload: unknownField,
  });
  assert.match(assertProblem(rejected, 400).detail, /marketo lead has no field "shoeSize"/);
  const audit = await tandem.app.inject({ url: '/v1/pipelines/default/mappings', headers: auth });
  assert.deepEqual((audit.json() as { objects: unknown }).objects, good.objects, 'a rejected PUT changes nothing');
});

test('start-up fails cleanly on bad configuration or a failing plugin, naming the culprit', async () => {
  await assert.rejects(
    start(mongo.freshDbName(), { env: { TANDEM_SYNC_INTERVAL: 'abc' } }),
    /TANDEM_SYNC_INTERVAL must be a positive number of minutes, got "abc"/,
  );
  const failing = writePolicy(fixtures, 'failing-at-init', 'failing-at-init', { failInit: true });
  await assert.rejects(start(mongo.freshDbName(), { plugins: [policyDir, failing] }), /@fixture\/failing-at-init/);
});

test('/ready answers 503 with the reason when MongoDB stops answering', async () => {
  const own = await startJongodb();
  const tandem = await start('ready', { mongoUri: own.uri });
  assert.equal((await tandem.app.inject({ url: '/ready', headers: auth })).statusCode, 200);
  await own.stop();
  const ready = await tandem.app.inject({ url: '/ready', headers: auth });
  assert.equal(ready.statusCode, 503);
  const { reasons } = ready.json() as { reasons: string[] };
  assert.equal(reasons.length, 1);
  assert.match(reasons[0] ?? '', /^MongoDB does not answer/);
  assert.equal((await tandem.app.inject({ url: '/health' })).statusCode, 200, 'liveness does not depend on MongoDB');
});

test('/ready answers 503 within its deadline while MongoDB is paused (SIGSTOP), and 200 once it is back', async () => {
  const own = await startJongodb();
  const tandem = await start('paused', { mongoUri: own.uri });
  assert.equal((await tandem.app.inject({ url: '/ready', headers: auth })).statusCode, 200);
  own.process.kill('SIGSTOP');
  try {
    await stopped(own.process.pid);
    // Polled like a supervisor would: each answer must come, and say why; none may hang on the paused server.
    for (let i = 0; i < 3; i++) {
      const ready = await tandem.app.inject({ url: '/ready', headers: auth, signal: AbortSignal.timeout(3000) });
      assert.equal(ready.statusCode, 503);
      assert.deepEqual((ready.json() as { reasons: string[] }).reasons, ['MongoDB does not answer within 1000 ms']);
    }
    assert.equal((await tandem.app.inject({ url: '/health' })).statusCode, 200);
  } finally {
    own.process.kill('SIGCONT');
  }
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i++) {
    status = (await tandem.app.inject({ url: '/ready', headers: auth })).statusCode;
    if (status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 200, '/ready recovers once MongoDB answers again');
  await tandem.close();
  await own.stop();
});

/** Until the kernel reports `pid` stopped (state T): a signal is delivered, but not always at once under load. */
async function stopped(pid: number | undefined): Promise<void> {
  for (let i = 0; i < 200 && pid !== undefined; i++) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (/\) T /.test(stat)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An API with real MongoDB and repositories and no plugins, plus `extra` (status providers, say). */
async function apiWith(extra: Partial<ApiDeps>): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const logger = silentLogger();
  const handle = await connectMongo({
    uri: mongo.uri,
    dbName: mongo.freshDbName(),
    embedded: 'auto',
    dataDir: tmpdir(),
    logger,
  });
  const metrics = createMetrics();
  const pipelines = new PipelinesRepository(handle.db);
  const policySettings = new PolicySettingsRepository(handle.db);
  const store = new SyncStore(handle.db);
  const connections = new Connections(new Map(), 'live', logger);
  const app = await buildApp({
    logger,
    metrics,
    token: TOKEN,
    mongo: handle,
    plugins: new PluginHost({
      plugins: [],
      parent: container.createChildContainer(),
      logger,
      metrics: metrics.registry,
    }),
    pipelines,
    policySettings,
    audit: new AuditRepository(handle.db),
    store,
    mode: 'live',
    connections,
    connectionConfigs: new Map(),
    absentConnectors: [],
    sync: new SyncRuntime({
      store,
      logger,
      connections,
      policies: new Map(),
      pipelines,
      policySettings,
      instanceId: 'bare',
      intervalMinutes: 5,
      schedule: false,
    }),
    ...extra,
  });
  return {
    app,
    async close() {
      await app.close();
      await handle.close();
    },
  };
}

test("/ready shows each connection's last check and whether each pipeline can run; any failure is a 503", async () => {
  const connections: ConnectionStatus[] = [
    { id: 'marketo', ok: true, checkedAt: '2026-12-07T02:00:00.000Z', instance: '123-ABC-456' },
    { id: 'dynamics', ok: true, checkedAt: '2026-12-07T02:00:01.000Z', message: 'signed in as sync@contoso' },
  ];
  const pipelines: PipelineStatus[] = [{ id: 'default', ready: true }];
  const { app, close } = await apiWith({ connectionStatus: () => connections, pipelineStatus: () => pipelines });
  try {
    const ready = await app.inject({ url: '/ready', headers: auth });
    assert.equal(ready.statusCode, 200, ready.body);
    const body = ready.json() as { status: string; connections: unknown; pipelines: unknown };
    assert.equal(body.status, 'ready');
    assert.deepEqual(body.connections, connections);
    assert.deepEqual(body.pipelines, pipelines);

    connections[1] = {
      id: 'dynamics',
      ok: false,
      checkedAt: '2026-12-07T02:05:00.000Z',
      message: 'token refused (401)',
    };
    const failed = await app.inject({ url: '/ready', headers: auth });
    assert.equal(failed.statusCode, 503);
    assert.deepEqual((failed.json() as { reasons: string[] }).reasons, [
      'connection dynamics failed its last check: token refused (401)',
    ]);

    connections[1] = { id: 'dynamics', ok: true, checkedAt: '2026-12-07T02:10:00.000Z' };
    pipelines.push({
      id: 'marketo-salesforce',
      ready: false,
      reason: 'connection salesforce is not configured',
    } as never);
    const blocked = await app.inject({ url: '/ready', headers: auth });
    assert.equal(blocked.statusCode, 503);
    const blockedBody = blocked.json() as { reasons: string[]; pipelines: unknown };
    assert.deepEqual(blockedBody.reasons, [
      'pipeline marketo-salesforce cannot run: connection salesforce is not configured',
    ]);
    assert.deepEqual(blockedBody.pipelines, pipelines);
  } finally {
    await close();
  }
  // Without providers both lists are empty and say nothing against readiness.
  const plain = await apiWith({});
  try {
    const ready = await plain.app.inject({ url: '/ready', headers: auth });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual((ready.json() as { connections: unknown[] }).connections, []);
  } finally {
    await plain.close();
  }
});
