import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { container } from 'tsyringe';
import { Value } from '@sinclair/typebox/value';
import { ManifestSchema, PLUGIN_API_VERSION, PluginTokens, type Policy } from '@tandem/core/plugin';
import definition, { validationHandling, validationHandlingPolicy } from '../src/index';

interface PackageJson {
  name: string;
  tandem: unknown;
}
// Compiled to dist/test: the package root is two levels up.
const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as PackageJson;

describe('validation-handling definition', () => {
  it('matches the package.json manifest', () => {
    assert.equal(pkg.name, '@tandem/policy-validation-handling');
    assert.ok(Value.Check(ManifestSchema, pkg.tandem), 'manifest is valid');
    const manifest = pkg.tandem as { id: string; kind: string; apiVersion: number };
    assert.equal(definition.id, manifest.id);
    assert.equal(definition.kind, manifest.kind);
    assert.equal(definition.apiVersion, manifest.apiVersion);
    assert.equal(definition.apiVersion, PLUGIN_API_VERSION);
  });

  it('is both the default and a named export', () => {
    assert.equal(definition, validationHandling);
  });

  it('registers the policy under PluginTokens.Policy in the child container only', () => {
    // A stand-in for the host's root container, so the global one stays untouched.
    const root = container.createChildContainer();
    const child = root.createChildContainer();
    definition.register(child);
    assert.ok(child.isRegistered(PluginTokens.Policy));
    assert.ok(!root.isRegistered(PluginTokens.Policy, true));
    const policy = child.resolve<Policy>(PluginTokens.Policy);
    assert.equal(policy, validationHandlingPolicy);
    assert.equal(policy.decisionPoint, 'rejection');
  });
});
