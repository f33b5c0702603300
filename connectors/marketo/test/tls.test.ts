/** HTTPS with a private CA: the sandbox serves HTTPS (`https: true`), the connector trusts its CA via `tlsCa`. */
import 'reflect-metadata';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectorRequestError } from '@tandem/core/plugin';
import { startHarness, type Harness } from './helpers';

let h: Harness;
let ca = '';

before(async () => {
  h = await startHarness({ seed: true, people: 3, https: true });
  ca = h.running.caPem ?? '';
});
after(() => h.close());

test('the sandbox serves HTTPS; sandbox mode trusts its CA through tlsCa', async () => {
  assert.match(h.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(h.config.tlsCa, ca, 'sandboxConnectorConfig sets tlsCa from caPem');
  const records = await h.connector.get('lead', ['1', '2', '3'], { fields: ['email'] });
  assert.equal(records.length, 3);
});

test('without the CA the certificate is refused: a clear error naming Marketo, the host and what to check', async () => {
  const c = h.connect({ tlsCa: undefined });
  await assert.rejects(c.get('lead', ['1'], { fields: ['email'] }), (error: unknown) => {
    assert.ok(error instanceof ConnectorRequestError, String(error));
    const host = new URL(h.url).host;
    assert.ok(error.message.startsWith(`Marketo at ${host}: its TLS certificate is not trusted (`), error.message);
    assert.match(
      error.message,
      /on the access token request; check MARKETO_BASE_URL and NODE_EXTRA_CA_CERTS \(or the tlsCa setting\)$/,
    );
    assert.ok(!error.message.includes(h.config.clientSecret), 'no secret in the message');
    return true;
  });
});

test('NODE_EXTRA_CA_CERTS is honoured without tlsCa (a separate process: Node reads it at start)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-ca-'));
  const file = join(dir, 'ca.pem');
  writeFileSync(file, ca);
  const { tlsCa: _ca, ...config } = h.config;
  const script = `
    require('reflect-metadata');
    const { MarketoClient } = require(${JSON.stringify(join(__dirname, '..', 'src', 'index.js'))});
    const pino = require('pino');
    const { Registry } = require('prom-client');
    const client = new MarketoClient(${JSON.stringify(config)}, pino({ level: 'silent' }), new Registry());
    client.get('/v1/leads.json', { filterType: 'id', filterValues: '1,2' })
      .then((e) => { process.stdout.write(String(e.result.length)); return client.close(); })
      .catch((err) => { process.stderr.write(String(err && err.message)); process.exitCode = 1; });
  `;
  const run = (env: NodeJS.ProcessEnv) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      execFile(process.execPath, ['-e', script], { cwd: join(__dirname, '..', '..'), env }, (error, out, err) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out, err }),
      );
    });
  const trusted = await run({ ...process.env, NODE_EXTRA_CA_CERTS: file });
  assert.deepEqual([trusted.code, trusted.out], [0, '2'], trusted.err);
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const untrusted = await run(env);
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.err, /certificate/i);
});
