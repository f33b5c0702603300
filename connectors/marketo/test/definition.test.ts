/** The plugin definition: manifest, config schema, env bindings, DI registration and sandbox mode. */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { container } from 'tsyringe';
import pino from 'pino';
import { Registry } from 'prom-client';
import { PluginTokens, SECRET_KEYWORD, type Connector } from '@tandem/core/plugin';
import { assertManifestMatches } from '@tandem/core/testing';
import definition, { marketoConnector } from '../src/index';

test('the package manifest and the definition agree', () => {
  assertManifestMatches(definition, join(__dirname, '..', '..'));
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

test('register does no I/O; the sandbox starts seeded and its config connects', async () => {
  const running = await definition.sandbox?.start({ seed: true });
  assert.ok(running);
  try {
    const child = container.createChildContainer();
    child.register(PluginTokens.Logger, { useValue: pino({ level: 'silent' }) });
    child.register(PluginTokens.Config, { useValue: running.config });
    child.register(PluginTokens.Metrics, { useValue: new Registry() });
    definition.register(child);
    const connector = child.resolve<Connector>(PluginTokens.Connector);
    assert.equal(connector.id, 'marketo');
    assert.deepEqual(connector.objectTypes, ['lead']);
    const [first] = await connector.get('lead', ['1'], { fields: ['email', 'firstName'] });
    // Sandbox mode seeds SANDBOX_SEED.marketo: sample person 0 is id 1.
    assert.equal(first?.fields.email, 'ada.andersson.0@example.com');
    await definition.shutdown?.(child);
  } finally {
    await running.close();
  }
});
