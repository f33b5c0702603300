/**
 * Finds plugin packages: every package reachable from the root package.json (its workspaces and
 * dependencies) and `node_modules/@tandem/*`, plus an explicit list (names or directories). A plugin is a
 * package whose package.json carries a `"tandem"` manifest; everything else is ignored silently.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { TandemError } from '../plugin';

export interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  exports?: unknown;
  tandem?: unknown;
  workspaces?: string[] | { packages?: string[] };
  dependencies?: Record<string, string>;
}

export interface PluginCandidate {
  /** Real path of the package directory. */
  dir: string;
  packageJson: PackageJson;
  /** True when the operator named it (config or option): problems are then fatal, not skips. */
  explicit: boolean;
}

export function readPackageJson(dir: string): PackageJson | undefined {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
  } catch (error) {
    throw new TandemError('PLUGIN_LOAD_FAILED', `${file} is not valid JSON`, { cause: error });
  }
}

/** Directories matched by a workspace pattern; supports `dir` and `dir/*`, which is what npm projects use. */
function expandWorkspace(root: string, pattern: string): string[] {
  if (!pattern.endsWith('/*')) return [resolve(root, pattern)];
  const parent = resolve(root, pattern.slice(0, -2));
  if (!existsSync(parent)) return [];
  return readdirSync(parent)
    .map((name) => join(parent, name))
    .filter((dir) => statSync(dir).isDirectory());
}

function packageDirOf(name: string, fromDir: string): string | undefined {
  try {
    return dirname(createRequire(join(fromDir, 'package.json')).resolve(`${name}/package.json`));
  } catch {
    // Packages that do not export ./package.json: fall back to node_modules/<name>.
    const dir = join(fromDir, 'node_modules', name);
    return existsSync(join(dir, 'package.json')) ? dir : undefined;
  }
}

/** The directory holding the root package.json with workspaces, walking up from `start`. */
export function findProjectRoot(start: string): string {
  let dir = resolve(start);
  for (;;) {
    const pkg = readPackageJson(dir);
    if (pkg?.workspaces) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(start);
    dir = parent;
  }
}

export interface DiscoverOptions {
  /** The project root to scan. */
  rootDir: string;
  /** Scan the root's workspaces, dependencies and node_modules/@tandem (default true). */
  scan?: boolean;
  /** Package names (resolved from the root) or directories. */
  explicit?: readonly string[];
}

export function discoverPlugins(options: DiscoverOptions): PluginCandidate[] {
  const found = new Map<string, PluginCandidate>();
  const add = (dir: string, explicit: boolean): void => {
    const real = realpathSync(dir);
    const existing = found.get(real);
    if (existing) {
      existing.explicit ||= explicit;
      return;
    }
    const packageJson = readPackageJson(real);
    if (!packageJson) {
      if (explicit) throw new TandemError('PLUGIN_LOAD_FAILED', `Plugin ${dir} has no package.json`);
      return;
    }
    if (packageJson.tandem === undefined) {
      if (explicit) {
        throw new TandemError(
          'PLUGIN_LOAD_FAILED',
          `Package ${packageJson.name ?? dir} has no "tandem" manifest in its package.json`,
        );
      }
      return;
    }
    found.set(real, { dir: real, packageJson, explicit });
  };

  const root = options.rootDir;
  if (options.scan !== false) {
    const rootPkg = readPackageJson(root) ?? {};
    const workspaces = Array.isArray(rootPkg.workspaces) ? rootPkg.workspaces : (rootPkg.workspaces?.packages ?? []);
    for (const pattern of workspaces) {
      for (const dir of expandWorkspace(root, pattern)) if (existsSync(join(dir, 'package.json'))) add(dir, false);
    }
    for (const name of Object.keys(rootPkg.dependencies ?? {})) {
      const dir = packageDirOf(name, root);
      if (dir) add(dir, false);
    }
    const scope = join(root, 'node_modules', '@tandem');
    if (existsSync(scope)) for (const name of readdirSync(scope)) add(join(scope, name), false);
  }
  for (const entry of options.explicit ?? []) {
    const dir = isAbsolute(entry) || entry.startsWith('.') ? resolve(root, entry) : packageDirOf(entry, root);
    if (!dir || !existsSync(dir)) {
      throw new TandemError('PLUGIN_LOAD_FAILED', `Plugin package ${entry} is not installed (looked from ${root})`);
    }
    add(dir, true);
  }
  return [...found.values()];
}
