/**
 * An aborted signal stops every call promptly: in the limiter's wait, in a backoff sleep between retries, while
 * a token is being fetched, and in a paging loop; and it leaves nothing behind that keeps the process alive.
 */
import 'reflect-metadata';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { collect, resolveConnector, startHarness, type Harness } from './helpers';

/** Far longer than any bound below: a wait that is not cut short shows. */
const LONG_MS = 60_000;
/** How long an aborted call may take to give up. */
const BOUND_MS = 2_000;

let h: Harness;
before(async () => {
  h = await startHarness({ seed: true, people: 700, limits: { callsPerWindow: 100_000 } });
});
after(() => h.close());

/** Timers keeping the event loop alive (unref'd ones are not listed). */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Waits until `ready()` holds, then aborts, and measures how long `work` takes to reject with the abort. */
async function abortWhen(
  ready: () => boolean,
  work: (signal: AbortSignal) => Promise<unknown>,
): Promise<{ ms: number; error: unknown }> {
  const controller = new AbortController();
  const running = work(controller.signal).then(
    () => assert.fail('the call ended without the abort'),
    (error: unknown) => ({ error, at: performance.now() }),
  );
  for (let i = 0; i < 500 && !ready(); i++) await sleep(10);
  assert.ok(ready(), 'the call reached the wait');
  const abortedAt = performance.now();
  controller.abort();
  const { error, at } = await running;
  return { ms: at - abortedAt, error };
}

const isAbort = (error: unknown) => error instanceof Error && error.name === 'AbortError';

test("in the limiter's wait: rejected at once, and its wake-up timer goes", async () => {
  // One call per minute: the describe takes it, the read waits for the window.
  const c = h.connect({ limits: { callsPerWindow: 1, windowMs: LONG_MS } });
  try {
    await c.describe('lead');
    const before = timers();
    let sent = false;
    const { ms, error } = await abortWhen(
      () => sent && timers() > before,
      (signal) => {
        sent = true;
        return c.get('lead', ['1'], { fields: ['email'], signal });
      },
    );
    assert.ok(isAbort(error), String(error));
    assert.ok(ms < BOUND_MS, `${ms} ms`);
    assert.equal(timers(), before, 'no timer left to keep the process alive');
  } finally {
    await c.close();
  }
});

test('in a backoff sleep between retries', async () => {
  const c = h.connect({ backoff: { baseMs: LONG_MS, maxMs: LONG_MS } });
  try {
    await c.describe('lead');
    h.sandbox.setFaults({ failEvery: { n: 1, code: 611 } });
    const before = h.sandbox.counters.byErrorCode['611'] ?? 0;
    const { ms, error } = await abortWhen(
      () => (h.sandbox.counters.byErrorCode['611'] ?? 0) > before,
      (signal) => c.get('lead', ['1'], { fields: ['email'], signal }),
    );
    assert.ok(isAbort(error), String(error));
    assert.ok(ms < BOUND_MS, `${ms} ms`);
  } finally {
    h.sandbox.setFaults({ failEvery: null });
    await c.close();
  }
});

test('while the token is fetched: rejected at once, and the token request itself is dropped', async () => {
  // An identity endpoint that never answers.
  const held: IncomingMessage[] = [];
  let dropped = 0;
  const server = createServer((req) => {
    held.push(req);
    req.socket.once('close', () => dropped++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const c = resolveConnector({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    clientId: 'id',
    clientSecret: 'secret',
    // Were the abort not to reach the token request, the call would end with this timeout instead.
    requestTimeoutMs: 5_000,
    maxAttempts: 1,
  });
  try {
    // Two callers share the one token request: the first to give up leaves it to the other.
    const other = new AbortController();
    const second = c.describe('lead', other.signal).catch((error: unknown) => error);
    const { ms, error } = await abortWhen(
      () => held.length === 1,
      (signal) => c.get('lead', ['1'], { fields: ['email'], signal }),
    );
    assert.ok(isAbort(error), String(error));
    assert.ok(ms < BOUND_MS, `${ms} ms`);
    await sleep(50);
    assert.equal(dropped, 0, 'still wanted by the other caller');
    other.abort();
    assert.ok(isAbort(await second));
    for (let i = 0; i < 200 && dropped === 0; i++) await sleep(10);
    assert.equal(dropped, 1, 'nobody waits for it any more: the request is dropped');
    assert.equal(held.length, 1, 'one token request for both callers');
  } finally {
    await c.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('in a paging loop: the initial scan and its read-aheads stop', async () => {
  h.sandbox.setFaults({ latencyMs: 200 });
  const c = h.connect();
  try {
    await c.describe('lead');
    const start = h.sandbox.counters.byEndpoint['GET /v1/leads.json'] ?? 0;
    const { ms, error } = await abortWhen(
      () => (h.sandbox.counters.byEndpoint['GET /v1/leads.json'] ?? 0) > start,
      (signal) => collect(c.readChanges('lead', null, { fields: ['email'], signal })),
    );
    assert.ok(isAbort(error), String(error));
    assert.ok(ms < BOUND_MS, `${ms} ms`);
  } finally {
    h.sandbox.setFaults({ latencyMs: 0 });
    await c.close();
  }
});
