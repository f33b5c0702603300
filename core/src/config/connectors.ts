/**
 * Connector settings come from each connector definition's `env` bindings, so core never hard-codes
 * MARKETO_* or DYNAMICS_*. No connector variable set at all means sandbox mode; a connector that is only
 * half-configured (or one side configured without the other) refuses to start, naming the variables.
 */
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { TandemError, type ConnectorDefinition, type EnvBinding } from '../plugin';
import { envValue, type Env } from './env';
import { registerFormats } from './formats';

export type RunMode = 'sandbox' | 'live';

export interface ConnectorEnvResult {
  mode: RunMode;
  /** Config per connector id, validated against its configSchema (defaults applied). Empty in sandbox mode. */
  configs: Map<string, unknown>;
  /** Live mode: connectors with none of their variables set, which are simply not connections (CONTRACT.md). */
  absent: string[];
}

function badConfig(message: string, variables: string[]): TandemError {
  return new TandemError('BAD_CONFIG', message, { status: 500, details: { variables } });
}

function requiredKeys(schema: TSchema): Set<string> {
  const required: unknown = schema['required'];
  return new Set(Array.isArray(required) ? required.filter((k): k is string => typeof k === 'string') : []);
}

function convert(binding: EnvBinding, raw: string): string | number | boolean {
  if (binding.type === 'number') {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw badConfig(`${binding.variable} must be a number, got "${raw}"`, [binding.variable]);
    return n;
  }
  if (binding.type === 'boolean') {
    if (/^(true|1|yes)$/i.test(raw)) return true;
    if (/^(false|0|no)$/i.test(raw)) return false;
    throw badConfig(`${binding.variable} must be true or false, got "${raw}"`, [binding.variable]);
  }
  return raw;
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    node[part] = typeof next === 'object' && next !== null ? next : {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] ?? key] = value;
}

/** Human name of the variable a schema error points at (`/clientSecret` → `DYNAMICS_CLIENT_SECRET`). */
function variableFor(definition: ConnectorDefinition, path: string, missingKey?: string): string {
  const key = (missingKey ?? path.replace(/^\//, '')).replace(/\//g, '.');
  return definition.env.find((b) => b.key === key)?.variable ?? `${definition.id} config field "${key}"`;
}

/** One connector's config from environment variables (its `env` bindings); throws naming the variables. */
export function connectorConfigFromEnv(env: Env, definition: ConnectorDefinition): unknown {
  registerFormats();
  const raw: Record<string, unknown> = {};
  for (const binding of definition.env) {
    const value = envValue(env, binding.variable);
    if (value !== undefined) setPath(raw, binding.key, convert(binding, value));
  }
  const config: unknown = Value.Default(definition.configSchema, raw);
  const problems: string[] = [];
  const variables: string[] = [];
  for (const error of Value.Errors(definition.configSchema, config)) {
    // A missing required property is reported on the parent object; name the property itself.
    const missing = /Expected required property/i.test(error.message)
      ? (error.schema as { required?: string[] }).required?.find((k) => raw[k] === undefined)
      : undefined;
    const variable = variableFor(definition, error.path, missing);
    if (variables.includes(variable)) continue;
    variables.push(variable);
    const binding = definition.env.find((b) => b.variable === variable);
    const shown = binding?.secret || binding === undefined ? '' : `, got "${envValue(env, variable) ?? ''}"`;
    problems.push(
      missing !== undefined || envValue(env, variable) === undefined
        ? `${variable} is required (${binding?.description ?? 'no description'})`
        : `${variable} is invalid: ${error.message}${shown}`,
    );
  }
  if (problems.length > 0) {
    throw badConfig(`The ${definition.id} connector is misconfigured: ${problems.join('; ')}`, variables);
  }
  return config;
}

/**
 * `required`: the connectors that must be configured together once any connector is (the default pipeline's);
 * every connector unless said. Another connector with none of its variables set is absent, not an error.
 */
export function parseConnectorEnv(
  env: Env,
  definitions: readonly ConnectorDefinition[],
  required: readonly string[] = definitions.map((d) => d.id),
): ConnectorEnvResult {
  const configured = definitions.filter((d) => d.env.some((b) => envValue(env, b.variable) !== undefined));
  if (configured.length === 0) return { mode: 'sandbox', configs: new Map(), absent: [] };
  const absent = definitions.filter((d) => !configured.includes(d) && !required.includes(d.id)).map((d) => d.id);
  const unconfigured = definitions.filter((d) => !configured.includes(d) && required.includes(d.id));
  if (unconfigured.length > 0) {
    const missing = unconfigured.map((d) => {
      const required = requiredKeys(d.configSchema);
      const vars = d.env.filter((b) => required.size === 0 || required.has(b.key)).map((b) => b.variable);
      return { id: d.id, vars };
    });
    throw badConfig(
      `Only ${configured.map((d) => d.id).join(', ')} is configured. Set ${missing
        .map((m) => `${m.vars.join(', ')} (${m.id})`)
        .join(' and ')}, or unset every connector variable to run in sandbox mode.`,
      missing.flatMap((m) => m.vars),
    );
  }
  return { mode: 'live', configs: new Map(configured.map((d) => [d.id, connectorConfigFromEnv(env, d)])), absent };
}
