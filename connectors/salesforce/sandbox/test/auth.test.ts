/** The token endpoint (client credentials, JWT bearer, errors), sessions, and what `start()` hands a client. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT, importPKCS8 } from 'jose';
import { generate } from 'selfsigned';
import { Agent, fetch } from 'undici';
import sandboxDefinition from '../src/index';
import { form, startOrg, type ApiErrorBody, type Org } from './helpers';

interface TokenBody {
  access_token: string;
  signature?: string;
  scope: string;
  instance_url: string;
  id: string;
  token_type: string;
  issued_at?: string;
  expires_in?: unknown;
  refresh_token?: unknown;
}

describe('start(): env and caPem are all a client needs', () => {
  test('a token with SALESFORCE_CLIENT_ID/SECRET, then a SOQL query, trusting only caPem', async () => {
    const running = await sandboxDefinition.start({ seed: true });
    const agent = new Agent({ connect: { ca: running.caPem } });
    try {
      assert.equal(sandboxDefinition.connector, 'salesforce');
      const env = running.env;
      assert.deepEqual(Object.keys(env).sort(), [
        'SALESFORCE_API_VERSION',
        'SALESFORCE_CLIENT_ID',
        'SALESFORCE_CLIENT_SECRET',
        'SALESFORCE_URL',
      ]);
      assert.match(env.SALESFORCE_API_VERSION ?? '', /^v\d+\.0$/);
      assert.match(running.instanceId, /^00D[0-9A-Za-z]{15}$/);
      const tokenRes = await fetch(`${env.SALESFORCE_URL}/services/oauth2/token`, {
        dispatcher: agent,
        ...form({
          grant_type: 'client_credentials',
          client_id: env.SALESFORCE_CLIENT_ID ?? '',
          client_secret: env.SALESFORCE_CLIENT_SECRET ?? '',
        }),
      });
      assert.equal(tokenRes.status, 200);
      const token = (await tokenRes.json()) as TokenBody;
      assert.equal(token.instance_url, env.SALESFORCE_URL);
      // The identity URL names the org: …/id/<orgId>/<userId>.
      assert.equal(token.id.split('/').at(-2), running.instanceId);
      const q = encodeURIComponent('SELECT Id FROM Organization');
      const res = await fetch(`${token.instance_url}/services/data/${env.SALESFORCE_API_VERSION}/query?q=${q}`, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${token.access_token}` },
      });
      const body = (await res.json()) as { records: Array<{ Id: string }> };
      assert.equal(res.status, 200);
      assert.equal(body.records[0]?.Id, running.instanceId);
      const contacts = await fetch(
        `${token.instance_url}/services/data/${env.SALESFORCE_API_VERSION}/query?q=${encodeURIComponent('SELECT COUNT() FROM Contact')}`,
        { dispatcher: agent, headers: { authorization: `Bearer ${token.access_token}` } },
      );
      assert.equal(((await contacts.json()) as { totalSize: number }).totalSize, 80, 'seeded contacts');
    } finally {
      await running.close();
      await agent.close();
    }
  });

  test('instanceId given: the org id (15 characters become 18); an id of another object is refused', async () => {
    const running = await sandboxDefinition.start({ instanceId: '00D000000000001' });
    try {
      assert.equal(running.instanceId, '00D000000000001EAA', 'the D at position 3 is upper case: suffix E');
    } finally {
      await running.close();
    }
    await assert.rejects(sandboxDefinition.start({ instanceId: '003000000000001' }), /Organization id/);
  });
});

describe('client credentials flow', () => {
  let org: Org;
  before(async () => {
    org = await startOrg();
  });
  after(async () => {
    await org.close();
  });
  const env = () => org.running.env;
  const post = (values: Record<string, string>, headers: Record<string, string> = {}) =>
    org.json<TokenBody & { error?: string; error_description?: string }>('/services/oauth2/token', {
      auth: false,
      ...form(values),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });

  test('the documented answer: no expires_in, no refresh token, signature = HMAC-SHA256(id + issued_at)', async () => {
    const { status, body } = await post({
      grant_type: 'client_credentials',
      client_id: env().SALESFORCE_CLIENT_ID ?? '',
      client_secret: env().SALESFORCE_CLIENT_SECRET ?? '',
    });
    assert.equal(status, 200);
    assert.deepEqual(Object.keys(body).sort(), [
      'access_token',
      'id',
      'instance_url',
      'issued_at',
      'scope',
      'signature',
      'token_type',
    ]);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, undefined);
    assert.equal(body.refresh_token, undefined);
    assert.match(body.access_token, new RegExp(`^${org.running.instanceId.slice(0, 15)}!`));
    const expected = createHmac('sha256', env().SALESFORCE_CLIENT_SECRET ?? '')
      .update(body.id + (body.issued_at ?? ''))
      .digest('base64');
    assert.equal(body.signature, expected);
    assert.ok(Math.abs(Number(body.issued_at) - Date.now()) < 60_000, 'issued_at is epoch milliseconds');
  });

  test('HTTP Basic client authentication works too', async () => {
    const basic = Buffer.from(`${env().SALESFORCE_CLIENT_ID}:${env().SALESFORCE_CLIENT_SECRET}`).toString('base64');
    const { status } = await post({ grant_type: 'client_credentials' }, { authorization: `Basic ${basic}` });
    assert.equal(status, 200);
  });

  test('errors are HTTP 400 { error, error_description }', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ grant_type: 'client_credentials', client_id: 'nope', client_secret: 'x' }, 'invalid_client_id'],
      [
        { grant_type: 'client_credentials', client_id: env().SALESFORCE_CLIENT_ID ?? '', client_secret: 'wrong' },
        'invalid_client',
      ],
      [{ grant_type: 'password', client_id: env().SALESFORCE_CLIENT_ID ?? '' }, 'unsupported_grant_type'],
      [{}, 'unsupported_grant_type'],
    ];
    for (const [values, error] of cases) {
      const { status, body } = await post(values);
      assert.equal(status, 400, error);
      assert.equal(body.error, error);
      assert.equal(typeof body.error_description, 'string');
      assert.equal(body.access_token, undefined);
    }
  });

  test('no run-as user: invalid_grant', async () => {
    const other = await startOrg({ clientCredentialsEnabled: false });
    try {
      const { status, body } = await other.json<{ error: string }>('/services/oauth2/token', {
        auth: false,
        ...form({
          grant_type: 'client_credentials',
          client_id: other.running.env.SALESFORCE_CLIENT_ID ?? '',
          client_secret: other.running.env.SALESFORCE_CLIENT_SECRET ?? '',
        }),
      });
      assert.equal(status, 400);
      assert.equal(body.error, 'invalid_grant');
    } finally {
      await other.close();
    }
  });

  test('token requests are counted apart and never against the API allocation', async () => {
    org.sandbox.resetCounters();
    await org.token();
    await org.token();
    const c = org.sandbox.getCounters();
    assert.equal(c.tokenRequests, 2);
    assert.equal(c.apiRequests, 0);
    const limits = await org.json<{ DailyApiRequests: { Max: number; Remaining: number } }>(`${org.base}/limits`);
    assert.equal(limits.body.DailyApiRequests.Max - limits.body.DailyApiRequests.Remaining, 1, 'only /limits counted');
  });
});

describe('sessions', () => {
  let org: Org;
  before(async () => {
    org = await startOrg({ sessionTimeoutSeconds: 600 });
  });
  after(async () => {
    await org.close();
  });
  const expired = (status: number, body: unknown) => {
    assert.equal(status, 401);
    assert.deepEqual(body, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
  };

  test('no token or a wrong token: 401 INVALID_SESSION_ID', async () => {
    const none = await org.json(`${org.base}/limits`, { auth: false });
    expired(none.status, none.body);
    const wrong = await org.json(`${org.base}/limits`, {
      auth: false,
      headers: { authorization: 'Bearer 00Dxx!nope' },
    });
    expired(wrong.status, wrong.body);
  });

  test('expireTokens(): every token fails until the client gets a new one', async () => {
    await org.token();
    assert.equal((await org.json(`${org.base}/limits`)).status, 200);
    org.sandbox.expireTokens();
    const r = await org.json(`${org.base}/limits`);
    expired(r.status, r.body);
    await org.token();
    assert.equal((await org.json(`${org.base}/limits`)).status, 200);
  });

  test('inactivity timeout: a session unused for longer than the timeout ends; use keeps it alive', async () => {
    await org.token();
    org.sandbox.advanceClock(500_000);
    assert.equal((await org.json(`${org.base}/limits`)).status, 200, 'used within the timeout');
    org.sandbox.advanceClock(500_000);
    assert.equal((await org.json(`${org.base}/limits`)).status, 200, 'the last use restarted the clock');
    org.sandbox.advanceClock(601_000);
    const r = await org.json(`${org.base}/limits`);
    expired(r.status, r.body);
  });

  test('the identity URL answers with the org and user ids', async () => {
    await org.token();
    const t = await org.json<TokenBody>('/services/oauth2/token', {
      auth: false,
      ...form({
        grant_type: 'client_credentials',
        client_id: org.running.env.SALESFORCE_CLIENT_ID ?? '',
        client_secret: org.running.env.SALESFORCE_CLIENT_SECRET ?? '',
      }),
    });
    const path = new URL(t.body.id).pathname;
    const id = await org.json<{ organization_id: string; user_id: string }>(path, {
      auth: false,
      headers: { authorization: `Bearer ${t.body.access_token}` },
    });
    assert.equal(id.status, 200);
    assert.equal(id.body.organization_id, org.running.instanceId);
    assert.equal(id.body.user_id, path.split('/').at(-1));
  });
});

describe('JWT bearer flow', () => {
  let org: Org;
  let privateKey: string;
  let otherKey: string;
  before(async () => {
    const app = await generate([{ name: 'commonName', value: 'tandem-jwt' }], { keySize: 2048, algorithm: 'sha256' });
    const other = await generate([{ name: 'commonName', value: 'someone-else' }], {
      keySize: 2048,
      algorithm: 'sha256',
    });
    privateKey = app.private;
    otherKey = other.private;
    org = await startOrg({ jwt: { certificate: app.cert } });
  });
  after(async () => {
    await org.close();
  });

  async function assertion(claims: Record<string, unknown>, key = privateKey, expSeconds = 180): Promise<string> {
    const k = await importPKCS8(key, 'RS256');
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
      .sign(k);
  }
  const exchange = (jwt: string) =>
    org.json<TokenBody & { error?: string; error_description?: string }>('/services/oauth2/token', {
      auth: false,
      ...form({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwt }),
    });
  const claims = () => ({
    iss: org.running.env.SALESFORCE_CLIENT_ID,
    sub: org.sandbox.store.identity.username,
    aud: 'https://login.salesforce.com',
  });

  test('a JWT signed with the certificate key, for a pre-approved user: a token that works', async () => {
    const { status, body } = await exchange(await assertion(claims()));
    assert.equal(status, 200);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.id.split('/').at(-2), org.running.instanceId);
    const limits = await org.json(`${org.base}/limits`, {
      auth: false,
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    assert.equal(limits.status, 200);
  });

  test('refusals: wrong key, audience, user, client id, expired', async () => {
    const cases: Array<[Promise<string>, string, RegExp]> = [
      [assertion(claims(), otherKey), 'invalid_grant', /invalid assertion/],
      [assertion({ ...claims(), aud: 'https://example.com' }), 'invalid_grant', /audience is invalid/],
      // The org's My Domain URL (where the token is asked for) is not a documented audience.
      [assertion({ ...claims(), aud: org.running.url }), 'invalid_grant', /audience is invalid/],
      [assertion({ ...claims(), sub: 'someone@example.com' }), 'invalid_grant', /approved/],
      [assertion({ ...claims(), iss: 'unknown-app' }), 'invalid_client_id', /client identifier invalid/],
      [assertion(claims(), privateKey, -60), 'invalid_grant', /expired/],
    ];
    for (const [jwt, error, description] of cases) {
      const { status, body } = await exchange(await jwt);
      assert.equal(status, 400);
      assert.equal(body.error, error);
      assert.match(body.error_description ?? '', description);
    }
  });

  test('without a certificate configured, the flow is refused', async () => {
    const plain = await startOrg();
    try {
      const r = await plain.json<{ error: string }>('/services/oauth2/token', {
        auth: false,
        ...form({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: await assertion(claims()) }),
      });
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalid_grant');
    } finally {
      await plain.close();
    }
  });
});

export type { ApiErrorBody };
