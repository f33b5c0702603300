/**
 * A hostile-client fuzzer for Tandem's REST API, driven by its own OpenAPI document (`/docs/json`): wrong
 * types, missing and extra fields, huge and deeply nested bodies, unicode, prototype-pollution and MongoDB
 * operator keys, path traversal and malformed escapes in ids, wrong methods and content types, no or a wrong
 * token. Every answer is checked against the API's promises: never a 5xx, every error
 * `application/problem+json`, and no stack trace, server file path or secret in any body.
 *
 *   const figures = await fuzzApi({ baseUrl, token, count: 1000, seed: 42 });
 *   // { requests, serverErrors, nonProblemErrors, leaks, acceptedInvalid, authBypasses, findings }
 *
 * Requests go out through `node:http` rather than `fetch`, which would resolve `..` segments and refuse some
 * of the malformed requests worth sending. The same seed sends the same requests.
 */
import { request as httpRequest, Agent, type IncomingHttpHeaders } from 'node:http';
import { mulberry32 } from './random';

export interface FuzzOptions {
  /** Where the API listens, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** The admin token: most requests carry it, so that they reach validation and the handlers. */
  token: string;
  /** How many requests to send (the set-up requests that read the OpenAPI document and ids are not counted). */
  count: number;
  seed: number;
  /** Strings that must never appear in a response (connector secrets, the token is always checked). */
  secrets?: readonly string[];
  /** Server-side paths that must never appear in a response (the checkout's root, say). */
  serverPaths?: readonly string[];
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Per-request deadline; a request that exceeds it counts as a server error (default 30 s). */
  timeoutMs?: number;
}

export interface FuzzFinding {
  kind: 'server-error' | 'non-problem-error' | 'leak' | 'accepted-invalid' | 'auth-bypass';
  method: string;
  path: string;
  status: number;
  detail: string;
}

export interface FuzzFigures {
  requests: number;
  /** Answers with a 5xx status, and requests that got no answer at all. */
  serverErrors: number;
  /** 4xx/5xx answers whose content type is not application/problem+json. */
  nonProblemErrors: number;
  /** Answers whose body holds a stack trace, a server file path or a secret. */
  leaks: number;
  /** 2xx answers to requests that certainly break the API's rules (a wrong type, a bad integer, a wrong method). */
  acceptedInvalid: number;
  /** Requests without the right token to a route that is not public, answered with anything but a 401. */
  authBypasses: number;
  /** The first few of each kind, to say what went wrong. */
  findings: FuzzFinding[];
}

// ---- the OpenAPI document, as much of it as the fuzzer reads ----------------------------------------------

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  minProperties?: number;
  maxItems?: number;
  pattern?: string;
  default?: unknown;
}

interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema?: JsonSchema;
}

interface Operation {
  method: string;
  /** The OpenAPI path, e.g. `/v1/pipelines/{id}`. */
  path: string;
  parameters: Parameter[];
  body?: JsonSchema;
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<string, { parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>
  >;
}

function operationsOf(doc: OpenApiDocument): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      parameters: op.parameters ?? [],
      ...(op.requestBody?.content?.['application/json']?.schema
        ? { body: op.requestBody.content['application/json'].schema }
        : {}),
    })),
  );
}

// ---- raw HTTP -------------------------------------------------------------------------------------------

interface RawRequest {
  method: string;
  /** The request target exactly as sent (already escaped, or deliberately not). */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function send(base: URL, agent: Agent, req: RawRequest, timeoutMs: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: req.method,
        path: req.path,
        headers: {
          ...req.headers,
          ...(req.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(req.body)) }),
        },
        agent,
        timeout: timeoutMs,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

// ---- generation ---------------------------------------------------------------------------------------

type Random = () => number;

class Generator {
  constructor(
    readonly random: Random,
    private readonly known: ReadonlyMap<string, readonly string[]>,
  ) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  /** A value valid for `schema`, as far as a small generator can tell. */
  valid(schema: JsonSchema | undefined, depth = 0): unknown {
    if (!schema) return null;
    if (schema.const !== undefined) return schema.const;
    if (schema.enum) return this.pick(schema.enum);
    const choices = schema.anyOf ?? schema.oneOf;
    if (choices) return this.valid(this.pick(choices), depth);
    const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
    switch (type) {
      case 'object': {
        const out: Record<string, unknown> = {};
        for (const [name, child] of Object.entries(schema.properties ?? {})) {
          if (schema.required?.includes(name) || this.chance(0.6)) out[name] = this.valid(child, depth + 1);
        }
        return out;
      }
      case 'array': {
        const min = schema.minItems ?? 0;
        const max = Math.min(schema.maxItems ?? 3, min + 3);
        return Array.from({ length: min + this.int(max - min + 1) }, () => this.valid(schema.items, depth + 1));
      }
      case 'integer':
      case 'number': {
        const min = schema.minimum ?? 0;
        const max = schema.maximum ?? min + 100;
        return min + this.int(Math.max(1, Math.min(max - min + 1, 100)));
      }
      case 'boolean':
        return this.chance(0.5);
      case 'string':
        if (schema.pattern === '^[0-9]+$') return String(1 + this.int(500));
        return this.pick(['email', 'firstName', 'lastname', 'x', 'default']);
      default:
        return null;
    }
  }

