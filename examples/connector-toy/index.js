'use strict';
/**
 * An example Tandem connector, written as anyone would publish one: a plain npm package with a `"tandem"`
 * manifest in its package.json, `@tandem/core` as a peer dependency, and a definition made with
 * `defineConnector`. It syncs the people of the toy system in `server.js` (object type `person`) with any other
 * connection. The README's "Write a connector" guide walks through it.
 */
const { Type } = require('@sinclair/typebox');
const { defineConnector, PluginTokens, TandemError, ConnectorRequestError } = require('@tandem/core/plugin');

const OBJECT = 'person';
const FIELDS = ['email', 'firstName', 'lastName', 'title'];

class ToyConnector {
  constructor(config) {
    this.id = 'toy';
    this.label = 'Toy';
    this.objectTypes = [OBJECT];
    this.url = config.url.replace(/\/$/, '');
    this.pageSize = config.pageSize;
  }

  /** One JSON request to the toy system; a failure of the request itself is a ConnectorRequestError. */
  async call(method, path, body, signal) {
    signal?.throwIfAborted();
    let response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new ConnectorRequestError(`Toy at ${this.url} cannot be reached (check TOY_URL): ${error.message}`, {
        cause: error,
      });
    }
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  async check(signal) {
    const { status, body } = await this.call('GET', '/', undefined, signal);
    if (status !== 200) return { ok: false, message: `Toy answered ${status}` };
    // Which instance answers: a different one behind the same configuration stops the pipeline (no mix-ups).
    return { ok: true, identity: 'toy-sync-user', instance: body.instance };
  }

  async describe(objectType) {
    this.assertObject(objectType);
    const field = (name, type = 'string') => ({ name, type, readable: true, creatable: true, updatable: true });
    return {
      objectType,
      idField: 'id',
      emailField: 'email',
      fields: [
        { ...field('id'), creatable: false, updatable: false },
        field('email', 'email'),
        ...FIELDS.slice(1).map((f) => field(f)),
      ],
    };
  }

  assertObject(objectType) {
    if (objectType !== OBJECT)
      throw new TandemError('BAD_REQUEST', `Toy has no object type "${objectType}"`, { status: 400 });
  }

  assertFields(fields) {
    const unknown = fields.find((f) => f !== 'id' && !FIELDS.includes(f));
    if (unknown) throw new TandemError('UNKNOWN_FIELD', `Toy has no field "${unknown}"`, { status: 400 });
  }

  /** A toy person as the engine wants it: only the fields asked for, a blank one as null. */
  record(person, fields) {
    return {
      id: person.id,
      fields: Object.fromEntries(fields.filter((f) => f !== 'id').map((f) => [f, person[f] ?? null])),
    };
  }

  /** Changes since the cursor (a sequence number), a page at a time; the cursor is stored once a page is saved. */
  async *readChanges(objectType, cursor, options) {
    this.assertObject(objectType);
    this.assertFields(options.fields);
    let since = cursor === null ? 0 : Number(cursor);
    for (;;) {
      const { body } = await this.call(
        'GET',
        `/people?since=${since}&limit=${this.pageSize}`,
        undefined,
        options.signal,
      );
      since = body.last;
      yield {
        records: body.people.filter((p) => !p.deleted).map((p) => this.record(p, options.fields)),
        deletedIds: body.people.filter((p) => p.deleted).map((p) => p.id),
        cursor: String(since),
        done: !body.more,
      };
      if (!body.more) return;
    }
  }

  async get(objectType, ids, options) {
    this.assertObject(objectType);
    this.assertFields(options.fields);
    if (ids.length === 0) return [];
    const { body } = await this.call('POST', '/people/lookup', { ids }, options.signal);
    return body.people.map((p) => this.record(p, options.fields));
  }

  async findByEmail(objectType, emails, options) {
    this.assertObject(objectType);
    this.assertFields(options.fields);
    if (emails.length === 0) return [];
    const { body } = await this.call('POST', '/people/lookup', { emails }, options.signal);
    return body.people.map((p) => this.record(p, options.fields));
  }

  /** One result per op, in order: a refusal is a result (`rejected`), not a throw. */
  async write(objectType, ops, options = {}) {
    this.assertObject(objectType);
    for (const op of ops) this.assertFields(Object.keys(op.fields));
    const results = [];
    for (const op of ops) {
      const { status, body } =
        op.kind === 'create'
          ? await this.call('POST', '/people', op.fields, options.signal)
          : await this.call('PATCH', `/people/${encodeURIComponent(op.id)}`, op.fields, options.signal);
      if (status === 201 || status === 204) {
        results.push({
          ref: op.ref,
          status: op.kind === 'create' ? 'created' : 'updated',
          id: op.kind === 'create' ? body.id : op.id,
        });
      } else if (status === 400) {
        results.push({ ref: op.ref, status: 'rejected', code: 'INVALID', message: body.error });
      } else if (status === 404) {
        results.push({ ref: op.ref, status: 'not-found', message: 'the person no longer exists' });
      } else {
        results.push({
          ref: op.ref,
          status: 'failed',
          code: String(status),
          message: `Toy answered ${status}`,
          retryable: status >= 500,
        });
      }
    }
    return results;
  }
}

module.exports.default = defineConnector({
  id: 'toy',
  configSchema: Type.Object(
    {
      url: Type.String({ pattern: '^https?://', description: 'The toy system, e.g. http://127.0.0.1:4100' }),
      pageSize: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    },
    { additionalProperties: false },
  ),
  env: [{ variable: 'TOY_URL', key: 'url', description: 'The toy system (see server.js)' }],
  register(container) {
    container.register(PluginTokens.Connector, {
      useFactory: (c) => new ToyConnector(c.resolve(PluginTokens.Config)),
    });
  },
});
