/** HTTPS with a private CA: the sandbox serves a self-signed certificate, the connector trusts it via `tlsCa`. */
import 'reflect-metadata';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { ConnectorRequestError } from '@tandem/core/plugin';
import { startHarness, type Harness } from './helpers';

let h: Harness;
let ca = '';

before(async () => {
  const pems = await generate([{ name: 'commonName', value: 'tandem-sandbox.test' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  ca = pems.cert;
  h = await startHarness({ seed: true, people: 3, https: { key: pems.private, cert: pems.cert } });
});
after(() => h.close());

test('the sandbox serves HTTPS and the connector trusts the private CA given as tlsCa', async () => {
  assert.match(h.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const c = h.connect({ tlsCa: ca });
  const records = await c.get('lead', ['1', '2', '3'], { fields: ['email'] });
  assert.equal(records.length, 3);
});

test('without the CA the certificate is refused (a clear error, no crash)', async () => {
  const c = h.connect();
  await assert.rejects(c.get('lead', ['1'], { fields: ['email'] }), (error: unknown) => {
    assert.ok(error instanceof ConnectorRequestError, String(error));
    assert.match(error.message, /certificate .* not trusted .*tlsCa.*NODE_EXTRA_CA_CERTS/);
    return true;
  });
});

test('NODE_EXTRA_CA_CERTS is honoured without tlsCa (a separate process: Node reads it at start)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-ca-'));
  const file = join(dir, 'ca.pem');
  writeFileSync(file, ca);
  const script = `
    require('reflect-metadata');
    const { MarketoClient } = require(${JSON.stringify(join(__dirname, '..', 'src', 'index.js'))});
    const pino = require('pino');
    const { Registry } = require('prom-client');
    const client = new MarketoClient(${JSON.stringify(h.config)}, pino({ level: 'silent' }), new Registry());
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
