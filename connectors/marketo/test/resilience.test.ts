/** Auth refresh, limits, quota and bad answers: the connector against the sandbox's limits and faults. */
import 'reflect-metadata';
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConnectorAuthError,
  ProtocolError,
  QuotaExhaustedError,
  RetryableError,
  type WriteOp,
} from '@tandem/core/plugin';
import { nextCentralMidnight } from '../src/quota';
import { FIELDS, startHarness, type Harness } from './helpers';

const ids = (from: number, count: number) => Array.from({ length: count }, (_, i) => String(from + i));

describe('tokens', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ seed: true, people: 30 });
  });
  after(() => h.close());

  test('the token is cached and sent as a Bearer header only', async () => {
    await h.connector.get('lead', ['1'], { fields: ['email'] });
    await h.connector.get('lead', ['2'], { fields: ['email'] });
    assert.equal(h.connector.stats().identityCalls, 1);
  });

  test('tokens expired mid-run (602): a new token is fetched and the call retried once', async () => {
    const start = h.connector.stats().identityCalls;
    h.sandbox.resetCounters();
    h.sandbox.expireTokens();
    const records = await h.connector.get('lead', ['1', '2', '3'], { fields: FIELDS });
    assert.equal(records.length, 3);
    assert.equal(h.sandbox.counters.byErrorCode['602'], 1);
    assert.equal(h.connector.stats().identityCalls, start + 1);
    // Parallel calls during an expiry share one token fetch.
    h.sandbox.expireTokens();
    const write: WriteOp[] = ids(1, 30).map((id) => ({ kind: 'update', ref: id, id, fields: { title: `T${id}` } }));
    const [a, b] = await Promise.all([
      h.connector.get('lead', ids(1, 30), { fields: ['email'] }),
      h.connector.write('lead', write),
    ]);
    assert.equal(a.length, 30);
    assert.ok(b.every((r) => r.status === 'updated'));
    assert.equal(h.connector.stats().identityCalls, start + 2);
  });

  test('a token expiring again while a call waits out a 606 is refreshed again: the call answers', async () => {
    const c = h.connect();
    await c.get('lead', ['1'], { fields: ['email'] });
    h.sandbox.resetCounters();
    // Expired before the call (refreshed once), then a 606, and expired again during the wait it names.
    h.sandbox.expireTokens();
    // The 606 names a 1 s window (the connector waits what it names), so that the test is quick.
    h.sandbox.setFaults({
      failEvery: { n: 2, code: 606, message: "Max rate limit '100' exceeded with in '1' secs" },
    });
    const call = c.get('lead', ['1', '2'], { fields: ['email'] });
    for (let i = 0; (h.sandbox.counters.byErrorCode['606'] ?? 0) === 0; i++) {
      assert.ok(i < 2000, 'a 606 was answered');
      await new Promise((r) => setTimeout(r, 5));
    }
    h.sandbox.setFaults({ failEvery: null });
    h.sandbox.expireTokens();
    assert.equal((await call).length, 2);
    assert.equal(h.sandbox.counters.byErrorCode['602'], 2);
  });

  test('an invalid token (601) also refreshes', async () => {
    const c = h.connect();
    await c.get('lead', ['1'], { fields: ['email'] });
    // Revoke every token: the sandbox forgets them, so they become invalid rather than expired.
    h.sandbox.revokeTokens();
    const records = await c.get('lead', ['1'], { fields: ['email'] });
    assert.equal(records.length, 1);
  });

  test('bad credentials are a ConnectorAuthError', async () => {
    const c = h.connect({ clientSecret: 'wrong' });
    await assert.rejects(c.get('lead', ['1'], { fields: ['email'] }), (error: unknown) => {
      assert.ok(error instanceof ConnectorAuthError);
      assert.match(error.message, /Bad client credentials/);
      return true;
    });
    assert.equal((await c.check()).ok, false);
  });
});