  /** A value of the wrong JSON type for `schema` (or a plausible-looking wrong value). */
  wrong(schema: JsonSchema | undefined): unknown {
    const type = Array.isArray(schema?.type) ? schema?.type[0] : schema?.type;
    const candidates: unknown[] = [
      null,
      0,
      1,
      -1,
      1.5,
      '',
      'false',
      'true',
      '0',
      [],
      {},
      [null],
      { a: 1 },
      true,
      false,
    ];
    return this.pick(
      candidates.filter(
        (v) =>
          !(type === 'string' && typeof v === 'string') &&
          !(type === 'boolean' && typeof v === 'boolean') &&
          !((type === 'integer' || type === 'number') && typeof v === 'number') &&
          !(type === 'object' && typeof v === 'object' && v !== null && !Array.isArray(v)) &&
          !(type === 'array' && Array.isArray(v)),
      ),
    );
  }

  pathValue(name: string): string {
    const known = this.known.get(name);
    if (known && known.length > 0 && this.chance(0.8)) return encodeURIComponent(this.pick(known));
    return encodeURIComponent(this.pick(['default', 'nope', 'x', '1']));
  }

  hostilePathValue(): string {
    return this.pick([
      '..%2F..%2F..%2Fetc%2Fpasswd',
      '..',
      '%2e%2e',
      '....%2F%2F',
      '%ZZ',
      '%',
      '%E0%A4%A',
      '%C0%AF',
      '%00',
      '%0a',
      'a%2Fb',
      'x'.repeat(101),
      'x'.repeat(2000),
      '%F0%9F%98%80',
      '%D7%A9%D7%9C%D7%95%D7%9D',
      '__proto__',
      'constructor',
      '%24where',
      'a.b',
      '%20',
      ';a=b',
      '%3Cscript%3E',
    ]);
  }

  /**
   * A JSON text that is hostile as a whole: deep, huge, odd, or not JSON at all. `invalid`: no route of the
   * API may accept it.
   */
  hostileBodyText(): { text: string; invalid: boolean } {
    const depth = this.pick([64, 1000, 5000, 20_000]);
    switch (this.int(12)) {
      case 0:
        return { text: '{"settings":'.repeat(depth) + '{}' + '}'.repeat(depth), invalid: true };
      case 1:
        return { text: '['.repeat(depth) + ']'.repeat(depth), invalid: true };
      case 2: {
        const size = this.pick([100_000, 1_100_000]);
        return { text: JSON.stringify({ settings: { blob: 'x'.repeat(size) } }), invalid: size > 1_048_576 };
      }
      case 3:
        return { text: '{"enabled": tru', invalid: true };
      case 4:
        return { text: '', invalid: true };
      case 5:
        return { text: '{"marketoId": 1e309, "as": "lead", "limit": 1e309}', invalid: true };
      case 6:
        return { text: '{"__proto__": {"polluted": true}, "enabled": true}', invalid: true };
      case 7:
        return { text: '{"constructor": {"prototype": {"polluted": true}}, "enabled": true}', invalid: true };
      case 8:
        return { text: '"just a string"', invalid: true };
      case 9:
        return { text: '[1, 2, 3]', invalid: true };
      case 10:
        return { text: '{"enabled": true, "enabled": false}', invalid: false };
      default:
        return {
          text: '{"settings": {"\\ud800": "\\udfff\\u0000", "emoji": "\u{1F600}", "rtl": "\u202Eevil"}}',
          invalid: false,
        };
    }
  }

