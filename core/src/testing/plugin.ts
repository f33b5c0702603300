/**
 * Checks a plugin package's definition against its package.json, the way the plugin host will: plugin
 * authors call these from their own tests so a mismatch fails there, not at a user's start-up.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import type { DependencyContainer } from 'tsyringe';
import { ManifestSchema, PLUGIN_API_VERSION, type PluginDefinition } from '../plugin';

export interface PluginPackageJson {
  name: string;
  tandem: unknown;
}

/** Reads `<packageDir>/package.json` and asserts its `"tandem"` manifest is valid and matches `definition`. */
export function assertManifestMatches(definition: PluginDefinition, packageDir: string): PluginPackageJson {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as PluginPackageJson;
  assert.ok(Value.Check(ManifestSchema, pkg.tandem), `${pkg.name}: the "tandem" manifest is valid`);
  const manifest = pkg.tandem as { id: string; kind: string; apiVersion: number };
  assert.equal(definition.id, manifest.id);
  assert.equal(definition.kind, manifest.kind);
  assert.equal(definition.apiVersion, manifest.apiVersion);
  assert.equal(definition.apiVersion, PLUGIN_API_VERSION);
  return pkg;
}

/**
 * Runs `definition.register` in a child of `root` (a stand-in for the host's root container), as the host
 * does, and asserts `token` is registered there and not in `root`. Returns the child to resolve from.
 * (`root` comes from the caller so that importing this module never loads tsyringe.)
 */
export function registerInChild(
  definition: PluginDefinition,
  token: symbol,
  root: DependencyContainer,
): DependencyContainer {
  const child = root.createChildContainer();
  definition.register(child);
  assert.ok(child.isRegistered(token), 'the plugin registers its service in its own container');
  assert.ok(!root.isRegistered(token, true), 'and not in the parent');
  return child;
}