describe('limits', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ seed: true, people: 600, limits: { callsPerWindow: 5, windowMs: 2000 } });
  });
  afterEach(() => {
    h.sandbox.setFaults({ latencyMs: 0, failEvery: null, malformedEvery: null, tokenHtml: false });
    h.sandbox.setLimits({ callsPerWindow: 5, windowMs: 2000, maxConcurrent: 10, dailyQuota: 50_000 });
    h.sandbox.resetQuota();
    h.sandbox.resetWindow();
  });
  after(() => h.close());

  test('606 throttling is retried with backoff and nothing is lost', async () => {
    // The connector believes the default 100/20 s, the sandbox allows 5/2 s: it must be throttled and recover.
    h.sandbox.resetCounters();
    const wanted = ids(1, 600);
    const chunks = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        h.connector.get('lead', wanted.slice(i * 75, i * 75 + 75), { fields: ['email'] }),
      ),
    );
    const got = chunks.flat().map((r) => r.id);
    assert.equal(new Set(got).size, 600);
    assert.ok(h.sandbox.counters.throttled606 > 0, 'the sandbox throttled');
    assert.ok(h.connector.stats().throttled > 0);
    assert.ok(h.connector.stats().retries > 0);
  });

  test('the proactive limiter keeps within the window: no 606 when its limits match', async () => {
    const c = h.connect({ limits: { callsPerWindow: 5, windowMs: 2000 } });
    h.sandbox.resetCounters();
    const all = await Promise.all(ids(1, 9).map((id) => c.get('lead', [id], { fields: ['email'] })));
    assert.equal(all.flat().length, 9);
    assert.equal(h.sandbox.counters.throttled606, 0);
    assert.equal(h.sandbox.counters.restCalls, 9 + 1); // + the describe that checks the fields
  });

  test('the limiter keeps concurrency within maxConcurrent: no 615', async () => {
    h.sandbox.setLimits({ callsPerWindow: 1000, maxConcurrent: 3 });
    h.sandbox.setFaults({ latencyMs: 50 });
    const c = h.connect({ limits: { maxConcurrent: 3 } });
    h.sandbox.resetCounters();
    await Promise.all(ids(1, 12).map((id) => c.get('lead', [id], { fields: ['email'] })));
    assert.equal(h.sandbox.counters.concurrency615, 0);
    assert.ok(h.sandbox.counters.maxInFlight <= 3);
  });

  test('615 from a concurrency limit lower than ours is retried', async () => {
    h.sandbox.setLimits({ callsPerWindow: 1000, maxConcurrent: 2 });
    h.sandbox.setFaults({ latencyMs: 50 });
    const c = h.connect({ limits: { maxConcurrent: 6 } });
    h.sandbox.resetCounters();
    const all = await Promise.all(ids(1, 12).map((id) => c.get('lead', [id], { fields: ['email'] })));
    assert.equal(all.flat().length, 12);
    assert.ok(h.sandbox.counters.concurrency615 > 0);
  });

  test('607 is reported as QuotaExhaustedError with the next midnight US Central', async () => {
    h.sandbox.setLimits({ callsPerWindow: 1000, dailyQuota: 3 });
    const c = h.connect();
    await c.describe('lead');
    await c.get('lead', ['1'], { fields: ['email'] });
    await c.get('lead', ['2'], { fields: ['email'] });
    await assert.rejects(c.get('lead', ['3'], { fields: ['email'] }), (error: unknown) => {
      assert.ok(error instanceof QuotaExhaustedError);
      assert.equal(error.code, 'CONNECTOR_QUOTA');
      assert.ok(error.resetsAt && error.resetsAt.getTime() > Date.now());
      assert.ok(error.resetsAt.getTime() <= Date.now() + 25 * 3600_000);
      return true;
    });
    // A write in a spent quota stops too, instead of turning into per-record failures.
    await assert.rejects(
      c.write('lead', [{ kind: 'update', ref: 'x', id: '1', fields: { title: 'x' } }]),
      QuotaExhaustedError,
    );
    assert.equal(c.stats().quotaExhausted, 2);
  });

  test('retryable failures that persist surface as RetryableError; in writes as failed results', async () => {
    h.sandbox.setLimits({ callsPerWindow: 1000 });
    h.sandbox.setFaults({ failEvery: { n: 1, code: 611 } });
    const c = h.connect({ maxAttempts: 2, backoff: { baseMs: 10, maxMs: 20 } });
    await assert.rejects(c.get('lead', ['1'], { fields: ['email'] }), RetryableError);
    const [result] = await c.write('lead', [{ kind: 'update', ref: 'x', id: '1', fields: { title: 'x' } }]);
    assert.equal(result?.status, 'failed');
    assert.equal(result?.status === 'failed' && result.retryable, true);
  });

  test('HTTP 502 is retried', async () => {
    h.sandbox.setLimits({ callsPerWindow: 1000 });
    h.sandbox.setFaults({ failEvery: { n: 2, code: 502 } });
    const c = h.connect();
    const all = await Promise.all(ids(1, 6).map((id) => c.get('lead', [id], { fields: ['email'] })));
    assert.equal(all.flat().length, 6);
    assert.ok((h.sandbox.counters.byErrorCode['502'] ?? 0) > 0);
  });

  test('the daily call counter is a prom-client metric', async () => {
    const text = await h.metrics.metrics();
    assert.match(text, /tandem_marketo_api_calls_total\{kind="rest",outcome="ok"\} \d+/);
    assert.match(text, /tandem_marketo_api_calls_total\{kind="rest",outcome="throttled"\} \d+/);
    assert.match(text, /tandem_marketo_api_calls_today \d+/);
  });
});

