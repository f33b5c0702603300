/**
 * Connection errors an operator can act on: each names Marketo, the host, what failed and the variables to
 * check, and never carries a secret.
 */
import 'reflect-metadata';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectorAuthError, ProtocolError, RetryableError } from '@tandem/core/plugin';
import { resolveConnector, startHarness, type Harness } from './helpers';

const SECRET = 'Sup3r-Secret-Value+/=';

let h: Harness;
before(async () => {
  h = await startHarness({ seed: true, people: 3 });
});
after(() => h.close());

/** A connector for `baseUrl` with a recognisable secret, that tries once. */
const connectTo = (baseUrl: string, clientSecret = SECRET) =>
  resolveConnector({ baseUrl, clientId: 'the-client-id', clientSecret, maxAttempts: 1 });

async function failure(baseUrl: string, clientSecret = SECRET): Promise<{ error: unknown; check: string }> {
  const c = connectTo(baseUrl, clientSecret);
  try {
    const error = await c.get('lead', ['1'], { fields: ['email'] }).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    const check = await c.check();
    assert.equal(check.ok, false);
    for (const text of [String(error), check.message ?? '']) {
      assert.ok(!text.includes(SECRET) && !text.includes(encodeURIComponent(SECRET)), `no secret in: ${text}`);
    }
    return { error, check: check.message ?? '' };
  } finally {
    await c.close();
  }
}

test('a host that does not resolve: Marketo, the host, the DNS failure, MARKETO_BASE_URL', async () => {
  const { error, check } = await failure('https://tandem-test-instance.invalid');
  assert.ok(error instanceof RetryableError);
  assert.match(
    error.message,
    /^Marketo at tandem-test-instance\.invalid: the host name does not resolve \((ENOTFOUND|EAI_AGAIN).*\) on the access token request; check MARKETO_BASE_URL$/,
  );
  assert.equal(check, error.message);
});

test('a refused connection: Marketo, the host and port, refused, MARKETO_BASE_URL', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const { error } = await failure(`http://127.0.0.1:${port}`);
  assert.ok(error instanceof RetryableError);
  assert.match(
    error.message,
    new RegExp(
      `^Marketo at 127\\.0\\.0\\.1:${port}: the connection was refused \\(ECONNREFUSED.*\\) on the access token request; check MARKETO_BASE_URL$`,
    ),
  );
});

test('bad credentials: Marketo, the host, refused credentials, MARKETO_CLIENT_ID and MARKETO_CLIENT_SECRET', async () => {
  const { error } = await failure(h.url);
  assert.ok(error instanceof ConnectorAuthError);
  const host = new URL(h.url).host;
  assert.equal(
    error.message,
    `Marketo at ${host} refused the client credentials (HTTP 401, invalid_client: Bad client credentials); check MARKETO_CLIENT_ID and MARKETO_CLIENT_SECRET`,
  );
});

test('an answer echoing the request (a proxy page) never shows the secret', async () => {
  // A server that answers the token request with an HTML page quoting the URL it was asked, secret and all.
  let server: Server | undefined;
  try {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<html><body>Blocked: ${req.url ?? ''}</body></html>`);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { error } = await failure(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /answered an HTML page .*client_secret=\[redacted/);
  } finally {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
});

test('a write whose answer never came (the connection closed after it was applied) is not sent again', async () => {
  // In front of the sandbox: passes everything on, but closes the connection instead of relaying Sync Leads' answer.
  const upstream = new URL(h.url);
  const server = createServer((req, res) => {
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (req.method === 'POST' && req.url === '/rest/v1/leads.json') {
          answer.resume();
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const c = h.connect({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  try {
    await c.describe('lead');
    h.sandbox.resetCounters();
    const [result] = await c.write('lead', [
      { kind: 'create', ref: 'new', fields: { email: 'applied.once@example.com' } },
    ]);
    assert.equal(result?.status, 'failed');
    assert.equal(result?.status === 'failed' && result.retryable, true, 'the engine may try again later');
    assert.equal(h.sandbox.counters.byEndpoint['POST /v1/leads.json'], 1, 'sent once');
    assert.equal(h.sandbox.listPersons().filter((p) => p.values.email === 'applied.once@example.com').length, 1);
  } finally {
    await c.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
