import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { container } from 'tsyringe';
import { PluginTokens, type Policy } from '@tandem/core/plugin';
import { assertManifestMatches, registerInChild } from '@tandem/core/testing';
import definition, { collisionAuthority, collisionAuthorityPolicy } from '../src/index';

// Compiled to dist/test: the package root is two levels up.
const packageDir = join(__dirname, '..', '..');

describe('collision-authority definition', () => {
  it('matches the package.json manifest', () => {
    const pkg = assertManifestMatches(definition, packageDir);
    assert.equal(pkg.name, '@tandem/policy-collision-authority');
  });

  it('is both the default and a named export', () => {
    assert.equal(definition, collisionAuthority);
  });

  it('registers the policy under PluginTokens.Policy in the child container only', () => {
    const policy = registerInChild(definition, PluginTokens.Policy, container.createChildContainer()).resolve<Policy>(
      PluginTokens.Policy,
    );
    assert.equal(policy, collisionAuthorityPolicy);
    assert.equal(policy.decisionPoint, 'collision');
  });
});