describe('bad answers', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ seed: true, people: 5 });
  });
  afterEach(() => h.sandbox.setFaults({ malformedEvery: null, tokenHtml: false }));
  after(() => h.close());

  test('a malformed JSON body is a clear ProtocolError', async () => {
    h.sandbox.setFaults({ malformedEvery: 1 });
    await assert.rejects(h.connector.get('lead', ['1'], { fields: ['email'] }), (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      assert.match(error.message, /malformed JSON instead of a JSON envelope/);
      return true;
    });
  });

  test('an HTML page from the token endpoint is a clear ProtocolError', async () => {
    h.sandbox.setFaults({ tokenHtml: true });
    const c = h.connect();
    await assert.rejects(c.describe('lead'), (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      assert.match(error.message, /token endpoint .* answered an HTML page/);
      return true;
    });
    // And the next call after the fault is gone works: nothing was cached from the failure.
    h.sandbox.setFaults({ tokenHtml: false });
    assert.equal((await c.describe('lead')).idField, 'id');
  });

  test('an unreachable host is a RetryableError, not a crash', async () => {
    const c = h.connect({ baseUrl: 'http://127.0.0.1:9', maxAttempts: 1 });
    await assert.rejects(c.get('lead', ['1'], { fields: ['email'] }), RetryableError);
  });
});

test('nextCentralMidnight is midnight in America/Chicago', () => {
  // 2026-07-01 12:00 UTC is 07:00 CDT (UTC-5): the next midnight is 2026-07-02 05:00 UTC.
  assert.equal(nextCentralMidnight(Date.UTC(2026, 6, 1, 12)).toISOString(), '2026-07-02T05:00:00.000Z');
  // 2026-01-15 03:00 UTC is 21:00 CST on the 14th (UTC-6): the next midnight is 2026-01-15 06:00 UTC.
  assert.equal(nextCentralMidnight(Date.UTC(2026, 0, 15, 3)).toISOString(), '2026-01-15T06:00:00.000Z');
});

describe('answers in unexpected shapes (a server that is not Marketo)', () => {
  // Not the sandbox: a bare HTTP server answering what a misconfigured proxy or a wrong base URL might.
  let server: Server;
  let base = '';
  let tokenBody = '';
  const bodies: Record<string, string> = {
    '/rest/v1/leads/describe2.json': '{"requestId":"a#1","success":true,"result":[{"fields":"nope"}]}',
    '/rest/v1/leads/describe.json': '{"requestId":"a#1","success":true,"result":[]}',
    '/rest/v1/leads.json': '{"hello":"world"}',
    '/rest/v1/activities/pagingtoken.json': '{"requestId":"a#1","success":true,"result":"not-an-array"}',
  };
  before(async () => {
    server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      res.setHeader('content-type', 'application/json');
      res.end(path === '/identity/oauth/token' ? tokenBody : (bodies[path] ?? '{}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const connector = async () => {
    const h = await startHarness();
    await h.close();
    return h.connect({ baseUrl: base, maxAttempts: 1 });
  };

  test('a token answer without access_token is a ProtocolError', async () => {
    tokenBody = '{"access_token":5}';
    const c = await connector();
    await assert.rejects(c.describe('lead'), /token endpoint .* answered an unexpected shape/);
  });

  test('wrong shapes in REST answers are ProtocolErrors naming what was wrong', async () => {
    tokenBody = '{"access_token":"t:int","token_type":"bearer","expires_in":3599,"scope":"x"}';
    const c = await connector();
    await assert.rejects(
      c.describe('lead'),
      (e: unknown) => e instanceof ProtocolError && /fields is not an array/.test(e.message),
    );
    await assert.rejects(c.client.get('/v1/leads.json', {}), /without the response envelope/);
    await assert.rejects(c.client.get('/v1/activities/pagingtoken.json', {}), /non-array result/);
  });
});
