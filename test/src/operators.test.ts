/**
 * Operators' routes against the real server and both sandboxes: webhooks (signed, retried, logged, surviving a
 * restart mid-retry, secrets never shown again), change notices (debounced: counted in runs started), and
 * connection checks telling the API allowance left and the system's clock.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTandem, type RunningTandem, type StartOptions } from '@tandem/core';
import { startTestMongo, type TestMongo } from '@tandem/core/testing';
import { PIPELINE, TOKEN, World, silent, type Run } from './harness';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

/** A Tandem instance on the world's sandboxes and database, with operator options. */
async function instance(world: World, extra: Partial<StartOptions> = {}): Promise<RunningTandem> {
  const tandem = await startTandem({
    env: { TANDEM_API_TOKEN: TOKEN, LOG_LEVEL: 'silent' },
    pluginConfig: world.pluginConfig(),
    mongoUri: mongo.uri,
    dbName: world.dbName,
    port: 0,
    logger: silent,
    schedule: false,
    ...extra,
  });
  world.instances.push(tandem);
  return tandem;
}

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A webhook receiver that answers `statuses` in turn (then 200) and keeps what it was sent. */
async function receiver(statuses: number[]): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.statusCode = statuses.shift() ?? 200;
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/tandem`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** What a receiver does with the README's instructions alone: HMAC-SHA256 over "<t>.<body>", t recent. */
function verifies(secret: string, received: Received): boolean {
  const header = String(received.headers['tandem-signature'] ?? '');
  const fields = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const t = Number(fields['t']);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${received.body}`).digest('hex');
  const given = fields['v1'] ?? '';
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 1500; i++) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Delivery {
  id: string;
  status: string;
  attempts: number;
  event: string;
  runId: string;
  responseCode?: number;
  history: Array<{ responseCode?: number; error?: string }>;
}

test('a failed run is posted to the webhook, signed; a refused delivery is retried and logged; the secret is shown once', async () => {
  const world = await World.start({ mongo, marketo: [0, 1], contacts: [1], external: true });
  const hook = await receiver([500]);
  try {
    const tandem = await instance(world, { webhooks: { retryDelaysMs: [50, 50] } });
    const put = await world.api<{
      webhooks: Array<{ id: string; secret: string; generatedSecret?: string; events: string[] }>;
    }>('PUT', `/v1/pipelines/${PIPELINE}/webhooks`, { webhooks: [{ url: hook.url }] }, tandem);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const [configured] = put.body.webhooks;
    const secret = configured?.generatedSecret ?? '';
    assert.ok(secret.length >= 32, 'a generated secret, shown in this answer');
    assert.equal(configured?.secret, '********');
    assert.deepEqual(configured?.events, ['failed', 'partial'], 'failed and partial runs by default');
    const shown = await world.api('GET', `/v1/pipelines/${PIPELINE}/webhooks`, undefined, tandem);
    assert.ok(!JSON.stringify(shown.body).includes(secret), 'never shown again');
    assert.ok(!JSON.stringify(shown.body).includes('generatedSecret'));

    // A succeeded run is not posted (by default); a failed one is.
    const good = await world.cycle(tandem);
    assert.equal(good.status, 'succeeded');
    world.marketo.setFaults({ failEvery: { n: 1, code: 607 } });
    const failed = await world.cycle(tandem);
    assert.equal(failed.status, 'failed', JSON.stringify(failed));

    await until('the retry', () => hook.received.length >= 2 || undefined);
    const deliveries = await until('the delivery to be delivered', async () => {
      const list = (
        await world.api<Delivery[]>('GET', `/v1/pipelines/${PIPELINE}/webhooks/deliveries`, undefined, tandem)
      ).body;
      return list[0]?.status === 'delivered' ? list : undefined;
    });
    assert.equal(deliveries.length, 1, 'one delivery: the failed run');
    const [delivery] = deliveries;
    assert.equal(delivery?.runId, failed.id);
    assert.equal(delivery?.event, 'run.failed');
    assert.equal(delivery?.attempts, 2);
    assert.deepEqual(
      delivery?.history.map((h) => h.responseCode),
      [500, 200],
    );
    assert.equal(hook.received.length, 2, 'delivered once it was accepted, not again');

    for (const received of hook.received) {
      assert.ok(verifies(secret, received), 'each attempt is signed with the secret, over its timestamp and body');
      assert.equal(received.headers['tandem-delivery'], delivery?.id, 'the same delivery id on each attempt');
      assert.equal(received.headers['tandem-event'], 'run.failed');
      const body = JSON.parse(received.body) as { event: string; pipelineId: string; run: Run };
      assert.equal(body.pipelineId, PIPELINE);
      assert.equal(body.run.id, failed.id);
      assert.equal(body.run.status, 'failed');
    }
    const tampered = { ...hook.received[0]!, body: hook.received[0]!.body.replace('failed', 'succeeded') };
    assert.equal(verifies(secret, tampered), false, 'a changed body does not verify');
    assert.equal(verifies('another-secret-0123456789', hook.received[0]!), false);
    const log = await world.api('GET', `/v1/pipelines/${PIPELINE}/webhooks/deliveries`, undefined, tandem);
    assert.ok(!JSON.stringify(log.body).includes(secret), 'the delivery log holds no secret');
  } finally {
    await hook.close();
    await world.close();
  }
});

