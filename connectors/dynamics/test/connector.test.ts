/**
 * The connector against the sandbox over real HTTPS: the "Must show" list of issue 4.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { container } from 'tsyringe';
import pino from 'pino';
import { Registry } from 'prom-client';
import { sandboxConnectorConfig } from '@tandem/core';
import {
  isSandboxDefinition,
  isTandemError,
  PluginTokens,
  TandemError,
  type RemoteRecord,
  type WriteOp,
} from '@tandem/core/plugin';
import dynamicsConnector, { type DynamicsConnector } from '../src/index';
import { authMode, type DynamicsConfig } from '../src/config';
import { collect, FIELDS, startHarness, type Harness } from './helpers';

function cursorOf(c: string): { mode: string } {
  return JSON.parse(c) as { mode: string };
}

describe('dynamics connector', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ seed: true, extras: true });
  });
  after(async () => {
    await h.close();
  });

  describe('auth', () => {
    test('client credentials: check() calls WhoAmI as the application user', async () => {
      const c = h.connector();
      const r = await c.check();
      assert.equal(r.ok, true, r.message);
      assert.equal(r.identity, h.sandbox.store.users.app.id);
      assert.equal(c.stats().tokenRequests, 1);
      await c.check();
      assert.equal(c.stats().tokenRequests, 1, 'the token is cached by MSAL');
    });

    test('resource-owner password: used instead of client credentials when username+password are set', async () => {
      const c = h.connector({ username: h.started.username, password: h.started.password });
      const r = await c.check();
      assert.equal(r.ok, true, r.message);
      assert.equal(r.identity, h.sandbox.store.users.ropc.id);
    });

    test('wrong secret: check() reports the Entra error clearly', async () => {
      const r = await h.connector({ clientSecret: 'wrong' }).check();
      assert.equal(r.ok, false);
      assert.match(r.message ?? '', /invalid_client|7000215/);
    });

    test('config without a secret or username+password fails clearly', async () => {
      const bare = { ...h.config, clientSecret: undefined } as DynamicsConfig;
      assert.throws(
        () => authMode(bare),
        (e: unknown) => isTandemError(e) && e.code === 'BAD_CONFIG' && /DYNAMICS_CLIENT_SECRET/.test(e.message),
      );
      assert.throws(() => h.connector({ clientSecret: undefined }), /DYNAMICS_CLIENT_SECRET/);
      assert.throws(() => authMode({ ...bare, username: 'x' }), /together/);
      // The plugin's init() (run by the host at start) says the same before any request is made.
      const child = container.createChildContainer();
      child.register(PluginTokens.Config, { useValue: bare });
      await assert.rejects(
        dynamicsConnector.init?.(child) ?? Promise.resolve(),
        /DYNAMICS_USERNAME and DYNAMICS_PASSWORD/,
      );
    });

    test('HTTPS trust through NODE_EXTRA_CA_CERTS (no tlsCa), in a fresh process', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tandem-dyn-'));
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, h.started.caPem);
      const { tlsCa: _omit, ...config } = h.config;
      const script = `
        require('reflect-metadata');
        const { container } = require('tsyringe');
        const { PluginTokens } = require('@tandem/core/plugin');
        const { Registry } = require('prom-client');
        const pino = require('pino');
        const def = require(${JSON.stringify(join(__dirname, '..', 'src', 'index.js'))}).default;
        const child = container.createChildContainer();
        child.register(PluginTokens.Logger, { useValue: pino({ level: 'silent' }) });
        child.register(PluginTokens.Config, { useValue: JSON.parse(process.env.CFG) });
        child.register(PluginTokens.Metrics, { useValue: new Registry() });
        def.register(child);
        const c = child.resolve(PluginTokens.Connector);
        c.check().then(async (r) => { process.stdout.write(JSON.stringify(r)); await c.close(); });`;
      const run = (env: Record<string, string>) =>
        promisify(execFile)(process.execPath, ['-e', script], {
          cwd: join(__dirname, '..', '..'),
          env: { ...process.env, CFG: JSON.stringify(config), ...env },
        });
      const trusted = JSON.parse((await run({ NODE_EXTRA_CA_CERTS: caFile })).stdout) as {
        ok: boolean;
        identity?: string;
      };
      assert.equal(trusted.ok, true);
      assert.equal(trusted.identity, h.sandbox.store.users.app.id);
      const untrusted = JSON.parse((await run({ NODE_EXTRA_CA_CERTS: '' })).stdout) as {
        ok: boolean;
        message?: string;
      };
      assert.equal(untrusted.ok, false, 'without the CA the self-signed certificate is refused');
    });

    test('token expiry: 401 → token refreshed → request retried once, nothing lost', async () => {
      const c = h.connector();
      const ids = h.sandbox
        .list('contact')
        .slice(0, 3)
        .map((r) => r.id);
      await c.get('contact', ids, { fields: FIELDS });
      const unauthorizedBefore = h.sandbox.getCounters().unauthorized;
      h.sandbox.expireTokens();
      const records = await c.get('contact', ids, { fields: FIELDS });
      assert.equal(records.length, 3);
      assert.equal(h.sandbox.getCounters().unauthorized, unauthorizedBefore + 1);
      assert.equal(c.stats().unauthorizedRetries, 1);
      assert.equal(c.stats().tokenRequests, 2);
    });
  });

  describe('reading', () => {
    test('paging over more than one page, each page cursor resumes after that page', async () => {
      const c = h.connector({ pageSize: 30, changeTracking: 'off' });
      const pages = await collect(c.readChanges('contact', null, { fields: FIELDS }));
      assert.equal(pages.length, 3);
      assert.deepEqual(
        pages.map((p) => p.done),
        [false, false, true],
      );
      const ids = pages.flatMap((p) => p.records.map((r) => r.id));
      assert.equal(ids.length, 80);
      assert.equal(new Set(ids).size, 80);
      const first = pages[0]?.records[0] as RemoteRecord;
      assert.match(first.etag ?? '', /^W\/"\d+"$/);
      assert.ok(first.modifiedAt);
      assert.deepEqual(Object.keys(first.fields).sort(), [...FIELDS].sort());
      // Resuming from the first page's cursor reads pages 2 and 3 only.
      const resumed = await collect(c.readChanges('contact', pages[0]?.cursor ?? null, { fields: FIELDS }));
      assert.deepEqual(
        resumed.flatMap((p) => p.records.map((r) => r.id)),
        ids.slice(30),
      );
    });

    test('change tracking: the delta read returns only changes and deletes', async () => {
      const c = h.connector({ pageSize: 50 });
      const initial = await collect(c.readChanges('lead', null, { fields: FIELDS }));
      assert.equal(initial.length, 2, 'two pages of 50 for 60 leads');
      assert.equal(initial.flatMap((p) => p.records).length, 60);
      const last = initial[initial.length - 1];
      assert.ok(last?.done);
      assert.equal(cursorOf(last.cursor).mode, 'delta');
      const leads = h.sandbox.list('lead');
      const [a, b, gone] = leads;
      assert.ok(a && b && gone);
      h.sandbox.editRecord('lead', a.id, { jobtitle: 'VP Marketing' });
      h.sandbox.editRecord('lead', b.id, { firstname: 'Renamed' });
      h.sandbox.deleteRecord('lead', gone.id);
      const added = h.sandbox.create('lead', { lastname: 'New', emailaddress1: 'new.lead@example.com' });
      const delta = await collect(c.readChanges('lead', last.cursor, { fields: FIELDS }));
      assert.equal(delta.length, 1);
      const page = delta[0];
      assert.ok(page?.done);
      assert.deepEqual(page.records.map((r) => r.id).sort(), [a.id, b.id, added.id].sort());
      assert.equal(page.records.find((r) => r.id === a.id)?.fields.jobtitle, 'VP Marketing');
      assert.deepEqual(page.deletedIds, [gone.id]);
      const idle = await collect(c.readChanges('lead', page.cursor, { fields: FIELDS }));
      assert.equal(idle.length, 1);
      assert.deepEqual([idle[0]?.records.length, idle[0]?.deletedIds.length], [0, 0]);
      // An expired delta token is a CursorExpiredError: the engine starts a full read.
      h.sandbox.expireDeltaTokens();
      await assert.rejects(
        collect(c.readChanges('lead', idle[0]?.cursor ?? null, { fields: FIELDS })),
        (e: unknown) => isTandemError(e) && e.code === 'CURSOR_EXPIRED',
      );
    });

    test("loop guard: our own write comes back unread once the engine confirmed it, anyone else's change does not", async () => {
      const c = h.connector();
      const initial = await collect(c.readChanges('contact', null, { fields: FIELDS }));
      const cursor = initial[initial.length - 1]?.cursor ?? null;
      const [confirmed, unconfirmed, touched] = h.sandbox.list('contact');
      assert.ok(confirmed && unconfirmed && touched);
      const ops: WriteOp[] = [confirmed, unconfirmed, touched].map((r, i) => ({
        kind: 'update',
        ref: `r${i}`,
        id: r.id,
        fields: { jobtitle: `Written by Tandem ${i}` },
      }));
      const results = await c.write('contact', ops);
      assert.deepEqual(
        results.map((r) => r.status),
        ['updated', 'updated', 'updated'],
      );
      // The engine saved snapshots for two of them; the third's other side failed, so its echo must be read.
      c.inSync('contact', [confirmed.id, touched.id]);
      // Someone changes one of the confirmed records after our write: a new etag, a change like any other.
      h.sandbox.editRecord('contact', touched.id, { firstname: 'Edited after Tandem' });
      const delta = await collect(c.readChanges('contact', cursor, { fields: FIELDS }));
      assert.deepEqual(delta.flatMap((p) => p.records.map((r) => r.id)).sort(), [unconfirmed.id, touched.id].sort());
      assert.equal(c.stats().echoesSkipped, 1);
      // An echo is skipped once: read from the same cursor again (a retried cycle), the record comes back.
      const again = await collect(c.readChanges('contact', cursor, { fields: FIELDS }));
      assert.ok(again.flatMap((p) => p.records.map((r) => r.id)).includes(confirmed.id));
    });

    test('change tracking: a delta page filled by changed rows still leads to the deletes', async () => {
      const c = h.connector({ pageSize: 2 });
      const initial = await collect(c.readChanges('contact', null, { fields: FIELDS }));
      const cursor = initial[initial.length - 1]?.cursor ?? null;
      const [a, b, gone] = h.sandbox.list('contact');
      assert.ok(a && b && gone);
      h.sandbox.editRecord('contact', a.id, { jobtitle: 'Changed A' });
      h.sandbox.editRecord('contact', b.id, { jobtitle: 'Changed B' });
      h.sandbox.deleteRecord('contact', gone.id);
      const delta = await collect(c.readChanges('contact', cursor, { fields: FIELDS }));
      assert.deepEqual(delta.flatMap((p) => p.records.map((r) => r.id)).sort(), [a.id, b.id].sort());
      assert.deepEqual(
        delta.flatMap((p) => p.deletedIds),
        [gone.id],
      );
    });

    test('modifiedon watermark when change tracking is off for the table', async () => {
      h.sandbox.setChangeTracking('contact', false);
      try {
        const c = h.connector({ watermarkOverlapMs: 1000 });
        const initial = await collect(c.readChanges('contact', null, { fields: FIELDS }));
        const cursor = initial[initial.length - 1]?.cursor ?? '';
        assert.equal(cursorOf(cursor).mode, 'watermark');
        assert.equal(initial.flatMap((p) => p.records).length, h.sandbox.list('contact').length);
        const target = h.sandbox.list('contact')[5];
        assert.ok(target);
        // A salesperson's edit with a server clock 10 minutes ahead still lands after the watermark.
        h.sandbox.setClockSkew(10 * 60_000);
        h.sandbox.editRecord('contact', target.id, { jobtitle: 'Edited in Dynamics' });
        h.sandbox.setClockSkew(0);
        const next = await collect(c.readChanges('contact', cursor, { fields: FIELDS }));
        const changed = next.flatMap((p) => p.records);
        assert.equal(changed.find((r) => r.id === target.id)?.fields.jobtitle, 'Edited in Dynamics');
        // Only rows within the overlap of the last watermark are read again, and the watermark moves on.
        const again = await collect(
          c.readChanges('contact', next[next.length - 1]?.cursor ?? null, { fields: FIELDS }),
        );
        assert.deepEqual(
          again.flatMap((p) => p.records.map((r) => r.id)),
          [target.id],
        );
      } finally {
        h.sandbox.setChangeTracking('contact', true);
      }
    });

    test('get() by ids in chunks and findByEmail() case-insensitively with quotes', async () => {
      const c = h.connector();
      const ids = h.sandbox.list('contact').map((r) => r.id);
      const got = await c.get('contact', [...ids, 'not-a-guid', '00000000-0000-4000-8000-000000000000'], {
        fields: FIELDS,
      });
      assert.equal(got.length, ids.length);
      const obrien = h.sandbox.create('contact', {
        lastname: "O'Brien",
        emailaddress1: "Sean.O'Brien+tag@Example.com",
      });
      const found = await c.findByEmail('contact', ["  sean.o'brien+TAG@example.com ", 'nobody@example.com'], {
        fields: FIELDS,
      });
      assert.deepEqual(
        found.map((r) => r.id),
        [obrien.id],
      );
    });

    test('findByEmail: a clean stored email is found by a padded, upper-case one, in one request', async () => {
      const c = h.connector();
      await c.describe('contact');
      const made = h.sandbox.create('contact', { lastname: 'Clean', emailaddress1: 'clean.stored@example.com' });
      h.sandbox.resetCounters();
      const found = await c.findByEmail('contact', ['  CLEAN.Stored@Example.COM ', ' clean.STORED@example.com'], {
        fields: FIELDS,
      });
      assert.deepEqual(
        found.map((r) => r.id),
        [made.id],
      );
      assert.equal(h.sandbox.getCounters().requests, 1);
    });

    test('look-ups of hundreds of people take a few long requests, each URL within 32 KB', async () => {
      const c = h.connector();
      await c.check();
      const made = Array.from({ length: 600 }, (_, i) =>
        h.sandbox.create('contact', { lastname: `Lookup${i}`, emailaddress1: `lookup.person.${i}@example.com` }),
      );
      const emails = [
        ...made.map((r, i) => `Lookup.Person.${i}@Example.com`),
        ...made.map((_, i) => `nobody.by.that.name.${i}@example.com`),
      ];
      try {
        await c.describe('contact');
        h.sandbox.resetCounters();
        const found = await c.findByEmail('contact', emails, { fields: FIELDS });
        assert.deepEqual(new Set(found.map((r) => r.id)), new Set(made.map((r) => r.id)));
        // 1,200 emails, about 90 KB of encoded filter: 4 requests (at 50 emails per request it took 24). None
        // was refused, so each URL stayed within 32 KB.
        assert.equal(h.sandbox.getCounters().requests, 4);

        h.sandbox.resetCounters();
        const got = await c.get(
          'contact',
          made.map((r) => r.id),
          { fields: FIELDS },
        );
        assert.equal(got.length, 600);
        assert.equal(h.sandbox.getCounters().requests, 2);
      } finally {
        for (const r of made) h.sandbox.deleteRecord('contact', r.id);
      }
    });

    test('a secured column is reported as not readable and never blanked', async () => {
      const c = h.connector();
      const description = await c.describe('contact');
      const score = description.fields.find((f) => f.name === 'mkt_leadscore');
      assert.ok(score);
      assert.equal(score.secured, true);
      assert.equal(score.readable, false);
      assert.equal(score.updatable, false);
      assert.match(score.note ?? '', /column security/);
      const email = description.fields.find((f) => f.name === 'emailaddress1');
      assert.deepEqual([email?.type, email?.length, email?.readable], ['email', 100, true]);
      assert.equal(description.fields.find((f) => f.name === 'modifiedon')?.updatable, false);

      const row = h.sandbox.list('contact')[0];
      assert.ok(row && typeof row.values.mkt_leadscore === 'number', 'the sandbox holds a value');
      const [rec] = await c.get('contact', [row.id], { fields: [...FIELDS, 'mkt_leadscore'] });
      assert.ok(rec);
      assert.equal('mkt_leadscore' in rec.fields, false, 'absent (unknown), not null');
      assert.equal(rec.fields.lastname, row.values.lastname);

      // Once the user's field security profile grants read, the value comes through.
      h.sandbox.setFieldSecurity('app', 'contact', 'mkt_leadscore', { read: true, create: false, update: false });
      try {
        const c2 = h.connector();
        const d2 = await c2.describe('contact');
        assert.equal(d2.fields.find((f) => f.name === 'mkt_leadscore')?.readable, true);
        const [rec2] = await c2.get('contact', [row.id], { fields: ['mkt_leadscore'] });
        assert.equal(rec2?.fields.mkt_leadscore, row.values.mkt_leadscore);
        // Writing it without update permission is a rejected result (403), not an exception.
        const [w] = await c2.write('contact', [
          { kind: 'update', ref: 'r1', id: row.id, fields: { mkt_leadscore: 1 } },
        ]);
        assert.equal(w?.status, 'rejected');
      } finally {
        h.sandbox.setFieldSecurity('app', 'contact', 'mkt_leadscore', { read: false, create: false, update: false });
      }
    });

    test('each sync user has its own field security profile (ROPC user granted, app user not)', async () => {
      h.sandbox.setFieldSecurity('ropc', 'lead', 'mkt_leadscore', { read: true, create: true, update: true });
      try {
        const ropc = h.connector({ username: h.started.username, password: h.started.password });
        const app = h.connector();
        const [r] = (await ropc.describe('lead')).fields.filter((f) => f.name === 'mkt_leadscore');
        const [a] = (await app.describe('lead')).fields.filter((f) => f.name === 'mkt_leadscore');
        assert.deepEqual([r?.readable, r?.updatable], [true, true]);
        assert.deepEqual([a?.readable, a?.updatable], [false, false]);
        const lead = h.sandbox.list('lead')[3];
        assert.ok(lead);
        const [w] = await ropc.write('lead', [
          { kind: 'update', ref: 'x', id: lead.id, etag: lead.etag, fields: { mkt_leadscore: 99 } },
        ]);
        assert.equal(w?.status, 'updated');
        const [rec] = await ropc.get('lead', [lead.id], { fields: ['mkt_leadscore'] });
        assert.equal(rec?.fields.mkt_leadscore, 99);
      } finally {
        h.sandbox.setFieldSecurity('ropc', 'lead', 'mkt_leadscore', { read: false, create: false, update: false });
      }
    });
  });

  describe('writing', () => {
    test('1,000 creates in one $batch request', async () => {
      const c = h.connector();
      // The write checks its columns against the table's description, read once and cached (as any read does).
      await c.describe('lead');
      h.sandbox.resetCounters();
      const before = h.sandbox.list('lead').length;
      const ops: WriteOp[] = Array.from({ length: 1000 }, (_, i) => ({
        kind: 'create',
        ref: `c${i}`,
        fields: { lastname: `Bulk${i}`, emailaddress1: `bulk${i}@example.com`, companyname: 'Contoso' },
      }));
      const results = await c.write('lead', ops);
      assert.equal(results.length, 1000);
      assert.ok(results.every((r, i) => r.ref === `c${i}` && r.status === 'created' && r.id && r.etag));
      const counters = h.sandbox.getCounters();
      assert.equal(counters.batches, 1);
      assert.equal(counters.operations, 1000);
      assert.equal(counters.requests, 1);
      assert.equal(h.sandbox.list('lead').length, before + 1000);
      const first = results[0];
      assert.ok(first?.status === 'created');
      assert.equal(h.sandbox.get('lead', first.id)?.values.lastname, 'Bulk0');
    });

    test('writeMany: contact updates and lead creates share one $batch, results come back per group', async () => {
      const c = h.connector();
      await c.check();
      const [contact] = h.sandbox.list('contact');
      assert.ok(contact);
      h.sandbox.resetCounters();
      const [contacts, leads] = await c.writeMany([
        {
          objectType: 'contact',
          ops: [{ kind: 'update', ref: 'u1', id: contact.id, etag: contact.etag, fields: { jobtitle: 'Mixed' } }],
        },
        {
          objectType: 'lead',
          ops: [
            { kind: 'create', ref: 'l1', fields: { lastname: 'MixedA', companyname: 'Contoso' } },
            { kind: 'create', ref: 'l2', fields: { lastname: 'MixedB', companyname: 'Contoso' } },
          ],
        },
      ]);
      assert.deepEqual(
        contacts?.map((r) => [r.ref, r.status]),
        [['u1', 'updated']],
      );
      assert.deepEqual(
        leads?.map((r) => [r.ref, r.status]),
        [
          ['l1', 'created'],
          ['l2', 'created'],
        ],
      );
      const created = leads?.[1];
      assert.ok(created?.status === 'created');
      assert.equal(h.sandbox.get('lead', created.id)?.values.lastname, 'MixedB');
      assert.equal(h.sandbox.get('contact', contact.id)?.values.jobtitle, 'Mixed');
      const counters = h.sandbox.getCounters();
      assert.equal(counters.batches, 1);
      assert.equal(counters.operations, 3);
    });

    test('one rejected op in a batch while the others succeed', async () => {
      h.sandbox.addBusinessRule({
        entity: 'contact',
        column: 'jobtitle',
        equals: 'INVALID',
        message: "Job title must not be 'INVALID'.",
      });
      try {
        const c = h.connector();
        const existing = h.sandbox.list('contact')[1];
        assert.ok(existing);
        const results = await c.write('contact', [
          { kind: 'create', ref: 'ok1', fields: { lastname: 'Fine', jobtitle: 'CTO' } },
          { kind: 'create', ref: 'bad', fields: { lastname: 'Rule', jobtitle: 'invalid' } },
          { kind: 'create', ref: 'long', fields: { lastname: 'x'.repeat(51) } },
          { kind: 'create', ref: 'format', fields: { lastname: 'Bool', donotbulkemail: 'yes' } },
          { kind: 'update', ref: 'ok2', id: existing.id, etag: existing.etag, fields: { jobtitle: 'Buyer' } },
        ]);
        assert.deepEqual(
          results.map((r) => [r.ref, r.status]),
          [
            ['ok1', 'created'],
            ['bad', 'rejected'],
            ['long', 'rejected'],
            ['format', 'rejected'],
            ['ok2', 'updated'],
          ],
        );
        const bad = results[1];
        assert.ok(bad?.status === 'rejected');
        assert.equal(bad.code, '0x80040265');
        assert.equal(bad.message, "Job title must not be 'INVALID'.");
        const long = results[2];
        assert.ok(long?.status === 'rejected');
        assert.equal(long.code, '0x80044331');
        assert.match(long.message, /exceeded the maximum allowed length of '50'/);
        assert.equal(h.sandbox.get('contact', existing.id)?.values.jobtitle, 'Buyer');
      } finally {
        h.sandbox.clearBusinessRules();
      }
    });

    test('a column the table does not have, in any op: UNKNOWN_FIELD naming it, nothing sent', async () => {
      const c = h.connector();
      await c.describe('contact');
      await c.describe('lead');
      const [contact] = h.sandbox.list('contact');
      assert.ok(contact);
      const leads = h.sandbox.list('lead').length;
      const unknownColumn = (e: unknown) =>
        isTandemError(e) &&
        e.code === 'UNKNOWN_FIELD' &&
        /no_such_column/.test(e.message) &&
        JSON.stringify(e.details?.fields) === '["no_such_column"]';
      h.sandbox.resetCounters();
      await assert.rejects(
        c.write('lead', [
          { kind: 'create', ref: 'ok', fields: { lastname: 'NeverWritten', companyname: 'Contoso' } },
          { kind: 'create', ref: 'bad', fields: { lastname: 'Bad', no_such_column: 'x' } },
        ]),
        unknownColumn,
      );
      // writeMany: the column in the second group stops the first group too (they would share a $batch).
      await assert.rejects(
        c.writeMany([
          {
            objectType: 'contact',
            ops: [{ kind: 'update', ref: 'u', id: contact.id, fields: { jobtitle: 'NeverWritten' } }],
          },
          { objectType: 'lead', ops: [{ kind: 'create', ref: 'bad', fields: { no_such_column: 'x' } }] },
        ]),
        unknownColumn,
      );
      assert.equal(h.sandbox.getCounters().requests, 0, 'no request: the cached descriptions tell');
      assert.equal(h.sandbox.list('lead').length, leads);
      assert.notEqual(h.sandbox.get('contact', contact.id)?.values.jobtitle, 'NeverWritten');
    });

    test("a write's column check costs the description once, then nothing; when it cannot be read, nothing is sent", async () => {
      const c = h.connector();
      await c.check();
      h.sandbox.resetCounters();
      const op = (ref: string): WriteOp => ({ kind: 'create', ref, fields: { lastname: 'Checked' } });
      assert.equal((await c.write('contact', [op('a')]))[0]?.status, 'created');
      const first = h.sandbox.getCounters();
      assert.equal(first.batches, 1);
      // The description: the attributes and their string metadata, plus WhoAmI and the column-security grants in
      // this org (its secured column); cached from then on.
      assert.equal(first.requests, 1 + 4);
      h.sandbox.resetCounters();
      assert.equal((await c.write('contact', [op('b')]))[0]?.status, 'created');
      assert.equal(h.sandbox.getCounters().requests, 1, 'the batch alone');

      const cold = h.connector({
        limits: { maxConcurrent: 52, requestsPerWindow: 6000, windowMs: 300_000, maxRetries: 1, backoffMs: 10 },
      });
      await cold.check();
      h.sandbox.resetCounters();
      h.sandbox.injectFaults({ failEvery: 1, failStatus: 503 });
      try {
        const [result] = await cold.write('contact', [op('c')]);
        assert.ok(result?.status === 'failed' && result.retryable, JSON.stringify(result));
        assert.equal(h.sandbox.getCounters().batches, 0, 'no batch was sent');
      } finally {
        h.sandbox.clearFaults();
      }
    });

    test('412 on a stale etag → conflict; re-read and write again → updated; missing → not-found', async () => {
      const c = h.connector();
      const row = h.sandbox.list('contact')[2];
      assert.ok(row);
      const [read] = await c.get('contact', [row.id], { fields: FIELDS });
      assert.ok(read?.etag);
      h.sandbox.editRecord('contact', row.id, { jobtitle: 'Changed by a salesperson' });
      const [conflict] = await c.write('contact', [
        { kind: 'update', ref: 'u', id: row.id, etag: read.etag, fields: { jobtitle: 'From Marketo' } },
      ]);
      assert.equal(conflict?.status, 'conflict');
      assert.equal(h.sandbox.get('contact', row.id)?.values.jobtitle, 'Changed by a salesperson');
      const [reread] = await c.get('contact', [row.id], { fields: FIELDS });
      const [ok] = await c.write('contact', [
        { kind: 'update', ref: 'u', id: row.id, etag: reread?.etag, fields: { jobtitle: 'From Marketo' } },
      ]);
      assert.ok(ok?.status === 'updated');
      assert.equal(ok.etag, h.sandbox.get('contact', row.id)?.etag);
      const [missing] = await c.write('contact', [
        { kind: 'update', ref: 'm', id: '00000000-0000-4000-8000-0000000000aa', fields: { jobtitle: 'x' } },
      ]);
      assert.equal(missing?.status, 'not-found');
      assert.equal(
        h.sandbox.get('contact', '00000000-0000-4000-8000-0000000000aa'),
        undefined,
        'an update never upserts',
      );
    });
  });

  describe('limits and bad answers', () => {
    test('429 inside a batch: Retry-After honoured, throttled operations re-sent, nothing lost or doubled', async () => {
      const c = h.connector();
      const before = h.sandbox.list('contact').length;
      h.sandbox.injectFaults({ throttleBatchOps: 5, retryAfterSeconds: 1 });
      const results = await c.write(
        'contact',
        Array.from({ length: 20 }, (_, i) => ({
          kind: 'create' as const,
          ref: `t${i}`,
          fields: { lastname: `Throttled${i}` },
        })),
      );
      assert.ok(results.every((r) => r.status === 'created'));
      assert.equal(new Set(results.map((r) => (r.status === 'created' ? r.id : ''))).size, 20);
      assert.equal(h.sandbox.list('contact').length, before + 20);
      assert.equal(c.stats().throttled, 5);
      assert.ok(c.stats().batches >= 2);
    });

    test('429 for whole requests: Retry-After honoured, the read completes', async () => {
      const c = h.connector({ pageSize: 40, changeTracking: 'off' });
      await c.describe('contact');
      h.sandbox.injectFaults({ throttleRequests: 2, retryAfterSeconds: 1 });
      const pages = await collect(c.readChanges('contact', null, { fields: FIELDS }));
      assert.equal(pages.flatMap((p) => p.records).length, h.sandbox.list('contact').length);
      assert.equal(c.stats().throttled, 2);
      assert.ok(c.stats().retries >= 2);
      const metric = await h.registry.getSingleMetric('tandem_dynamics_throttled_total')?.get();
      assert.ok((metric?.values[0]?.value ?? 0) >= 2);
    });

    test('the client limiter keeps concurrency under the server limit', async () => {
      h.sandbox.setLimits({ maxConcurrent: 4 });
      h.sandbox.injectFaults({ latencyMs: 20 });
      try {
        const c = h.connector({ limits: { maxConcurrent: 4, requestsPerWindow: 6000, windowMs: 300_000 } });
        await c.check();
        const throttledBefore = h.sandbox.getCounters().throttled;
        const ids = h.sandbox.list('contact').map((r) => r.id);
        await Promise.all(ids.slice(0, 20).map((id) => c.get('contact', [id], { fields: FIELDS })));
        assert.equal(h.sandbox.getCounters().throttled, throttledBefore);
      } finally {
        h.sandbox.clearFaults();
        h.sandbox.setLimits({ maxConcurrent: 52 });
      }
    });

    test('5xx on reads is retried', async () => {
      const c = h.connector({
        limits: { maxConcurrent: 52, requestsPerWindow: 6000, windowMs: 300_000, backoffMs: 10 },
      });
      h.sandbox.injectFaults({ failEvery: 2 });
      try {
        const ids = h.sandbox
          .list('contact')
          .slice(0, 5)
          .map((r) => r.id);
        for (const id of ids) assert.equal((await c.get('contact', [id], { fields: FIELDS })).length, 1);
        assert.ok(c.stats().retries > 0);
      } finally {
        h.sandbox.clearFaults();
      }
    });

    test('malformed JSON, HTML error pages and unknown columns give clear errors', async () => {
      const c = h.connector({
        limits: { maxConcurrent: 52, requestsPerWindow: 6000, windowMs: 300_000, maxRetries: 1, backoffMs: 10 },
      });
      const id = h.sandbox.list('contact')[0]?.id ?? '';
      await c.describe('contact');
      const expectError = async (pattern: RegExp, code: string) =>
        assert.rejects(
          c.get('contact', [id], { fields: FIELDS }),
          (e: unknown) => e instanceof TandemError && e.code === code && pattern.test(e.message),
        );
      h.sandbox.injectFaults({ malformed: 1, malformedKind: 'truncated-json' });
      await expectError(/malformed JSON/, 'CONNECTOR_PROTOCOL');
      h.sandbox.injectFaults({ malformed: 1, malformedKind: 'html-200' });
      await expectError(/not JSON \(text\/html: "502 Bad Gateway"\)/, 'CONNECTOR_PROTOCOL');
      h.sandbox.injectFaults({ malformed: 5, malformedKind: 'html-502' });
      await expectError(/HTTP 502 .*Bad Gateway.*proxy/, 'CONNECTOR_PROTOCOL');
      h.sandbox.clearFaults();
      await assert.rejects(
        c.get('contact', [id], { fields: ['lastname', 'no_such_column'] }),
        (e: unknown) => isTandemError(e) && e.code === 'UNKNOWN_FIELD' && /no_such_column/.test(e.message),
      );
      await assert.rejects(
        collect(c.readChanges('contact', 'garbage', { fields: FIELDS })),
        (e: unknown) => isTandemError(e) && e.code === 'BAD_REQUEST',
      );
      await assert.rejects(
        c.get('account', [id], { fields: FIELDS }),
        (e: unknown) => isTandemError(e) && e.code === 'BAD_REQUEST',
      );
      // Still healthy afterwards.
      assert.equal((await c.get('contact', [id], { fields: FIELDS })).length, 1);
    });
  });
});

describe('the connector package and its sandbox', () => {
  test('the manifest names the sandbox package; the connector carries no simulator and none of its dependencies', async () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      tandem: { sandbox?: string };
      dependencies: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    assert.equal(manifest.tandem.sandbox, '@tandem/sandbox-dynamics');
    assert.equal(dynamicsConnector.sandbox, undefined);
    for (const dep of ['fastify', 'selfsigned', '@tandem/sandbox-dynamics'])
      assert.equal(manifest.dependencies[dep], undefined, dep);
    // The host loads it from the connector's directory, as it does in sandbox mode.
    const require = createRequire(join(__dirname, '..', '..', 'package.json'));
    const loaded = require(require.resolve(manifest.tandem.sandbox)) as { default: unknown };
    assert.ok(isSandboxDefinition(loaded.default));
    assert.equal(loaded.default.connector, dynamicsConnector.id);
    const running = await loaded.default.start({ seed: true });
    try {
      const config = sandboxConnectorConfig(dynamicsConnector, running) as DynamicsConfig;
      assert.equal(config.tlsCa, running.caPem);
      const child = container.createChildContainer();
      child.register(PluginTokens.Logger, { useValue: pino({ level: 'silent' }) });
      child.register(PluginTokens.Config, { useValue: config });
      child.register(PluginTokens.Metrics, { useValue: new Registry() });
      dynamicsConnector.register(child);
      const c = child.resolve<DynamicsConnector>(PluginTokens.Connector);
      const r = await c.check();
      await c.close();
      assert.equal(r.ok, true, r.message);
      assert.equal(r.instance, running.instanceId);
    } finally {
      await running.close();
    }
  });
});
