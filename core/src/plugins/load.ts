/**
 * Turns discovered packages into plugin definitions: validates the manifest, requires the entry module,
 * checks that it exports a definition of the manifest's id and kind, and checks ids and dependencies
 * across all plugins. Every failure names the package.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { ManifestSchema, TandemError, type Manifest, type PluginDefinition, type PluginKind } from '../plugin';
import type { PackageJson, PluginCandidate } from './discover';

export interface LoadedPlugin {
  id: string;
  kind: PluginKind;
  package: string;
  version: string;
  dir: string;
  manifest: Manifest;
  definition: PluginDefinition;
  /** Plugin ids to load first (manifest and definition combined). */
  dependsOn: string[];
}

export interface SkippedPlugin {
  package: string;
  reason: string;
}

function fail(pkg: string, message: string, cause?: unknown): TandemError {
  return new TandemError('PLUGIN_LOAD_FAILED', `Plugin ${pkg}: ${message}`, {
    details: { package: pkg },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The compiled entry file: manifest `entry`, else the CommonJS `exports["."]`, else `main`, else index.js. */
function entryFile(dir: string, pkg: PackageJson, manifest: Manifest): string {
  if (manifest.entry) return join(dir, manifest.entry);
  const dot =
    typeof pkg.exports === 'object' && pkg.exports !== null ? (pkg.exports as Record<string, unknown>)['.'] : undefined;
  const fromExports =
    typeof dot === 'string'
      ? dot
      : typeof dot === 'object' && dot !== null
        ? ((dot as Record<string, unknown>)['require'] ?? (dot as Record<string, unknown>)['default'])
        : undefined;
  return join(dir, typeof fromExports === 'string' ? fromExports : (pkg.main ?? 'index.js'));
}

function isDefinition(value: unknown): value is PluginDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['id'] === 'string' &&
    (v['kind'] === 'connector' || v['kind'] === 'policy') &&
    typeof v['register'] === 'function' &&
    typeof v['configSchema'] === 'object' &&
    v['configSchema'] !== null
  );
}

function loadOne(candidate: PluginCandidate): LoadedPlugin | SkippedPlugin {
  const pkg = candidate.packageJson;
  const name = pkg.name ?? candidate.dir;
  if (!Value.Check(ManifestSchema, pkg.tandem)) {
    const problems = [...Value.Errors(ManifestSchema, pkg.tandem)].map((e) => `${e.path || '/'} ${e.message}`);
    throw fail(name, `invalid "tandem" manifest in package.json: ${problems.join('; ')}`);
  }
  const manifest = pkg.tandem;
  const file = entryFile(candidate.dir, pkg, manifest);
  const resolvable = existsSync(file) || existsSync(`${file}.js`);
  if (!resolvable) {
    const reason = `has no build output (${file} is missing); run \`npm run build\``;
    if (candidate.explicit) throw fail(name, reason);
    return { package: name, reason };
  }
  let mod: unknown;
  try {
    // Plugins are CommonJS packages (like core): requiring keeps discovery synchronous.
    mod = createRequire(file)(file) as unknown;
  } catch (error) {
    throw fail(name, `could not load ${file}: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  const exported =
    typeof mod === 'object' && mod !== null && 'default' in mod ? (mod as { default: unknown }).default : mod;
  if (!isDefinition(exported)) {
    throw fail(name, `${file} must default-export a definition made with defineConnector() or definePolicy()`);
  }
  if (exported.id !== manifest.id || exported.kind !== manifest.kind) {
    throw fail(
      name,
      `the manifest declares ${manifest.kind} "${manifest.id}" but the module exports ${exported.kind} "${exported.id}"`,
    );
  }
  if (manifest.kind === 'policy' && manifest.apiVersion === 1) {
    throw fail(
      name,
      'targets plugin API 1, whose collisions and rejections named the two systems of the first pipeline. Plugin API 2 names a ' +
        "pipeline's sides by connection id so a policy serves every pipeline: read `collision.sides` (connection, " +
        'connector, objectType, field, value, changedAt) and return the winning connection id (or undefined for no ' +
        'opinion), read `rejection.connection` instead of `rejection.system`, and set "apiVersion": 2 in the ' +
        'manifest. Connectors of API 1 still load unchanged.',
    );
  }
  if (exported.apiVersion !== manifest.apiVersion) {
    throw fail(
      name,
      `the module targets plugin API ${String(exported.apiVersion)}, the manifest ${manifest.apiVersion}`,
    );
  }
  return {
    id: manifest.id,
    kind: manifest.kind,
    package: name,
    version: pkg.version ?? '0.0.0',
    dir: candidate.dir,
    manifest,
    definition: exported,
    dependsOn: [...new Set([...(manifest.dependsOn ?? []), ...(exported.dependsOn ?? [])])],
  };
}

/** Loads every candidate; returns them in dependency order, with the ones skipped and why. */
export function loadPlugins(candidates: readonly PluginCandidate[]): {
  plugins: LoadedPlugin[];
  skipped: SkippedPlugin[];
} {
  const plugins: LoadedPlugin[] = [];
  const skipped: SkippedPlugin[] = [];
  for (const candidate of candidates) {
    const result = loadOne(candidate);
    if ('definition' in result) plugins.push(result);
    else skipped.push(result);
  }
  const byId = new Map<string, LoadedPlugin>();
  for (const plugin of plugins) {
    const other = byId.get(plugin.id);
    if (other) throw fail(plugin.package, `plugin id "${plugin.id}" is already provided by ${other.package}`);
    byId.set(plugin.id, plugin);
  }
  for (const plugin of plugins) {
    for (const dependency of plugin.dependsOn) {
      if (!byId.has(dependency)) {
        const hint = skipped.length > 0 ? ` (skipped: ${skipped.map((s) => s.package).join(', ')})` : '';
        throw fail(plugin.package, `depends on plugin "${dependency}", which is not installed${hint}`);
      }
    }
  }
  return { plugins: orderByDependencies(plugins, byId), skipped };
}

function orderByDependencies(plugins: LoadedPlugin[], byId: Map<string, LoadedPlugin>): LoadedPlugin[] {
  const ordered: LoadedPlugin[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (plugin: LoadedPlugin, path: string[]): void => {
    const seen = state.get(plugin.id);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      throw fail(plugin.package, `dependency cycle: ${[...path, plugin.id].join(' -> ')}`);
    }
    state.set(plugin.id, 'visiting');
    for (const dependency of plugin.dependsOn) visit(byId.get(dependency)!, [...path, plugin.id]);
    state.set(plugin.id, 'done');
    ordered.push(plugin);
  };
  // Sorted first so that the order does not depend on directory listing order.
  for (const plugin of [...plugins].sort((a, b) => a.id.localeCompare(b.id))) visit(plugin, []);
  return ordered;
}
