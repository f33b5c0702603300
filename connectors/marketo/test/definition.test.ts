/** The plugin definition: manifest, config schema, env bindings, DI registration and its sandbox package. */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { Registry } from 'prom-client';
import { sandboxConnectorConfig } from '@tandem/core';
import { isSandboxDefinition, SECRET_KEYWORD } from '@tandem/core/plugin';
import { assertManifestMatches } from '@tandem/core/testing';
import marketoSandbox from '@tandem/sandbox-marketo';
import definition, { marketoConnector } from '../src/index';
import type { MarketoConfig } from '../src/config';
import { instanceOf } from '../src/client';
import { resolveConnector } from './helpers';

const packageDir = join(__dirname, '..', '..');

test('the package manifest and the definition agree; the manifest names the sandbox package', () => {
  assertManifestMatches(definition, packageDir);
  assert.equal(definition, marketoConnector);
  assert.equal(definition.id, 'marketo');
  assert.equal(definition.kind, 'connector');
  assert.deepEqual(
    definition.env.map((e) => [e.variable, e.key, e.secret ?? false]),
    [
      ['MARKETO_BASE_URL', 'baseUrl', false],
      ['MARKETO_CLIENT_ID', 'clientId', false],
      ['MARKETO_CLIENT_SECRET', 'clientSecret', true],
    ],
  );
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    tandem: { sandbox?: string };
    dependencies: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  assert.equal(pkg.tandem.sandbox, '@tandem/sandbox-marketo');
  assert.equal('sandbox' in definition, false, 'no simulator inside the connector');
  // The simulator's web server is none of a deployment's business.
  for (const dependency of ['fastify', '@fastify/formbody', 'selfsigned', '@tandem/sandbox-marketo'])
    assert.equal(pkg.dependencies[dependency], undefined, dependency);
  assert.ok(pkg.devDependencies?.['@tandem/sandbox-marketo'], 'its tests use the sandbox');
});

test('the config schema accepts a minimal config, marks the secret, and refuses a bad one', () => {
  const schema = definition.configSchema;
  assert.ok(Value.Check(schema, { baseUrl: 'https://123-ABC-456.mktorest.com', clientId: 'a', clientSecret: 'b' }));
  assert.ok(
    Value.Check(schema, {
      baseUrl: 'http://127.0.0.1:1234',
      clientId: 'a',
      clientSecret: 'b',
      limits: { callsPerWindow: 50 },
      activityTypeApiName: 'tandemSync',
      requestTimeoutMs: 5000,
    }),
  );
  assert.ok(!Value.Check(schema, { baseUrl: 'ftp://x', clientId: 'a', clientSecret: 'b' }));
  assert.ok(!Value.Check(schema, { baseUrl: 'https://x', clientId: 'a' }));
  assert.equal((schema.properties.clientSecret as Record<string, unknown>)[SECRET_KEYWORD], true);
});

test('sandbox mode: the sandbox package starts seeded, its environment configures the connector, check() names it', async () => {
  assert.ok(isSandboxDefinition(marketoSandbox));
  assert.equal(marketoSandbox.connector, definition.id);
  const running = await marketoSandbox.start({ seed: true });
  const connector = resolveConnector(sandboxConnectorConfig(definition, running) as MarketoConfig, new Registry());
  try {
    assert.equal(connector.id, 'marketo');
    assert.deepEqual(connector.objectTypes, ['lead']);
    const [first] = await connector.get('lead', ['1'], { fields: ['email', 'firstName'] });
    // Sandbox mode seeds SANDBOX_SEED.people: sample person 0 is id 1.
    assert.equal(first?.fields.email, 'ada.andersson.0@example.com');
    const check = await connector.check();
    assert.equal(check.ok, true);
    assert.equal(check.instance, running.instanceId, 'RunningSandbox.instanceId is what check() reports');
  } finally {
    await connector.close();
    await running.close();
  }
});

test('instance: the munchkin id of a mktorest.com base URL, else the base URL origin', () => {
  assert.equal(instanceOf('https://123-ABC-456.mktorest.com'), '123-ABC-456');
  assert.equal(instanceOf('https://123-abc-456.mktorest.com/'), '123-ABC-456');
  assert.equal(instanceOf('https://123-ABC-456.mktorest.com/rest'), '123-ABC-456');
  assert.equal(instanceOf('https://marketo-proxy.example.com:8443/base'), 'https://marketo-proxy.example.com:8443');
  assert.equal(instanceOf('http://127.0.0.1:4000'), 'http://127.0.0.1:4000');
  assert.equal(instanceOf('http://123-ABC-456.mktorest.com'), 'http://123-abc-456.mktorest.com', 'not over HTTPS');
});
