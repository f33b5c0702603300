/**
 * Fixture plugin packages written into a temp dir. The dir gets a `node_modules` symlink to the project's,
 * so fixtures can require `@tandem/core/plugin` and `@sinclair/typebox` exactly as a real plugin does.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(__dirname, '..', '..', '..', '..');

export interface FixtureDir {
  root: string;
  /** Writes a package; returns its directory. `code` becomes index.js (omit it: no build output). */
  plugin(dir: string, packageJson: Record<string, unknown>, code?: string): string;
  remove(): void;
}

export function fixtureDir(options: { linkNodeModules?: boolean; workspaces?: string[] } = {}): FixtureDir {
  const root = mkdtempSync(join(tmpdir(), 'tandem-plugins-'));
  if (options.linkNodeModules !== false) {
    symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  }
  const workspaces = options.workspaces ? { workspaces: options.workspaces } : {};
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'fixture-root', private: true, ...workspaces }));
  return {
    root,
    plugin(dir, packageJson, code) {
      const path = join(root, dir);
      mkdirSync(path, { recursive: true });
      writeFileSync(join(path, 'package.json'), JSON.stringify({ version: '1.0.0', main: 'index.js', ...packageJson }));
      if (code !== undefined) writeFileSync(join(path, 'index.js'), code);
      return path;
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Source of a policy plugin. Lifecycle calls are recorded in `globalThis.__tandemEvents`. */
export function policySource(
  id: string,
  options: { dependsOn?: string[]; failInit?: boolean; exportId?: string } = {},
): string {
  return `
const { definePolicy, PluginTokens } = require('@tandem/core/plugin');
const { Type } = require('@sinclair/typebox');
const events = (globalThis.__tandemEvents ??= []);
const settingsSchema = Type.Object(
  {
    winner: Type.Union([Type.Literal('marketo'), Type.Literal('dynamics')], { default: 'marketo' }),
    perField: Type.Optional(Type.Record(Type.String(), Type.Union([Type.Literal('marketo'), Type.Literal('dynamics')]))),
  },
  { additionalProperties: false },
);
exports.default = definePolicy({
  id: ${JSON.stringify(options.exportId ?? id)},
  dependsOn: ${JSON.stringify(options.dependsOn ?? [])},
  configSchema: Type.Object({ label: Type.String({ default: 'fixture' }) }),
  register(container) {
    events.push('register:${id}');
    container.register(PluginTokens.Policy, {
      useValue: {
        decisionPoint: 'collision',
        settingsSchema,
        defaultSettings: { winner: 'marketo' },
        defaultEnabled: true,
        description: 'Fixture policy ${id}',
        resolve: (_collision, settings) => settings.winner,
      },
    });
  },
  async init(container) {
    events.push('init:${id}');
    container.resolve(PluginTokens.Logger).info('fixture init');
    ${options.failInit ? "throw new Error('cannot reach the policy store');" : ''}
  },
  async shutdown() {
    events.push('shutdown:${id}');
  },
});
`;
}

export function tandemEvents(): string[] {
  const g = globalThis as { __tandemEvents?: string[] };
  g.__tandemEvents ??= [];
  return g.__tandemEvents;
}

/** A policy plugin package (manifest + code) under `dir`. */
export function writePolicy(
  fixtures: FixtureDir,
  dir: string,
  id: string,
  options: { dependsOn?: string[]; failInit?: boolean; exportId?: string; manifest?: Record<string, unknown> } = {},
): string {
  return fixtures.plugin(
    dir,
    {
      name: `@fixture/${dir}`,
      tandem: options.manifest ?? {
        kind: 'policy',
        id,
        apiVersion: 2,
        ...(options.dependsOn ? { dependsOn: options.dependsOn } : {}),
      },
    },
    policySource(id, options),
  );
}

/**
 * Source of a connector plugin that answers from memory: enough for the API's mappings checks and for
 * secret masking/redaction (its config has a `Secret()` field that it logs on init).
 */
export function connectorSource(id: 'marketo' | 'dynamics'): string {
  const fields =
    id === 'marketo'
      ? `[f('id', false), f('email'), f('firstName'), f('lastName'), f('leadScore')]`
      : `[f('contactid', false), f('emailaddress1'), f('firstname'), f('lastname'), { ...f('mkt_secret'), readable: false, note: 'field security profile' }]`;
  return `
const { defineConnector, PluginTokens, Secret } = require('@tandem/core/plugin');
const { Type } = require('@sinclair/typebox');
const f = (name, writable = true) => ({ name, type: 'string', readable: true, creatable: writable, updatable: writable });
const fields = ${fields};
exports.default = defineConnector({
  id: '${id}',
  env: [],
  configSchema: Type.Object({ baseUrl: Type.String(), clientSecret: Secret() }),
  register(container) {
    const config = container.resolve(PluginTokens.Config);
    container.resolve(PluginTokens.Logger).info({ config }, 'fixture connector configured');
    container.register(PluginTokens.Connector, {
      useValue: {
        id: '${id}',
        objectTypes: ${id === 'marketo' ? "['lead']" : "['contact', 'lead']"},
        check: async () => ({ ok: true }),
        describe: async (objectType) => ({ objectType, idField: fields[0].name, emailField: fields[1].name, fields }),
        readChanges: async function* () { yield { records: [], deletedIds: [], cursor: 'c', done: true }; },
        get: async () => [],
        findByEmail: async () => [],
        write: async () => [],
      },
    });
  },
});
`;
}

export function writeConnector(fixtures: FixtureDir, id: 'marketo' | 'dynamics'): string {
  return fixtures.plugin(
    `connector-${id}`,
    { name: `@fixture/connector-${id}`, tandem: { kind: 'connector', id, apiVersion: 2 } },
    connectorSource(id),
  );
}