test('a delivery whose retry is pending when Tandem stops is sent by the next instance to start', async () => {
  const world = await World.start({ mongo, marketo: [0], external: true });
  const hook = await receiver([503]);
  try {
    const first = await instance(world, { webhooks: { retryDelaysMs: [3000] } });
    const put = await world.api(
      'PUT',
      `/v1/pipelines/${PIPELINE}/webhooks`,
      {
        webhooks: [{ url: hook.url, secret: 'a-secret-of-our-own-0123', events: ['succeeded'] }],
      },
      first,
    );
    assert.equal(put.status, 200);
    const run = await world.cycle(first);
    assert.equal(run.status, 'succeeded');
    const pending = await until('the first attempt', async () => {
      const [d] = (
        await world.api<Delivery[]>('GET', `/v1/pipelines/${PIPELINE}/webhooks/deliveries`, undefined, first)
      ).body;
      return d?.attempts === 1 ? d : undefined;
    });
    assert.equal(pending.status, 'pending');
    await first.close();
    world.instances.splice(world.instances.indexOf(first), 1);
    assert.equal(hook.received.length, 1, 'the retry was not sent before the stop');

    // Only the look at start can find it: the periodic one is far off.
    const second = await instance(world, { webhooks: { retryDelaysMs: [3000], sweepMs: 600_000 } });
    const done = await until('the retry from the new instance', async () => {
      const [d] = (
        await world.api<Delivery[]>('GET', `/v1/pipelines/${PIPELINE}/webhooks/deliveries`, undefined, second)
      ).body;
      return d?.status === 'delivered' ? d : undefined;
    });
    assert.equal(done.id, pending.id);
    assert.equal(done.attempts, 2);
    assert.equal(hook.received.length, 2);
    assert.ok(verifies('a-secret-of-our-own-0123', hook.received[1]!));
  } finally {
    await hook.close();
    await world.close();
  }
});

