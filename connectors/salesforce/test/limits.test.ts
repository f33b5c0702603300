/**
 * The org's daily allocation (Tandem's share of it, REQUEST_LIMIT_EXCEEDED), service trouble (503) retried with
 * backoff, and callers that give up (AbortSignal), backoff waits included.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTandemError, QuotaExhaustedError } from '@tandem/core/plugin';
import { startGateway } from './gateway';
import { CONTACT_FIELDS, readAll, withHarness, type Harness } from './helpers';

function limits(h: Harness, extra: Record<string, number>) {
  return { limits: { ...h.config.limits, ...extra } as typeof h.config.limits };
}

describe("the org's daily API allocation", () => {
  test('past SALESFORCE_MAX_API_SHARE of it, calls stop before being sent, saying when room is looked for again', async () => {
    await withHarness({ dailyApiAllocation: 1000 }, async (h) => {
      const c = h.connector({ maxApiShare: 0.5, ...limits(h, { quotaRecheckMinutes: 0.002 }) });
      await c.describe('Contact');
      h.sandbox.setApiUsage({ used: 499 });
      await readAll(c, 'Contact', null, CONTACT_FIELDS); // the 500th request: the answer says 500/1000
      const sent = h.sandbox.getCounters().apiRequests;
      const before = Date.now();
      await assert.rejects(readAll(c, 'Contact', null, CONTACT_FIELDS), (e: unknown) => {
        assert.ok(e instanceof QuotaExhaustedError, String(e));
        assert.equal(e.code, 'CONNECTOR_QUOTA');
        assert.match(e.message, /500 of the org's 1,000 daily requests.*50%.*SALESFORCE_MAX_API_SHARE=0\.5/);
        assert.ok(e.resetsAt && e.resetsAt.getTime() >= before, 'says when it looks again');
        return true;
      });
      assert.equal(h.sandbox.getCounters().apiRequests, sent, 'nothing was sent');
      assert.equal(c.stats().quotaRefusals, 1);
      // Room came back (other integrations' requests aged out): after the recheck time one call looks, and works.
      h.sandbox.setApiUsage({ used: 100 });
      await new Promise((r) => setTimeout(r, 200));
      const again = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      assert.ok(again.pages.length > 0);
      await readAll(c, 'Contact', again.cursor, CONTACT_FIELDS);
    });
  });

  test('REQUEST_LIMIT_EXCEEDED (the whole allocation spent): a QuotaExhaustedError, not a retry', async () => {
    await withHarness({ dailyApiAllocation: 1000 }, async (h) => {
      const c = h.connector({ maxApiShare: 1 });
      await c.describe('Contact');
      h.sandbox.setApiUsage({ used: 1000 });
      h.sandbox.resetCounters();
      await assert.rejects(
        c.findByEmail('Contact', ['a@example.com'], { fields: CONTACT_FIELDS }),
        (e: unknown) =>
          e instanceof QuotaExhaustedError && /REQUEST_LIMIT_EXCEEDED/.test(e.message) && e.resetsAt !== undefined,
      );
      assert.equal(h.sandbox.getCounters().limitExceeded, 1, 'asked once');
      // And the next call does not ask again before the time it gave.
      await assert.rejects(
        c.findByEmail('Contact', ['a@example.com'], { fields: CONTACT_FIELDS }),
        QuotaExhaustedError,
      );
      assert.equal(h.sandbox.getCounters().limitExceeded, 1);
    });
  });

  test("check(): the allowance left as the last counted answer's Sforce-Limit-Info said, and the org's clock", async () => {
    await withHarness({ dailyApiAllocation: 5000 }, async (h) => {
      const c = h.connector();
      const before = await c.check();
      assert.equal(before.quota, undefined, 'unknown until a counted answer: check() itself does not count');
      assert.ok(before.serverTime && Math.abs(Date.parse(before.serverTime) - Date.now()) < 5000);
      h.sandbox.setApiUsage({ used: 1200 });
      await c.describe('Contact');
      const after = await c.check();
      assert.deepEqual(
        { ...after.quota, window: undefined },
        { used: 1201, limit: 5000, remaining: 3799, window: undefined },
      );
    });
  });

  test('the usage is a metric (the org, used, allocation)', async () => {
    await withHarness({ dailyApiAllocation: 5000 }, async (h) => {
      const c = h.connector();
      await c.check();
      await c.describe('Contact');
      const metrics = await h.registry.getMetricsAsJSON();
      const allocation = metrics.find((m) => m.name === 'tandem_salesforce_api_allocation');
      assert.deepEqual(
        allocation?.values.map((v) => [v.labels.org, v.value]),
        [[h.running.instanceId, 5000]],
      );
    });
  });
});

describe('service trouble and callers that give up', () => {
  test('503 SERVER_UNAVAILABLE: retried with backoff, the read completes', async () => {
    await withHarness({ seed: true }, async (h) => {
      const c = h.connector();
      await c.describe('Contact');
      h.sandbox.injectFaults({ unavailableNext: 3 });
      const { ids } = await readAll(c, 'Contact', null, CONTACT_FIELDS);
      assert.equal(ids.length, 80);
      assert.equal(c.stats().retries, 3);
      assert.equal(h.sandbox.getCounters().unavailable, 3);
    });
  });

  test('503 more often than the retries allow: a retryable error naming the trouble', async () => {
    await withHarness({ seed: true }, async (h) => {
      const c = h.connector(limits(h, { maxRetries: 2 }));
      await c.describe('Contact');
      h.sandbox.injectFaults({ unavailableNext: 10 });
      await assert.rejects(
        readAll(c, 'Contact', null, CONTACT_FIELDS),
        (e: unknown) => isTandemError(e) && e.code === 'CONNECTOR_RETRYABLE' && /SERVER_UNAVAILABLE/.test(e.message),
      );
      assert.equal(h.sandbox.getCounters().unavailable, 3);
    });
  });

  test('connections dropped on the way (a network blip): the session and the read are sent again with backoff', async () => {
    await withHarness({ seed: true }, async (h) => {
      const gateway = await startGateway(h.running.url, h.running.caPem, 1_000_000, 3);
      try {
        const c = h.connector({ url: gateway.url, tlsCa: gateway.caPem });
        const { ids } = await readAll(c, 'Contact', null, CONTACT_FIELDS);
        assert.equal(ids.length, 80);
        assert.equal(gateway.dropped, 3);
        assert.equal(c.stats().retries, 3, 'the token request, then the describe, then the query');
      } finally {
        await gateway.close();
      }
    });
  });

  test('an abort during a backoff wait ends the call at once', async () => {
    await withHarness({ seed: true }, async (h) => {
      const c = h.connector(limits(h, { backoffMs: 60_000 }));
      await c.describe('Contact');
      h.sandbox.injectFaults({ unavailableNext: 5 });
      const controller = new AbortController();
      const reason = new Error('the cycle was stopped');
      const started = Date.now();
      const call = c.get('Contact', [h.sandbox.listRecords('Contact')[0]?.id ?? ''], {
        fields: CONTACT_FIELDS,
        signal: controller.signal,
      });
      while (h.sandbox.getCounters().unavailable === 0) await new Promise((r) => setTimeout(r, 5));
      controller.abort(reason);
      await assert.rejects(call, (e: unknown) => e === reason);
      assert.ok(Date.now() - started < 10_000, 'not after the minute of backoff');
    });
  });

  test('an abort during a Bulk API 2.0 job wait ends the write', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector({ bulkThreshold: 201, ...limits(h, { bulkPollMs: 60_000 }) });
      await c.describe('Contact');
      const controller = new AbortController();
      const ops = Array.from({ length: 250 }, (_, i) => ({
        kind: 'create' as const,
        ref: `a${i}`,
        fields: { LastName: `Abort${i}` },
      }));
      const started = Date.now();
      const call = c.write('Contact', ops, { signal: controller.signal });
      while (h.sandbox.getCounters().byKind.bulk < 3) await new Promise((r) => setTimeout(r, 5));
      controller.abort();
      await assert.rejects(call, (e: unknown) => e instanceof Error && e.name === 'AbortError');
      assert.ok(Date.now() - started < 10_000, 'not after the minute between two looks at the job');
      assert.equal(c.stats().bulkJobs, 0, 'no job finished');
    });
  });
});
