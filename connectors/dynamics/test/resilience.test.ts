/**
 * The connector when the way to the org is not clean: a gateway that refuses long URLs, hosts that cannot be
 * reached or refuse the credentials, a column deleted under it, and callers that give up (AbortSignal). Each test
 * has a sandbox of its own: what the connector learns about one org's URLs lasts for the process.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isTandemError, type RemoteRecord } from '@tandem/core/plugin';
import { collect, FIELDS, startHarness, type Harness } from './helpers';

async function withHarness(
  options: Parameters<typeof startHarness>[0],
  run: (h: Harness) => Promise<void>,
): Promise<void> {
  const h = await startHarness(options);
  try {
    await run(h);
  } finally {
    await h.close();
  }
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** Resolves once `condition` holds (checked every few milliseconds). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 4000 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(condition(), 'condition never held');
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

describe('long URLs behind a gateway that allows less than Dataverse', () => {
  for (const answer of [414, 431, 'close'] as const) {
    test(`answered ${answer === 'close' ? 'by a closed connection' : answer}: look-ups still answer, and the failure is paid once`, async () => {
      await withHarness({}, async (h) => {
        const made = Array.from({ length: 600 }, (_, i) =>
          h.sandbox.create('contact', { lastname: `Gate${i}`, emailaddress1: `gate.person.${i}@example.com` }),
        );
        const emails = [
          ...made.map((_, i) => `Gate.Person.${i}@Example.com`),
          ...made.map((_, i) => `nobody.at.the.gate.${i}@example.com`),
        ];
        const c = h.connector();
        await c.describe('contact');
        h.sandbox.injectFaults({ gatewayMaxUrl: 8192, gatewayAnswer: answer });
        h.sandbox.resetCounters();
        const found = await c.findByEmail('contact', emails, { fields: FIELDS });
        assert.deepEqual(new Set(found.map((r) => r.id)), new Set(made.map((r) => r.id)));
        // 1,200 emails make 4 look-ups (about 24 KB each, the last short): the first is refused by the gateway and
        // sent again inside $batch, as are the long ones after it; the short one goes as it is. Five requests in
        // all, one refused.
        let counters = h.sandbox.getCounters();
        assert.equal(counters.gatewayRefused, 1);
        assert.equal(counters.requests, 4);
        assert.ok((counters.byResource.$batch ?? 0) >= 3);
        assert.equal((counters.byResource.$batch ?? 0) + (counters.byResource.contacts ?? 0), 4);
        assert.equal(c.stats().urlsTooLong, 1);

        // Remembered: the next look-ups, and those of a new connection to the same org, pay nothing more.
        const fresh = h.connector();
        await fresh.describe('contact');
        h.sandbox.resetCounters();
        const again = await fresh.findByEmail('contact', emails, { fields: FIELDS });
        assert.equal(again.length, 600);
        const byId = await c.get(
          'contact',
          made.map((r) => r.id),
          { fields: FIELDS },
        );
        assert.equal(byId.length, 600);
        counters = h.sandbox.getCounters();
        assert.equal(counters.gatewayRefused, 0);
        assert.equal(counters.requests, 4 + 2);
      });
    });
  }

  test('a short URL refused is an error, not a reason to send every GET inside $batch', async () => {
    await withHarness({ seed: true }, async (h) => {
      const c = h.connector({
        limits: { maxConcurrent: 52, requestsPerWindow: 6000, windowMs: 300_000, maxRetries: 0 },
      });
      await c.describe('contact');
      h.sandbox.injectFaults({ gatewayMaxUrl: 100, gatewayAnswer: 414 });
      const id = h.sandbox.list('contact')[0]?.id ?? '';
      await assert.rejects(c.get('contact', [id], { fields: FIELDS }), /HTTP 414/);
      assert.equal(c.stats().urlsTooLong, 0);
    });
  });
});

describe('instance identity', () => {
  test("check() reports the org's OrganizationId; a sandbox gets a new one per start unless given", async () => {
    await withHarness({}, async (a) => {
      await withHarness({ instanceId: '0f5c2d7e-8b1a-4c3d-9e6f-a1b2c3d4e5f6' }, async (b) => {
        const ra = await a.connector().check();
        const rb = await b.connector().check();
        assert.equal(ra.ok, true, ra.message);
        assert.equal(ra.instance, a.started.instanceId);
        assert.equal(rb.instance, '0f5c2d7e-8b1a-4c3d-9e6f-a1b2c3d4e5f6');
        assert.notEqual(ra.instance, rb.instance);
      });
    });
  });
});

describe('honest connection errors', () => {
  const secretFree = (message: string, h: Harness) => {
    assert.ok(!message.includes(h.started.clientSecret), 'the secret is not in the message');
    assert.doesNotMatch(message, /aka\.ms|endpoints_resolution_error/);
  };

  test('nothing listens at the Entra ID authority', async () => {
    await withHarness({}, async (h) => {
      const port = await closedPort();
      const r = await h.connector({ authorityHost: `https://127.0.0.1:${port}` }).check();
      assert.equal(r.ok, false);
      const message = r.message ?? '';
      assert.match(message, /^Entra ID is not reachable/);
      assert.match(message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(message, /connection refused \(ECONNREFUSED\)/);
      assert.match(message, /DYNAMICS_AUTHORITY_HOST/);
      secretFree(message, h);
    });
  });

  test('the authority host name does not resolve', async () => {
    await withHarness({}, async (h) => {
      const r = await h.connector({ authorityHost: 'https://login.tandem-test.invalid' }).check();
      assert.equal(r.ok, false);
      assert.match(
        r.message ?? '',
        /^Entra ID is not reachable: the name login\.tandem-test\.invalid does not resolve/,
      );
      assert.match(r.message ?? '', /DYNAMICS_AUTHORITY_HOST/);
      secretFree(r.message ?? '', h);
    });
  });

  test('TLS: a certificate nobody told us to trust names NODE_EXTRA_CA_CERTS', async () => {
    await withHarness({}, async (h) => {
      const r = await h.connector({ tlsCa: undefined }).check();
      assert.equal(r.ok, false);
      assert.match(r.message ?? '', /^Entra ID is not reachable: the TLS handshake with 127\.0\.0\.1:\d+ failed/);
      assert.match(r.message ?? '', /DYNAMICS_AUTHORITY_HOST, NODE_EXTRA_CA_CERTS/);
    });
  });

  test('bad credentials: the secret, the client id, the tenant and the org URL each named', async () => {
    await withHarness({}, async (h) => {
      const wrong = 'not-the-secret-Zq9x';
      const cases: Array<[Partial<Harness['config']>, RegExp]> = [
        [
          { clientSecret: wrong },
          /refused the token request: invalid_client: AADSTS7000215.*Check DYNAMICS_CLIENT_SECRET/,
        ],
        [{ clientId: '00000000-0000-4000-8000-000000000000' }, /unauthorized_client.*Check DYNAMICS_CLIENT_ID/],
        [{ tenantId: 'contoso-nope.onmicrosoft.com' }, /invalid_tenant.*Check DYNAMICS_TENANT_ID/],
        [{ url: 'https://other-org.crm.dynamics.com' }, /invalid_resource: AADSTS500011.*Check DYNAMICS_URL/],
      ];
      for (const [overrides, expected] of cases) {
        const r = await h.connector(overrides).check();
        assert.equal(r.ok, false);
        assert.match(r.message ?? '', /^Entra ID \(127\.0\.0\.1:\d+\) refused the token request/);
        assert.match(r.message ?? '', expected);
        assert.ok(!(r.message ?? '').includes(wrong), 'the wrong secret is not repeated either');
        secretFree(r.message ?? '', h);
      }
    });
  });

  test('nothing listens at the org URL: Dynamics, its host, DYNAMICS_URL', async () => {
    const h = await startHarness({ seed: true });
    let closed = false;
    try {
      const c = h.connector();
      assert.equal((await c.check()).ok, true);
      const host = new URL(h.started.url).host;
      await h.started.close();
      closed = true;
      const r = await c.check();
      assert.equal(r.ok, false);
      assert.match(r.message ?? '', /^Dynamics \(Dataverse\) is not reachable/);
      assert.ok((r.message ?? '').includes(host));
      assert.match(r.message ?? '', /connection refused \(ECONNREFUSED\)\. Check DYNAMICS_URL\./);
      // At most the one retry of a kept-alive connection the closed server dropped; a refused one is not retried.
      assert.ok(c.stats().retries <= 1, 'a connection that cannot be made is not retried in a loop');
    } finally {
      if (!closed) await h.started.close();
      await h.close().catch(() => undefined);
    }
  });
});

describe('describe stays true to the org', () => {
  test('a column deleted after describe: UNKNOWN_FIELD naming it, the cache dropped, describe lacks it', async () => {
    await withHarness({ seed: true }, async (h) => {
      const c = h.connector();
      assert.ok((await c.describe('contact')).fields.some((f) => f.name === 'jobtitle'));
      const ids = h.sandbox
        .list('contact')
        .slice(0, 3)
        .map((r) => r.id);
      assert.equal((await c.get('contact', ids, { fields: FIELDS })).length, 3);
      const pages = await collect(c.readChanges('contact', null, { fields: FIELDS }));
      const cursor = pages[pages.length - 1]?.cursor ?? null;

      h.sandbox.deleteColumn('contact', 'jobtitle');
      const unknownJobTitle = (e: unknown) =>
        isTandemError(e) &&
        e.code === 'UNKNOWN_FIELD' &&
        /jobtitle/.test(e.message) &&
        JSON.stringify(e.details?.fields) === '["jobtitle"]';
      await assert.rejects(c.get('contact', ids, { fields: FIELDS }), unknownJobTitle);
      // The description was dropped: the next read asks the metadata again and refuses the column itself, without
      // sending the query Dataverse just refused.
      h.sandbox.resetCounters();
      await assert.rejects(c.get('contact', ids, { fields: FIELDS }), unknownJobTitle);
      const counters = h.sandbox.getCounters();
      assert.equal(counters.byResource.contacts ?? 0, 0);
      assert.ok((counters.byResource.EntityDefinitions ?? 0) > 0);
      assert.equal(
        (await c.describe('contact')).fields.some((f) => f.name === 'jobtitle'),
        false,
      );
      // A stored delta link still selecting it fails the same way (the engine then re-plans).
      await assert.rejects(collect(c.readChanges('contact', cursor, { fields: FIELDS })), unknownJobTitle);
      const rest = FIELDS.filter((f) => f !== 'jobtitle');
      const records: RemoteRecord[] = await c.get('contact', ids, { fields: rest });
      assert.equal(records.length, 3);
    });
  });

  test('the delta read of a stored cursor still selecting the gone column drops the cache too', async () => {
    await withHarness({ seed: true }, async (h) => {
      const c = h.connector();
      const pages = await collect(c.readChanges('contact', null, { fields: FIELDS }));
      const cursor = pages[pages.length - 1]?.cursor ?? null;
      h.sandbox.deleteColumn('contact', 'jobtitle');
      await assert.rejects(
        collect(c.readChanges('contact', cursor, { fields: FIELDS })),
        (e: unknown) => isTandemError(e) && e.code === 'UNKNOWN_FIELD' && /jobtitle/.test(e.message),
      );
      h.sandbox.resetCounters();
      await assert.rejects(
        c.get('contact', [h.sandbox.list('contact')[0]?.id ?? ''], { fields: FIELDS }),
        (e: unknown) => isTandemError(e) && e.code === 'UNKNOWN_FIELD',
      );
      assert.equal(h.sandbox.getCounters().byResource.contacts ?? 0, 0);
    });
  });
});

describe('tokens that expire while a request waits', () => {
  test('a token expiring again during a Retry-After wait is refreshed again: the read answers', async () => {
    await withHarness({ seed: true }, async (h) => {
      const c = h.connector();
      const ids = h.sandbox
        .list('contact')
        .slice(0, 2)
        .map((r) => r.id);
      await c.get('contact', ids, { fields: FIELDS });
      // Expired before the read (refreshed once), then throttled, and expired again during the 1 s wait.
      h.sandbox.expireTokens();
      h.sandbox.injectFaults({ throttleRequests: 1, retryAfterSeconds: 1 });
      const read = c.get('contact', ids, { fields: FIELDS });
      await until(() => c.stats().throttled === 1);
      h.sandbox.expireTokens();
      assert.equal((await read).length, 2);
      assert.equal(c.stats().unauthorizedRetries, 2);
    });
  });
});

describe('abort reaches every call', () => {
  test('during a Retry-After wait: the read stops at once', async () => {
    await withHarness({ seed: true }, async (h) => {
      const c = h.connector();
      await c.describe('contact');
      h.sandbox.injectFaults({ throttleRequests: 1, retryAfterSeconds: 60 });
      const controller = new AbortController();
      const read = c.get('contact', [h.sandbox.list('contact')[0]?.id ?? ''], {
        fields: FIELDS,
        signal: controller.signal,
      });
      await until(() => c.stats().throttled === 1);
      const at = Date.now();
      controller.abort();
      await assert.rejects(read, isAbort);
      assert.ok(Date.now() - at < 5000, 'not after the 60 s Retry-After');
    });
  });

  test('during a token request: the call stops at once, and the next call gets a token', async () => {
    await withHarness({ seed: true }, async (h) => {
      const c = h.connector();
      h.sandbox.injectFaults({ tokenLatencyMs: 30_000 });
      const controller = new AbortController();
      const call = c.check(controller.signal);
      await until(() => h.sandbox.getCounters().tokenRequests === 1);
      const at = Date.now();
      controller.abort();
      await assert.rejects(call, isAbort);
      assert.ok(Date.now() - at < 5000, 'not after the 30 s the token takes');
      h.sandbox.clearFaults();
      const after = await c.check();
      assert.equal(after.ok, true, after.message);
    });
  });

  test('during a $batch write waiting out throttled operations', async () => {
    await withHarness({}, async (h) => {
      const c = h.connector();
      await c.check();
      h.sandbox.injectFaults({ throttleBatchOps: 5, retryAfterSeconds: 60 });
      const controller = new AbortController();
      const write = c.write(
        'contact',
        Array.from({ length: 5 }, (_, i) => ({ kind: 'create' as const, ref: `a${i}`, fields: { lastname: `A${i}` } })),
        { signal: controller.signal },
      );
      await until(() => c.stats().throttled === 5);
      const at = Date.now();
      controller.abort();
      await assert.rejects(write, isAbort);
      assert.ok(Date.now() - at < 5000);
      assert.equal(h.sandbox.list('contact').length, 0, 'nothing was written');
    });
  });

  test('in a paging loop: no page after the abort', async () => {
    await withHarness({ seed: true }, async (h) => {
      const c = h.connector({ pageSize: 10, changeTracking: 'off' });
      await c.describe('contact');
      const controller = new AbortController();
      h.sandbox.resetCounters();
      const pages: number[] = [];
      await assert.rejects(async () => {
        for await (const page of c.readChanges('contact', null, { fields: FIELDS, signal: controller.signal })) {
          pages.push(page.records.length);
          controller.abort();
        }
      }, isAbort);
      assert.deepEqual(pages, [10]);
      assert.equal(h.sandbox.getCounters().byResource.contacts, 1);
    });
  });

  test('an aborted token request does not keep the process alive', async () => {
    await withHarness({ seed: true }, async (h) => {
      h.sandbox.injectFaults({ tokenLatencyMs: 60_000 });
      const script = `
        require('reflect-metadata');
        const { container } = require('tsyringe');
        const { PluginTokens } = require('@tandem/core/plugin');
        const { Registry } = require('prom-client');
        const pino = require('pino');
        const def = require(${JSON.stringify(join(__dirname, '..', 'src', 'index.js'))}).default;
        const child = container.createChildContainer();
        child.register(PluginTokens.Logger, { useValue: pino({ level: 'silent' }) });
        child.register(PluginTokens.Config, { useValue: JSON.parse(process.env.CFG) });
        child.register(PluginTokens.Metrics, { useValue: new Registry() });
        def.register(child);
        const c = child.resolve(PluginTokens.Connector);
        const controller = new AbortController();
        const call = c.get('contact', ['00000000-0000-4000-8000-000000000001'], { fields: ['lastname'], signal: controller.signal });
        process.stdin.once('data', () => { process.stdin.destroy(); controller.abort(); });
        call.then(() => process.stdout.write('resolved'), (e) => process.stdout.write(e.name)).finally(() => c.close());`;
      const child = spawn(process.execPath, ['-e', script], {
        cwd: join(__dirname, '..', '..'),
        env: { ...process.env, CFG: JSON.stringify(h.config) },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
      try {
        await until(() => h.sandbox.getCounters().tokenRequests === 1);
        const at = Date.now();
        child.stdin.write('abort\n');
        const [code] = (await once(child, 'exit')) as [number];
        assert.equal(code, 0);
        assert.equal(out, 'AbortError');
        assert.ok(Date.now() - at < 10_000, 'the process ended by itself, well before the token would have come');
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  });
});