  /**
   * Mutates a valid JSON value: wrong types, missing and extra fields, hostile keys. `invalid`: the result
   * certainly breaks `schema` (or a rule every body follows), so no route may accept it.
   */
  mutate(value: unknown, schema: JsonSchema | undefined): { value: unknown; invalid: boolean } {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { value: this.wrong(schema), invalid: schema?.type !== undefined };
    }
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(out);
    const declared = (key: string) => schema?.properties?.[key];
    switch (this.int(7)) {
      case 0: {
        // A wrong type for one field.
        const key = keys.length > 0 ? this.pick(keys) : 'x';
        out[key] = this.wrong(declared(key));
        return { value: out, invalid: declared(key)?.type !== undefined || schema?.additionalProperties === false };
      }
      case 1: {
        const key = keys.length > 0 ? this.pick(keys) : undefined;
        if (key) delete out[key];
        const required = key !== undefined && (schema?.required ?? []).includes(key);
        return { value: out, invalid: required || (key !== undefined && keys.length === 1) };
      }
      case 2:
        out[this.pick(['extra', 'colour', 'isAdmin', 'id'])] = this.pick([1, 'x', null, { y: 1 }]);
        return { value: out, invalid: schema?.additionalProperties === false };
      case 3: {
        const key = this.pick(['$where', 'a.b', '', '$set', 'x\u0000y', 'constructor', 'prototype', '__proto__']);
        const inner = { [key]: this.pick([1, 'sleep(1000)', { $gt: '' }]) };
        // `__proto__` must be an own property of the sent JSON: build it as text, not through an object literal.
        out['settings'] = key === '__proto__' ? JSON.parse(`{"__proto__": ${JSON.stringify(inner[key])}}`) : inner;
        return { value: out, invalid: true };
      }
      case 4:
        out[keys.length > 0 ? this.pick(keys) : 'x'] = this.pick([
          '\u{1F600}'.repeat(50),
          '\u202E\u0000',
          'ʻOkina ʻāina',
          'x'.repeat(10_000),
          '<script>alert(1)</script>',
          '{"$gt": ""}',
        ]);
        return { value: out, invalid: false };
      case 5:
        return { value: this.pick([null, [], [value], 'string', 42, true]), invalid: schema?.type === 'object' };
      default:
        return {
          value: {},
          invalid: (schema?.required ?? []).length > 0 || (schema?.minProperties ?? 0) > 0,
        };
    }
  }
}

// ---- checks ---------------------------------------------------------------------------------------------

/** A V8 stack frame (`at fn (file:1:2)`), or internals that only an uncaught error would show. */
const STACK = /\bat (?:async )?[^\s()]+ \([^()]*:\d+:\d+\)|\bat [^\s()]+:\d+:\d+|node:internal\//;
const INTERNAL_PATH = /node_modules\/|\/dist\/src\/|\/src\/[\w/-]+\.ts\b/;
const INTERNAL_NAMES = /\bMongo[A-Z]\w*Error\b|\bFST_ERR_\w+|\bERR_[A-Z_]{4,}\b/;

function leakIn(body: string, options: FuzzOptions): string | undefined {
  if (body.length === 0) return undefined;
  if (body.includes(options.token)) return 'the admin token';
  for (const secret of options.secrets ?? []) if (secret && body.includes(secret)) return 'a secret';
  for (const path of options.serverPaths ?? []) if (path && body.includes(path)) return `a server path (${path})`;
  if (STACK.test(body)) return 'a stack trace';
  if (INTERNAL_PATH.test(body)) return 'a source file path';
  const name = INTERNAL_NAMES.exec(body);
  if (name) return `an internal error name (${name[0]})`;
  return undefined;
}

/** Bodies worth reading for leaks: JSON and text, not the Swagger UI's own scripts and styles. */
function readable(headers: IncomingHttpHeaders): boolean {
  const type = String(headers['content-type'] ?? '');
  return type === '' || /json|text\/plain/.test(type);
}

// ---- the run ------------------------------------------------------------------------------------------

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

/** Routes anyone may call (CONTRACT.md): liveness, the API documentation and the dashboard's static files. */
const PUBLIC = /^\/(health|docs|docs\/.*|ui|ui\/.*)(\?.*)?$/;

interface Generated {
  req: RawRequest;
  /** The request certainly breaks the API's rules: a 2xx answer to it is a finding. */
  invalid: boolean;
  /** Sent with the right token (an unauthenticated request to a non-public route must get a 401). */
  authenticated: boolean;
}

