/**
 * Sessions and `check()`: the client-credentials and JWT bearer flows, what check() reports (the integration user,
 * the org id, never a secret) and what it says when something is wrong (the variables to check), and a session
 * Salesforce ends being replaced once.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generate } from 'selfsigned';
import { container } from 'tsyringe';
import { isTandemError, PluginTokens } from '@tandem/core/plugin';
import salesforceConnector, { authMode, type SalesforceConfig } from '../src/index';
import { CONTACT_FIELDS, startHarness, withHarness, type Harness } from './helpers';

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

describe('client credentials', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ seed: true });
  });
  after(async () => {
    await h.close();
  });

  test('check(): the integration user and the org id, without spending the daily allocation', async () => {
    const c = h.connector();
    h.sandbox.resetCounters();
    const first = await c.check();
    assert.equal(first.ok, true, first.message);
    assert.equal(first.identity, h.sandbox.store.identity.username);
    assert.equal(first.instance, h.running.instanceId);
    const second = await c.check();
    assert.deepEqual([second.ok, second.identity, second.instance], [true, first.identity, first.instance]);
    const counters = h.sandbox.getCounters();
    assert.equal(counters.apiRequests, 0, 'the identity URL and the Versions resource are not API requests');
    assert.equal(counters.tokenRequests, 1, 'one session, kept');
    // A check runs before every cycle: the versions are asked once per session, the identity each time.
    assert.deepEqual([counters.byKind.versions, counters.byKind.identity], [1, 2]);
    h.sandbox.expireTokens();
    const third = await c.check();
    assert.equal(third.ok, true, third.message);
    assert.equal(h.sandbox.getCounters().byKind.versions, 2, 'a new session asks for the versions again');
  });

  test('an API version the org does not serve: not ok, naming SALESFORCE_API_VERSION', async () => {
    const r = await h.connector({ apiVersion: 'v99.0' }).check();
    assert.equal(r.ok, false);
    assert.match(r.message ?? '', /v99\.0.*SALESFORCE_API_VERSION/);
  });

  test('a session Salesforce ended (INVALID_SESSION_ID): replaced once, the call answered', async () => {
    const c = h.connector();
    const ids = h.sandbox
      .listRecords('Contact')
      .slice(0, 3)
      .map((r) => r.id);
    await c.get('Contact', ids, { fields: CONTACT_FIELDS });
    h.sandbox.resetCounters();
    h.sandbox.expireTokens();
    const records = await c.get('Contact', ids, { fields: CONTACT_FIELDS });
    assert.equal(records.length, 3);
    const counters = h.sandbox.getCounters();
    assert.equal(counters.unauthorized, 1, 'one 401');
    assert.equal(counters.tokenRequests, 1, 'one new session');
    assert.equal(c.stats().unauthorizedRetries, 1);
  });

  test('a new session refused too: the error says what to check, with no secret', async () => {
    const c = h.connector();
    await c.check();
    h.sandbox.auth.settings.clientSecret = 'rotated-secret-nobody-told-us';
    h.sandbox.expireTokens();
    try {
      await assert.rejects(
        c.get('Contact', [h.sandbox.listRecords('Contact')[0]?.id ?? ''], { fields: CONTACT_FIELDS }),
        (e: unknown) =>
          isTandemError(e) &&
          e.code === 'CONNECTOR_AUTH' &&
          /invalid_client/.test(e.message) &&
          /SALESFORCE_CLIENT_SECRET/.test(e.message) &&
          !e.message.includes(h.config.clientSecret ?? '\u0000'),
      );
    } finally {
      h.sandbox.auth.settings.clientSecret = h.config.clientSecret ?? '';
    }
  });

  test('bad credentials: check() names the variable to check and never shows the secret', async () => {
    const wrongSecret = await h.connector({ clientSecret: 'not-the-secret-1234' }).check();
    assert.equal(wrongSecret.ok, false);
    assert.match(wrongSecret.message ?? '', /invalid_client.*SALESFORCE_CLIENT_SECRET/);
    assert.ok(!(wrongSecret.message ?? '').includes('not-the-secret-1234'));
    const wrongId = await h.connector({ clientId: 'not-an-app' }).check();
    assert.equal(wrongId.ok, false);
    assert.match(wrongId.message ?? '', /invalid_client_id.*SALESFORCE_CLIENT_ID/);
  });

  test('TLS: a certificate nobody told us to trust names NODE_EXTRA_CA_CERTS', async () => {
    const { tlsCa: _omit, ...config } = h.config;
    const child = container.createChildContainer();
    child.register(PluginTokens.Logger, { useValue: (await import('pino')).default({ level: 'silent' }) });
    child.register(PluginTokens.Config, { useValue: config });
    child.register(PluginTokens.Metrics, { useValue: h.registry });
    salesforceConnector.register(child);
    const c = child.resolve<{ check(): Promise<{ ok: boolean; message?: string }>; close(): Promise<void> }>(
      PluginTokens.Connector,
    );
    try {
      const r = await c.check();
      assert.equal(r.ok, false);
      assert.match(r.message ?? '', /TLS.*SALESFORCE_URL, NODE_EXTRA_CA_CERTS/);
    } finally {
      await c.close();
    }
  });
});

describe('hosts that cannot be reached', () => {
  test('nothing listens at SALESFORCE_URL: check() says so, naming the host and SALESFORCE_URL', async () => {
    await withHarness({}, async (h) => {
      const port = await closedPort();
      const r = await h
        .connector({
          url: `https://127.0.0.1:${port}`,
          limits: { ...h.config.limits, maxRetries: 1 } as SalesforceConfig['limits'],
        })
        .check();
      assert.equal(r.ok, false);
      assert.match(
        r.message ?? '',
        new RegExp(`not reachable.*127\\.0\\.0\\.1:${port}.*connection refused.*SALESFORCE_URL`),
      );
    });
  });

  test('a name that does not resolve', async () => {
    await withHarness({}, async (h) => {
      const r = await h.connector({ url: 'https://no-such-org.invalid' }).check();
      assert.equal(r.ok, false);
      assert.match(r.message ?? '', /no-such-org\.invalid does not resolve.*SALESFORCE_URL/);
    });
  });
});

describe('JWT bearer flow', () => {
  let h: Harness;
  let key: string;
  before(async () => {
    const app = await generate([{ name: 'commonName', value: 'tandem-jwt' }], { keySize: 2048, algorithm: 'sha256' });
    key = app.private;
    h = await startHarness({ seed: true, jwt: { certificate: app.cert } });
  });
  after(async () => {
    await h.close();
  });

  const jwtConfig = (extra: Partial<SalesforceConfig> = {}): Partial<SalesforceConfig> => ({
    clientSecret: undefined,
    username: h.sandbox.store.identity.username,
    jwtKey: key,
    ...extra,
  });

  test('a JWT signed with the key of the app certificate, for the pre-approved user: a working session', async () => {
    h.sandbox.resetCounters();
    const c = h.connector(jwtConfig());
    const r = await c.check();
    assert.equal(r.ok, true, r.message);
    assert.equal(r.instance, h.running.instanceId);
    assert.equal(r.identity, h.sandbox.store.identity.username);
    const [contact] = await c.findByEmail('Contact', [h.sandbox.listRecords('Contact')[0]?.values.Email as string], {
      fields: CONTACT_FIELDS,
    });
    assert.ok(contact);
    assert.equal(h.sandbox.getCounters().tokenFailures, 0);
  });

  test('the key from a file (SALESFORCE_JWT_KEY may name a PEM file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-sf-'));
    const file = join(dir, 'key.pem');
    writeFileSync(file, key);
    const r = await h.connector(jwtConfig({ jwtKey: file })).check();
    assert.equal(r.ok, true, r.message);
  });

  test('refusals name what to check: a user not pre-approved, a wrong audience, another key', async () => {
    const notApproved = await h.connector(jwtConfig({ username: 'someone.else@example.com' })).check();
    assert.equal(notApproved.ok, false);
    assert.match(notApproved.message ?? '', /invalid_grant.*SALESFORCE_USERNAME \(pre-approved for the app\)/);
    const audience = await h.connector(jwtConfig({ jwtAudience: 'https://example.com' })).check();
    assert.match(audience.message ?? '', /audience.*SALESFORCE_JWT_AUDIENCE/);
    const other = await generate([{ name: 'commonName', value: 'other' }], { keySize: 2048, algorithm: 'sha256' });
    const wrongKey = await h.connector(jwtConfig({ jwtKey: other.private })).check();
    assert.match(wrongKey.message ?? '', /invalid_grant: invalid assertion\. Check SALESFORCE_JWT_KEY/);
    assert.ok(!(wrongKey.message ?? '').includes('PRIVATE KEY'), 'never the key');
  });
});

describe('configuration', () => {
  const base = { url: 'https://acme.my.salesforce.com', clientId: 'app' } as SalesforceConfig;

  test('neither a secret nor a username and key: BAD_CONFIG naming the variables, at start', async () => {
    assert.throws(
      () => authMode(base),
      (e: unknown) =>
        isTandemError(e) && e.code === 'BAD_CONFIG' && /SALESFORCE_CLIENT_SECRET.*SALESFORCE_JWT_KEY/.test(e.message),
    );
    assert.throws(() => authMode({ ...base, username: 'u@example.com' }), /together/);
    const child = container.createChildContainer();
    child.register(PluginTokens.Config, { useValue: base });
    await assert.rejects(salesforceConnector.init?.(child) ?? Promise.resolve(), /SALESFORCE_CLIENT_SECRET/);
  });

  test('the JWT audience: the login host, the test host for a sandbox org, or as configured', () => {
    const jwt = {
      ...base,
      username: 'u@example.com',
      jwtKey: '-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----',
    };
    const audience = (config: SalesforceConfig) => {
      const mode = authMode(config);
      return mode.flow === 'jwt' ? mode.audience : undefined;
    };
    assert.equal(audience(jwt), 'https://login.salesforce.com');
    assert.equal(
      audience({ ...jwt, url: 'https://acme--uat.sandbox.my.salesforce.com' }),
      'https://test.salesforce.com',
    );
    assert.equal(
      audience({ ...jwt, jwtAudience: 'https://acme.my.salesforce.com/' }),
      'https://acme.my.salesforce.com',
    );
  });
});
