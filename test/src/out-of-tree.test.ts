/**
 * Any two connectors form a pipeline, including one published outside this repository: the example connector
 * (`examples/connector-toy`) is copied into a directory of its own, with `@tandem/core` only as a peer
 * dependency, loaded through TANDEM_PLUGINS, and paired with the Marketo sandbox over REST. It syncs both ways:
 * the initial match by email, edits both ways, a collision decided by `collision-authority` naming the winner by
 * connection id, a delete, and idle cycles that write nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTandem, type RunningTandem } from '@tandem/core';
import { startTestMongo, samplePerson, type TestMongo } from '@tandem/core/testing';
import { MarketoSandbox } from '@tandem/sandbox-marketo';
import { marketoPerson, silent, TOKEN, type Run } from './harness';

const ROOT = resolve(__dirname, '../../..');

interface ToyServer {
  url: string;
  add(values: Record<string, unknown>): string;
  edit(id: string, values: Record<string, unknown>): void;
  remove(id: string): void;
  list(): Array<Record<string, unknown> & { id: string }>;
  close(): Promise<void>;
}

let mongo: TestMongo;
let dir: string;
before(async () => {
  mongo = await startTestMongo();
  // The package as a user would install it: its own directory, its peers (core, typebox) provided by the host.
  dir = mkdtempSync(join(tmpdir(), 'tandem-toy-'));
  cpSync(join(ROOT, 'examples/connector-toy'), join(dir, 'tandem-connector-toy'), { recursive: true });
  mkdirSync(join(dir, 'node_modules/@tandem'), { recursive: true });
  symlinkSync(join(ROOT, 'core'), join(dir, 'node_modules/@tandem/core'), 'dir');
  symlinkSync(join(ROOT, 'node_modules/@sinclair'), join(dir, 'node_modules/@sinclair'), 'dir');
});
after(async () => {
  await mongo.stop();
  rmSync(dir, { recursive: true, force: true });
});

const email = (i: number) => samplePerson(i).email;

test('a connector from outside the repository syncs with Marketo both ways, by REST alone', async () => {
  const { startToyServer } = (await import(join(dir, 'tandem-connector-toy/server.js'))) as {
    startToyServer(): Promise<ToyServer>;
  };
  const toy = await startToyServer();
  const marketo = new MarketoSandbox({ limits: {} });
  const running = await marketo.start({});
  let tandem: RunningTandem | undefined;
  try {
    for (const i of [0, 1, 2]) marketo.createPerson(marketoPerson(i));
    const p = (i: number) => samplePerson(i);
    toy.add({ email: ` ${p(1).email.toUpperCase()} `, firstName: 'Toy', lastName: p(1).lastName, title: null });
    toy.add({ email: p(3).email, firstName: p(3).firstName, lastName: p(3).lastName, title: p(3).title });

    tandem = await startTandem({
      env: {
        TANDEM_API_TOKEN: TOKEN,
        LOG_LEVEL: 'silent',
        TANDEM_PLUGINS: join(dir, 'tandem-connector-toy'),
        TOY_URL: toy.url,
        ...running.env,
      },
      mongoUri: mongo.uri,
      dbName: mongo.freshDbName('toy'),
      port: 0,
      logger: silent,
      schedule: false,
    });
    const api = async <T>(method: string, path: string, body?: unknown) => {
      const response = await fetch(`${tandem?.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
    };
    const cycle = async (): Promise<Run> => {
      const started = await api<{ runId: string }>('POST', '/v1/pipelines/toy-marketo/runs');
      assert.equal(started.status, 202, JSON.stringify(started.body));
      for (;;) {
        const run = await api<Run>('GET', `/v1/runs/${started.body.runId}`);
        if (run.body.status !== 'running') return run.body;
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    const plugins = await api<Array<{ id: string; package: string }>>('GET', '/v1/plugins');
    assert.ok(plugins.body.some((x) => x.id === 'toy' && x.package === 'tandem-connector-toy'));
    const connections = await api<Array<{ id: string }>>('GET', '/v1/connections');
    assert.deepEqual(connections.body.map((c) => c.id).sort(), ['marketo', 'toy']);

    const field = (toyField: string, marketoField: string) => ({
      toy: toyField,
      marketo: marketoField,
      direction: 'both',
    });
    const created = await api('POST', '/v1/pipelines', {
      id: 'toy-marketo',
      sides: { toy: { objects: ['person'] }, marketo: { objects: ['lead'] } },
      mappings: {
        objects: [
          {
            toy: 'person',
            marketo: 'lead',
            fields: [
              field('email', 'email'),
              field('firstName', 'firstName'),
              field('lastName', 'lastName'),
              field('title', 'title'),
            ],
          },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    // Initial sync: person 1 matched by email (typed differently), 0 and 2 created in Toy, 3 in Marketo.
    let run = await cycle();
    assert.equal(run.status, 'succeeded', run.error);
    for (const i of [0, 1, 2, 3]) {
      assert.equal(
        toy.list().filter((x) => String(x['email']).trim().toLowerCase() === email(i)).length,
        1,
        `person ${i} once in Toy`,
      );
      assert.equal(
        marketo.listPersons().filter((x) => x.values['email'] === email(i)).length,
        1,
        `person ${i} once in Marketo`,
      );
    }
    const toyOf = (i: number) =>
      toy.list().find((x) => String(x['email']).trim().toLowerCase() === email(i)) as { id: string } & Record<
        string,
        unknown
      >;
    const marketoOf = (i: number) => marketo.listPersons().find((x) => x.values['email'] === email(i));
    assert.equal(toyOf(1)['title'], p(1).title, 'a blank filled from the other side on first link');

    // Edits both ways.
    toy.edit(toyOf(0).id, { firstName: 'Edited in Toy' });
    marketo.editPerson(marketoOf(3)?.id ?? 0, { title: 'Edited in Marketo' });
    run = await cycle();
    assert.equal(run.counts['updated'], 2, JSON.stringify(run.counts));
    assert.equal(marketoOf(0)?.values['firstName'], 'Edited in Toy');
    assert.equal(toyOf(3)['title'], 'Edited in Marketo');

    // A collision, decided by collision-authority with the winner named by connection id.
    const policy = await api('PATCH', '/v1/pipelines/toy-marketo/policies/collision-authority', {
      settings: { objects: { lead: { winner: 'toy' } } },
    });
    assert.equal(policy.status, 200, JSON.stringify(policy.body));
    toy.edit(toyOf(2).id, { title: 'Toy title' });
    marketo.editPerson(marketoOf(2)?.id ?? 0, { title: 'Marketo title' });
    run = await cycle();
    assert.equal(run.counts['conflicts'], 1);
    assert.equal(marketoOf(2)?.values['title'], 'Toy title');
    assert.equal(toyOf(2)['title'], 'Toy title');

    // A delete in Toy: the link is marked deleted and the person is never created there again.
    toy.remove(toyOf(1).id);
    run = await cycle();
    assert.equal(run.counts['deleted'], 1);
    marketo.editPerson(marketoOf(1)?.id ?? 0, { title: 'Still in Marketo' });
    await cycle();
    assert.equal(toy.list().filter((x) => String(x['email']).trim().toLowerCase() === email(1)).length, 0);

    // Two idle cycles write nothing.
    for (let i = 0; i < 2; i++) {
      const idle = await cycle();
      assert.equal((idle.counts['created'] ?? 0) + (idle.counts['updated'] ?? 0), 0, JSON.stringify(idle.counts));
    }
  } finally {
    await tandem?.close();
    await marketo.close();
    await toy.close();
  }
});