test('change notices start one cycle per debounce window, and one more after a cycle they arrive during', async () => {
  const world = await World.start({ mongo, marketo: [0, 1], contacts: [1], external: true });
  try {
    const tandem = await instance(world, { notifyWindowMs: 300 });
    const notify = async () => {
      const answer = await world.api<{ status: string }>('POST', `/v1/pipelines/${PIPELINE}/notify`, undefined, tandem);
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      return answer.body.status;
    };
    const notifyRuns = async () =>
      (await world.api<Run[]>('GET', `/v1/pipelines/${PIPELINE}/runs?limit=100`, undefined, tandem)).body.filter(
        (r) => (r as Run & { trigger: string }).trigger === 'notify',
      );
    const settled = (runs: Run[], n: number) =>
      runs.length === n && runs.every((r) => r.status !== 'running') ? runs : undefined;

    // Five notices in a row: one cycle.
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push(await notify());
    assert.deepEqual(statuses, ['scheduled', 'coalesced', 'coalesced', 'coalesced', 'coalesced']);
    const [firstRun] = await until('the notified cycle', async () => settled(await notifyRuns(), 1));
    assert.equal(firstRun?.status, 'succeeded');

    // Notices while a cycle runs: exactly one more cycle, after it.
    world.marketo.setFaults({ latencyMs: 400 });
    assert.equal(await notify(), 'scheduled');
    await until(
      'the second cycle to run',
      async () => (await notifyRuns()).some((r) => r.status === 'running') || undefined,
    );
    const during = [await notify(), await notify(), await notify()];
    assert.deepEqual(during, ['after-run', 'coalesced', 'coalesced']);
    world.marketo.setFaults({ latencyMs: 0 });
    const runs = await until('the cycle after it', async () => settled(await notifyRuns(), 3));
    assert.deepEqual(
      runs.map((r) => r.status),
      ['succeeded', 'succeeded', 'succeeded'],
    );
    // Nothing more was due: the next notice opens a new window.
    assert.equal(await notify(), 'scheduled');
    await until('the last cycle', async () => settled(await notifyRuns(), 4));

    // Any body (a Dataverse RemoteExecutionContext, a Marketo webhook's template) is accepted and ignored.
    const raw = await fetch(`${tandem.url}/v1/pipelines/${PIPELINE}/notify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ MessageName: 'Update', PrimaryEntityName: 'contact', 'odata.etag': 'x', $type: 1 }),
    });
    assert.equal(raw.status, 202);
    const unauthorized = await fetch(`${tandem.url}/v1/pipelines/${PIPELINE}/notify`, { method: 'POST' });
    assert.equal(unauthorized.status, 401);
    assert.equal((await world.api('POST', '/v1/pipelines/nope/notify', undefined, tandem)).status, 404);
  } finally {
    await world.close();
  }
});

test("a connection check tells the API allowance left and the system's clock; /metrics shows them per connection", async () => {
  const world = await World.start({ mongo, marketo: [0], external: true });
  try {
    const tandem = await instance(world);
    await world.cycle(tandem);
    const marketo = await world.api<{
      ok: boolean;
      quota?: { used: number; limit: number; remaining: number; resetsAt: string };
      serverTime?: string;
      checkedAt: string;
    }>('POST', '/v1/connections/marketo/check', undefined, tandem);
    assert.equal(marketo.status, 200);
    const quota = marketo.body.quota;
    assert.ok(quota && quota.used > 0, 'the calls this process made today');
    assert.equal(quota.limit, 50_000);
    assert.equal(quota.remaining, quota.limit - quota.used);
    assert.ok(Date.parse(quota.resetsAt) > Date.now(), 'resets at the next midnight US Central');
    const dynamics = await world.api<{ serverTime?: string; checkedAt: string }>(
      'POST',
      '/v1/connections/dynamics/check',
      undefined,
      tandem,
    );
    for (const check of [marketo.body, dynamics.body]) {
      assert.ok(check.serverTime, 'from the HTTP Date header');
      assert.ok(Math.abs(Date.parse(check.serverTime) - Date.parse(check.checkedAt)) < 5000);
    }
    const metrics = await fetch(`${tandem.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const text = await metrics.text();
    assert.match(text, new RegExp(`tandem_connection_quota_remaining\\{connection="marketo"\\} ${quota.remaining}`));
    assert.match(text, /tandem_connection_clock_skew_seconds\{connection="dynamics"\} -?\d/);
    assert.match(text, /tandem_sync_last_success_timestamp_seconds\{pipeline="default"\} \d/);
  } finally {
    await world.close();
  }
});
