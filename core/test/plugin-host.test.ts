import 'reflect-metadata';
import { after, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { container } from 'tsyringe';
import { Registry } from 'prom-client';
import { silentLogger } from '../src/observability';
import { discoverPlugins, loadPlugins, PluginHost } from '../src/plugins';
import { isTandemError } from '../src/plugin';
import { fixtureDir, tandemEvents, writePolicy } from './helpers/fixtures';

const fixtures = fixtureDir();
after(() => fixtures.remove());
beforeEach(() => {
  tandemEvents().length = 0;
});

function load(explicit: string[], scan = false) {
  return loadPlugins(discoverPlugins({ rootDir: fixtures.root, scan, explicit }));
}

function hostFor(explicit: string[]) {
  const { plugins, skipped } = load(explicit);
  return new PluginHost({
    plugins,
    skipped,
    parent: container.createChildContainer(),
    logger: silentLogger(),
    metrics: new Registry(),
  });
}

/** Asserts a start-up failure whose message names `pkg` and matches `pattern`. */
function failsNaming(pkg: string, pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(isTandemError(error), `expected a TandemError, got ${String(error)}`);
    assert.equal(error.code, 'PLUGIN_LOAD_FAILED');
    assert.match(error.message, new RegExp(pkg.replace(/[/@]/g, '\\$&')));
    assert.match(error.message, pattern);
    return true;
  };
}

test('a good plugin is registered, initialised in dependency order and shut down in reverse', async () => {
  const base = writePolicy(fixtures, 'good-base', 'base-policy');
  const dependent = writePolicy(fixtures, 'good-dependent', 'dependent-policy', { dependsOn: ['base-policy'] });
  // Listed dependent first: the host must still start base-policy first.
  const host = hostFor([dependent, base]);
  await host.start(new Map([['base-policy', { label: 'configured' }]]));

  assert.deepEqual(
    host.list().map((p) => [p.id, p.kind, p.package, p.version]),
    [
      ['base-policy', 'policy', '@fixture/good-base', '1.0.0'],
      ['dependent-policy', 'policy', '@fixture/good-dependent', '1.0.0'],
    ],
  );
  const policy = host.policies().get('base-policy');
  assert.equal(policy?.decisionPoint, 'collision');
  assert.equal(host.connectors().size, 0);
  await host.shutdown();
  assert.deepEqual(tandemEvents(), [
    'register:base-policy',
    'register:dependent-policy',
    'init:base-policy',
    'init:dependent-policy',
    'shutdown:dependent-policy',
    'shutdown:base-policy',
  ]);
});

test('each plugin gets its own child container with its logger, its validated config and the metrics', async () => {
  const dir = fixtures.plugin(
    'probe',
    { name: '@fixture/probe', tandem: { kind: 'policy', id: 'probe', apiVersion: 2 } },
    `
const { definePolicy, PluginTokens } = require('@tandem/core/plugin');
const { Type } = require('@sinclair/typebox');
exports.default = definePolicy({
  id: 'probe',
  configSchema: Type.Object({ threshold: Type.Number({ default: 3 }) }),
  register(container) {
    globalThis.__probe = {
      config: container.resolve(PluginTokens.Config),
      hasLogger: typeof container.resolve(PluginTokens.Logger).info === 'function',
      hasMetrics: typeof container.resolve(PluginTokens.Metrics).metrics === 'function',
    };
    container.register(PluginTokens.Policy, { useValue: { decisionPoint: 'rejection', settingsSchema: Type.Object({}), defaultSettings: {}, defaultEnabled: true, description: 'probe', onRejected: () => 'continue' } });
  },
});
`,
  );
  const host = hostFor([dir]);
  await host.start(new Map());
  const probe = (globalThis as { __probe?: { config: unknown; hasLogger: boolean; hasMetrics: boolean } }).__probe;
  assert.deepEqual(probe, { config: { threshold: 3 }, hasLogger: true, hasMetrics: true });
  await host.shutdown();
});

test('a bad manifest stops start-up, naming the package', () => {
  const dir = writePolicy(fixtures, 'bad-manifest', 'Bad_Id', {
    manifest: { kind: 'widget', id: 'Bad_Id', apiVersion: 1 },
  });
  assert.throws(() => load([dir]), failsNaming('@fixture/bad-manifest', /invalid "tandem" manifest/));
});

test('a module exporting another id than its manifest stops start-up, naming the package', () => {
  const dir = writePolicy(fixtures, 'mismatch', 'declared-id', { exportId: 'exported-id' });
  assert.throws(
    () => load([dir]),
    failsNaming('@fixture/mismatch', /declares policy "declared-id".*exports policy "exported-id"/),
  );
});

test('a duplicate id stops start-up, naming both packages', () => {
  const one = writePolicy(fixtures, 'dup-one', 'same-id');
  const two = writePolicy(fixtures, 'dup-two', 'same-id');
  assert.throws(
    () => load([one, two]),
    failsNaming('@fixture/dup-two', /"same-id" is already provided by @fixture\/dup-one/),
  );
});

test('a missing dependency stops start-up, naming the package and the dependency', () => {
  const dir = writePolicy(fixtures, 'lonely', 'lonely-policy', { dependsOn: ['absent-policy'] });
  assert.throws(() => load([dir]), failsNaming('@fixture/lonely', /depends on plugin "absent-policy"/));
});

test('a failing init stops start-up, naming the package, and shuts down what had started', async () => {
  const ok = writePolicy(fixtures, 'init-ok', 'a-ok-policy');
  const bad = writePolicy(fixtures, 'init-bad', 'z-failing-policy', { failInit: true });
  const host = hostFor([ok, bad]);
  await assert.rejects(
    host.start(new Map()),
    failsNaming('@fixture/init-bad', /init\(\) failed: cannot reach the policy store/),
  );
  assert.ok(tandemEvents().includes('shutdown:a-ok-policy'), 'the plugin that had started is shut down');
  assert.ok(!tandemEvents().includes('shutdown:z-failing-policy'));
});

test('an invalid plugin config stops start-up, naming the package and the field', async () => {
  const dir = writePolicy(fixtures, 'configured', 'configured-policy');
  const host = hostFor([dir]);
  await assert.rejects(
    host.start(new Map([['configured-policy', { label: 42 }]])),
    failsNaming('@fixture/configured', /invalid config: field "label"/),
  );
});

test('scanning skips a plugin package without build output; naming it explicitly is an error', () => {
  // A project of its own (no node_modules link), so the scan sees only what this test writes.
  const scanRoot = fixtureDir({ linkNodeModules: false, workspaces: ['packages/*'] });
  try {
    const unbuilt = scanRoot.plugin('packages/unbuilt', {
      name: '@fixture/unbuilt',
      tandem: { kind: 'policy', id: 'unbuilt', apiVersion: 2 },
    });
    scanRoot.plugin('packages/not-a-plugin', { name: '@fixture/plain' }, 'module.exports = {};');
    const scanned = loadPlugins(discoverPlugins({ rootDir: scanRoot.root }));
    assert.deepEqual(scanned.plugins, []);
    assert.equal(scanned.skipped.length, 1);
    assert.match(scanned.skipped[0]!.reason, /no build output/);
    assert.throws(
      () => loadPlugins(discoverPlugins({ rootDir: scanRoot.root, scan: false, explicit: [unbuilt] })),
      failsNaming('@fixture/unbuilt', /no build output/),
    );
  } finally {
    scanRoot.remove();
  }
});
