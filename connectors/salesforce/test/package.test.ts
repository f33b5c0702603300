/**
 * The package as the host sees it: its manifest (id, API version, sandbox package), its declarations, its
 * environment variables (CONTRACT.md), and its sandbox loaded and configured the way sandbox mode does it.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { container } from 'tsyringe';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseConnectorEnv, sandboxConnectorConfig } from '@tandem/core';
import { isSandboxDefinition, isTandemError, PluginTokens, type Connector } from '@tandem/core/plugin';
import type { RunningSalesforceSandbox } from '@tandem/sandbox-salesforce';
import salesforceConnector, { type SalesforceConfig, type SalesforceConnector } from '../src/index';

const root = join(__dirname, '..', '..');

describe('the connector package', () => {
  test('the manifest names the connector and its sandbox; the sandbox is a devDependency only', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      tandem: Record<string, unknown>;
      dependencies: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    assert.deepEqual(manifest.tandem, {
      kind: 'connector',
      id: 'salesforce',
      apiVersion: 2,
      sandbox: '@tandem/sandbox-salesforce',
    });
    for (const dep of ['@tandem/sandbox-salesforce', 'fastify', 'selfsigned'])
      assert.equal(manifest.dependencies[dep], undefined, dep);
    assert.ok(manifest.devDependencies?.['@tandem/sandbox-salesforce']);
    assert.equal(salesforceConnector.sandbox, undefined);
  });

  test('the environment variables of the contract fill the config; the API version and the share have defaults', () => {
    const env = {
      SALESFORCE_URL: 'https://acme.my.salesforce.com',
      SALESFORCE_CLIENT_ID: '3MVG9app',
      SALESFORCE_CLIENT_SECRET: 'secret',
    };
    const config = parseConnectorEnv(env, [salesforceConnector]).configs.get('salesforce') as SalesforceConfig;
    assert.equal(config.apiVersion, 'v63.0');
    assert.equal(config.maxApiShare, 0.8);
    assert.equal(config.requiredPlaceholder, '[not provided]');
    const tuned = parseConnectorEnv(
      { ...env, SALESFORCE_MAX_API_SHARE: '0.5', SALESFORCE_API_VERSION: 'v66.0', SALESFORCE_BULK_THRESHOLD: '5000' },
      [salesforceConnector],
    ).configs.get('salesforce') as SalesforceConfig;
    assert.deepEqual([tuned.maxApiShare, tuned.apiVersion, tuned.bulkThreshold], [0.5, 'v66.0', 5000]);
    assert.throws(
      () => parseConnectorEnv({ ...env, SALESFORCE_MAX_API_SHARE: '1.5' }, [salesforceConnector]),
      (e: unknown) => isTandemError(e) && /SALESFORCE_MAX_API_SHARE/.test(e.message),
    );
    assert.throws(
      () => parseConnectorEnv({ SALESFORCE_CLIENT_ID: 'x' }, [salesforceConnector]),
      (e: unknown) => isTandemError(e) && /SALESFORCE_URL is required/.test(e.message),
    );
  });

  test('declarations: its label, no id order (Salesforce does not document ids growing with age), Contact supersedes Lead', async () => {
    const { running, connector } = await startFromManifest();
    try {
      assert.equal(connector.label, 'Salesforce');
      assert.equal((connector as Connector).idOrder, undefined);
      assert.deepEqual(connector.supersedes, { Contact: ['Lead'] });
      assert.deepEqual([...connector.objectTypes], ['Contact', 'Lead']);
    } finally {
      await connector.close();
      await running.close();
    }
  });

  test('sandbox mode: the sandbox loaded from the manifest, configured through the env bindings and its CA', async () => {
    const { running, connector, config } = await startFromManifest();
    try {
      assert.equal(config.tlsCa, running.caPem);
      const r = await connector.check();
      assert.equal(r.ok, true, r.message);
      assert.equal(r.instance, running.instanceId);
      const seeded = running.sandbox.listRecords('Contact').map((r) => String(r.values.Email));
      assert.equal(seeded.length, 80, 'sample people 200..279 as Contacts');
      const contacts = await connector.findByEmail('Contact', [seeded[0] ?? '', (seeded[1] ?? '').toUpperCase()], {
        fields: ['Email'],
      });
      assert.equal(contacts.length, 2);
    } finally {
      await connector.close();
      await running.close();
    }
  });
});

async function startFromManifest() {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { tandem: { sandbox: string } };
  const require = createRequire(join(root, 'package.json'));
  const loaded = require(require.resolve(manifest.tandem.sandbox)) as { default: unknown };
  assert.ok(isSandboxDefinition(loaded.default));
  assert.equal(loaded.default.connector, salesforceConnector.id);
  const running = (await loaded.default.start({ seed: true })) as RunningSalesforceSandbox;
  const config = sandboxConnectorConfig(salesforceConnector, running) as SalesforceConfig;
  const child = container.createChildContainer();
  child.register(PluginTokens.Logger, { useValue: pino({ level: 'silent' }) });
  child.register(PluginTokens.Config, { useValue: config });
  child.register(PluginTokens.Metrics, { useValue: new Registry() });
  salesforceConnector.register(child);
  const connector = child.resolve<SalesforceConnector>(PluginTokens.Connector);
  return { running, connector, config };
}
