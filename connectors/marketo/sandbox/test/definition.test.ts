/**
 * The sandbox package as core loads it (`defineSandbox`), its vanilla and extended lead schema, HTTPS with its
 * private CA, and the standalone CLI.
 */
import { spawn } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSandboxDefinition } from '@tandem/core/plugin';
import definition, { MarketoSandbox, STANDARD_FIELDS } from '../src';
import { Client, errorCode, results } from './http';

test('the default export is a sandbox definition for the marketo connector', () => {
  assert.ok(isSandboxDefinition(definition));
  assert.equal(definition.connector, 'marketo');
});

test('start answers the documented environment, its origin as instance id, and seeds on request', async () => {
  const running = await definition.start({ seed: true });
  try {
    assert.match(running.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(Object.keys(running.env).sort(), [
      'MARKETO_BASE_URL',
      'MARKETO_CLIENT_ID',
      'MARKETO_CLIENT_SECRET',
    ]);
    assert.equal(running.env.MARKETO_BASE_URL, running.url);
    assert.equal(running.instanceId, new URL(running.url).origin);
    assert.equal(running.caPem, undefined, 'plain HTTP: no CA');
    const token = await fetch(
      `${running.url}/identity/oauth/token?grant_type=client_credentials&client_id=${running.env.MARKETO_CLIENT_ID}&client_secret=${running.env.MARKETO_CLIENT_SECRET}`,
    );
    const { access_token } = (await token.json()) as { access_token: string };
    const leads = await fetch(`${running.url}/rest/v1/leads.json?filterType=id&filterValues=1,300,301`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    const body = (await leads.json()) as { result: Array<{ id: number }> };
    assert.deepEqual(
      body.result.map((l) => l.id),
      [1, 300],
      'SANDBOX_SEED.people: 300 people',
    );
  } finally {
    await running.close();
  }
  await assert.rejects(definition.start({ instanceId: '123-ABC-456' }), /named by its URL/);
});

async function describe2(sandbox: MarketoSandbox): Promise<{ fields: string[]; searchable: string[][] }> {
  const running = await sandbox.start({});
  try {
    const c = new Client(running.url, sandbox);
    await c.authenticate();
    const [api] = results(await c.http('GET', '/rest/v1/leads/describe2.json'));
    return {
      fields: (api?.fields as Array<{ name: string }>).map((f) => f.name),
      searchable: api?.searchableFields as string[][],
    };
  } finally {
    await running.close();
  }
}

test('vanilla: the standard fields only; searchableFields as Get Leads by Filter Type documents them', async () => {
  const { fields, searchable } = await describe2(new MarketoSandbox());
  assert.deepEqual(
    fields,
    STANDARD_FIELDS.map((f) => f.name),
  );
  // Marketo's list of standard fields, each by its REST name (list-of-standard-fields.md).
  for (const name of [
    'address',
    'annualRevenue',
    'dateOfBirth',
    'emailInvalid',
    'numberOfEmployees',
    'website',
    'urgency',
  ])
    assert.ok(fields.includes(name), name);
  assert.ok(!fields.includes('microsoftType') && !fields.includes('microsoftIsDeleted'));
  assert.deepEqual(searchable, [
    ['cookies'],
    ['email'],
    ['facebookId'],
    ['id'],
    ['leadPartitionId'],
    ['linkedInId'],
    ['sfdcAccountId'],
    ['sfdcContactId'],
    ['sfdcLeadId'],
    ['sfdcLeadOwnerId'],
    ['sfdcOpptyId'],
    ['twitterId'],
  ]);
});

test('extras: the Dynamics sync fields and a custom string field, which is searchable', async () => {
  const { fields, searchable } = await describe2(new MarketoSandbox({ extras: true }));
  assert.ok(
    fields.includes('microsoftType') && fields.includes('microsoftIsDeleted') && fields.includes('sandboxSegment'),
  );
  assert.deepEqual(searchable.slice(-2), [['microsoftType'], ['sandboxSegment']], 'custom string fields');
  assert.ok(!searchable.flat().includes('microsoftIsDeleted'), 'a boolean is no filter type');
});

test('a hidden field leaves Describe and answers 1006 where it is used', async () => {
  const sandbox = new MarketoSandbox({ extras: true });
  sandbox.createPerson({ email: 'a@example.com', microsoftType: 'lead' });
  const running = await sandbox.start({});
  try {
    const c = new Client(running.url, sandbox);
    await c.authenticate();
    assert.deepEqual(await c.http('POST', '/__sandbox/fields/microsoftType/hide', {}, false).then((a) => a.json), {
      hidden: true,
    });
    const [api] = results(await c.http('GET', '/rest/v1/leads/describe2.json'));
    assert.ok(!(api?.fields as Array<{ name: string }>).some((f) => f.name === 'microsoftType'));
    const read = await c.http('GET', '/rest/v1/leads.json?filterType=id&filterValues=1&fields=email,microsoftType');
    assert.equal(errorCode(read.json), '1006');
    const write = await c.http('POST', '/rest/v1/leads.json', {
      action: 'updateOnly',
      lookupField: 'id',
      input: [{ id: 1, microsoftType: 'contact' }],
    });
    assert.deepEqual(results(write)[0], {
      status: 'skipped',
      reasons: [{ code: '1006', message: "Field 'microsoftType' not found" }],
    });
  } finally {
    await running.close();
  }
});

test('https: true serves HTTPS with a private CA, given back as caPem', async () => {
  const sandbox = new MarketoSandbox();
  const running = await sandbox.start({ https: true });
  try {
    assert.match(running.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(running.caPem ?? '', /BEGIN CERTIFICATE/);
    const get = (ca?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          `${running.url}/identity/oauth/token?grant_type=client_credentials&client_id=${sandbox.clientId}&client_secret=${sandbox.clientSecret}`,
          { ...(ca ? { ca } : {}) },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.once('error', reject);
        req.end();
      });
    assert.equal(await get(running.caPem), 200);
    await assert.rejects(get(), /self-signed|certificate/);
  } finally {
    await running.close();
  }
});

test('the CLI starts a standalone sandbox and prints the running sandbox as one JSON line', async () => {
  const child = spawn(process.execPath, [join(__dirname, '..', 'src', 'cli.js'), '--port', '0', '--people', '7']);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`cli exited with ${code}`)));
    });
    const info = JSON.parse(line) as { url: string; instanceId: string; env: Record<string, string> };
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.instanceId, info.url);
    const tokenAnswer = await fetch(
      `${info.env.MARKETO_BASE_URL}/identity/oauth/token?grant_type=client_credentials&client_id=${info.env.MARKETO_CLIENT_ID}&client_secret=${info.env.MARKETO_CLIENT_SECRET}`,
    );
    const { access_token } = (await tokenAnswer.json()) as { access_token: string };
    assert.ok(access_token);
    const persons = await fetch(`${info.url}/__sandbox/persons`);
    assert.equal(((await persons.json()) as unknown[]).length, 7);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});