export async function fuzzApi(options: FuzzOptions): Promise<FuzzFigures> {
  const base = new URL(options.baseUrl);
  const concurrency = options.concurrency ?? 4;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const auth = { authorization: `Bearer ${options.token}` };
  try {
    const docResponse = await send(base, agent, { method: 'GET', path: '/docs/json', headers: auth }, timeoutMs);
    if (docResponse.status !== 200) throw new Error(`GET /docs/json answered ${docResponse.status}`);
    const operations = operationsOf(JSON.parse(docResponse.body) as OpenApiDocument);
    const known = await knownIds(base, agent, auth, timeoutMs);
    const gen = new Generator(mulberry32(options.seed), known);
    const generated = Array.from({ length: options.count }, () => generate(gen, operations, options.token));

    const figures: FuzzFigures = {
      requests: 0,
      serverErrors: 0,
      nonProblemErrors: 0,
      leaks: 0,
      acceptedInvalid: 0,
      authBypasses: 0,
      findings: [],
    };
    const note = (finding: FuzzFinding) => {
      if (figures.findings.filter((f) => f.kind === finding.kind).length < 5) figures.findings.push(finding);
    };
    let next = 0;
    const worker = async () => {
      while (next < generated.length) {
        const { req, invalid, authenticated } = generated[next++] as Generated;
        figures.requests++;
        const shown = req.path.length > 160 ? `${req.path.slice(0, 160)}…` : req.path;
        const finding = (kind: FuzzFinding['kind'], status: number, detail: string) =>
          note({ kind, method: req.method, path: shown, status, detail });
        let response: RawResponse;
        try {
          response = await send(base, agent, req, timeoutMs);
        } catch (error) {
          figures.serverErrors++;
          finding('server-error', 0, error instanceof Error ? error.message : String(error));
          continue;
        }
        const excerpt = response.body.slice(0, 300);
        const type = String(response.headers['content-type']);
        if (response.status >= 500) {
          figures.serverErrors++;
          finding('server-error', response.status, excerpt);
        }
        if (response.status >= 400 && !/^application\/problem\+json/.test(type)) {
          figures.nonProblemErrors++;
          finding('non-problem-error', response.status, `${type}: ${excerpt}`);
        }
        const leak = readable(response.headers) ? leakIn(response.body, options) : undefined;
        if (leak) {
          figures.leaks++;
          finding('leak', response.status, `${leak}: ${excerpt}`);
        }
        if (invalid && response.status >= 200 && response.status < 300) {
          figures.acceptedInvalid++;
          finding(
            'accepted-invalid',
            response.status,
            `${req.body === undefined ? '' : String(req.body).slice(0, 200)} → ${excerpt}`,
          );
        }
        if (!authenticated && !PUBLIC.test(req.path) && response.status !== 401) {
          figures.authBypasses++;
          finding('auth-bypass', response.status, excerpt);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return figures;
  } finally {
    agent.destroy();
  }
}

/** Ids that exist, so that most requests get past "not found" into validation and the handlers. */
async function knownIds(
  base: URL,
  agent: Agent,
  auth: Record<string, string>,
  timeoutMs: number,
): Promise<Map<string, string[]>> {
  const read = async (path: string): Promise<Array<Record<string, unknown>>> => {
    const response = await send(base, agent, { method: 'GET', path, headers: auth }, timeoutMs).catch(() => null);
    if (!response || response.status !== 200) return [];
    const parsed = JSON.parse(response.body) as unknown;
    return Array.isArray(parsed) ? (parsed as Array<Record<string, unknown>>) : [];
  };
  const ids = (items: Array<Record<string, unknown>>) => items.map((i) => String(i['id']));
  const pipelines = ids(await read('/v1/pipelines'));
  const policies = ids((await read('/v1/plugins')).filter((p) => p['kind'] === 'policy'));
  const first = pipelines[0];
  const runs = first === undefined ? [] : ids(await read(`/v1/pipelines/${encodeURIComponent(first)}/runs`));
  return new Map([
    ['id', pipelines],
    ['policyId', policies],
    ['runId', runs],
  ]);
}

function fillPath(gen: Generator, op: Operation, hostile: boolean): string {
  const names = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
  const spoiled = hostile && names.length > 0 ? gen.pick(names) : undefined;
  return op.path.replace(/\{(\w+)\}/g, (_m, name: string) =>
    name === spoiled ? gen.hostilePathValue() : gen.pathValue(name),
  );
}

/** Integer parameters: each of these breaks "a plain decimal integer in range". */
const BAD_INTEGERS = ['Infinity', '-Infinity', '1e309', '0x10', '1e3', '1.5', '-1', '0', '', 'abc'];
const MORE_BAD_INTEGERS = ['99999999999999999999', '%205', '5%20', '%2B5', '+5', '0b11', '%00', 'NaN', '0o7', '%D9%A3'];

function queryOf(gen: Generator, op: Operation, hostile: boolean): { query: string; invalid: boolean } {
  const params = op.parameters.filter((p) => p.in === 'query');
  const parts: string[] = [];
  let invalid = false;
  for (const p of params) {
    if (!gen.chance(hostile ? 0.7 : 0.4)) continue;
    const type = p.schema?.type;
    let value: string;
    if (hostile && (type === 'integer' || type === 'number')) {
      value = gen.pick(gen.chance(0.6) ? BAD_INTEGERS : MORE_BAD_INTEGERS);
      invalid = true;
    } else if (hostile) {
      value = gen.pick(['', '%00', '%ZZ', 'x'.repeat(5000), '%F0%9F%98%80', '%7B%22%24gt%22%3A%22%22%7D', 'a%2Fb']);
    } else {
      value = encodeURIComponent(String(gen.valid(p.schema)));
    }
    parts.push(`${p.name}=${value}`);
    if (hostile && gen.chance(0.2)) {
      // The same parameter twice: an array where one value is expected.
      parts.push(`${p.name}=${value}`);
      invalid = true;
    }
  }
  if (hostile && gen.chance(0.3)) {
    parts.push(
      gen.pick([
        '__proto__[polluted]=1',
        'constructor[prototype][polluted]=1',
        'unknown=1',
        '%24where=1',
        'a.b=1',
        'limit[]=1',
        'limit[$gt]=1',
      ]),
    );
  }
  return { query: parts.length > 0 ? `?${parts.join('&')}` : '', invalid };
}

const UNKNOWN_PATHS = [
  '/v1/nothing',
  '/v1/pipelines/default/nothing',
  '/../../etc/passwd',
  '/v1/%ZZ',
  '/v2/pipelines',
  '//v1//pipelines',
  '/v1/pipelines/',
  '/docs/static/../../package.json',
  '/docs/static/%2e%2e/%2e%2e/package.json',
  '/.env',
  '/v1/pipelines/default/policies/',
  '/' + 'a/'.repeat(300),
];

const ODD_CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/xml',
  'application/problem+json',
  '',
  'application/json, text/plain',
];

/** One request: mostly an operation of the document with something wrong in it, sometimes a wrong route. */
function generate(gen: Generator, operations: readonly Operation[], token: string): Generated {
  const op = gen.pick(operations);
  const headers: Record<string, string> = {};
  // Authorization: mostly right (to reach validation), sometimes missing, wrong or malformed.
  const authRoll = gen.random();
  if (authRoll < 0.8) headers['authorization'] = `Bearer ${token}`;
  else if (authRoll < 0.87) headers['authorization'] = `Bearer ${token}x`;
  else if (authRoll < 0.92)
    headers['authorization'] = gen.pick(['Basic YWRtaW46YWRtaW4=', 'Bearer', 'Bearer ' + 'A'.repeat(8000), token]);
  const authenticated = authRoll < 0.8;

  const kind = gen.int(20);
  if (kind === 5) {
    return { req: { method: gen.pick(METHODS), path: gen.pick(UNKNOWN_PATHS), headers }, invalid: true, authenticated };
  }
  // Independent rolls, so that a request can be wrong in several ways at once.
  let method = op.method;
  let invalid = false;
  if (kind < 2) {
    // A method the path does not have.
    const have = new Set(operations.filter((o) => o.path === op.path).map((o) => o.method));
    method = gen.pick(METHODS.filter((m) => !have.has(m) && !(m === 'HEAD' && have.has('GET'))));
    invalid = true;
  }
  const hostilePath = kind >= 2 && kind < 5;
  const query = queryOf(gen, op, gen.chance(0.3));
  invalid ||= query.invalid;

  let body: string | undefined;
  let contentType: string | undefined;
  if (op.body || kind >= 17) {
    const roll = gen.int(6);
    if (roll === 0 && op.body) body = JSON.stringify(gen.valid(op.body));
    else if (roll <= 2) {
      const mutated = gen.mutate(gen.valid(op.body), op.body);
      body = JSON.stringify(mutated.value);
      invalid ||= mutated.invalid && op.body !== undefined;
    } else {
      const hostile = gen.hostileBodyText();
      body = hostile.text;
      invalid ||= hostile.invalid && op.body !== undefined;
    }
    contentType = gen.chance(0.85) ? 'application/json' : gen.pick(ODD_CONTENT_TYPES);
    if (contentType !== 'application/json' && op.body) invalid = true;
    if (!op.body && gen.chance(0.5)) {
      body = undefined;
      contentType = undefined;
    }
  }
  if (contentType) headers['content-type'] = contentType;
  return {
    req: {
      method,
      path: fillPath(gen, op, hostilePath) + query.query,
      headers,
      ...(body === undefined ? {} : { body }),
    },
    invalid,
    authenticated,
  };
}
