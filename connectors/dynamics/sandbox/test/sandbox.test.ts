/**
 * The sandbox against the documented shapes (reference Part 2): Entra token endpoint and errors, WhoAmI,
 * queries and paging, change tracking, writes and concurrency, `$batch`, metadata and column security,
 * service protection, control routes and the CLI.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sandboxDefinition from '../src';
import { startSandbox, type SandboxHarness } from './helpers';
import {
  boundaryOf,
  buildHttpMessage,
  buildMultipart,
  MultipartError,
  parseHttpMessage,
  splitMultipart,
} from '../src/multipart';

const API = '/api/data/v9.2';

describe('dataverse sandbox', () => {
  let h: SandboxHarness;
  let auth: Record<string, string>;
  before(async () => {
    h = await startSandbox({ seed: true, extras: true });
    auth = { authorization: `Bearer ${await h.token()}`, accept: 'application/json' };
  });
  after(async () => {
    await h.close();
  });

  const json = (text: string) => JSON.parse(text) as Record<string, unknown>;
  const get = (path: string, headers: Record<string, string> = {}) =>
    h.http('GET', `${API}/${path}`, { headers: { ...auth, ...headers } });

  describe('Entra ID', () => {
    const form = (fields: Record<string, string>) => ({
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

    test('client credentials: {token_type, expires_in, access_token}', async () => {
      const r = await h.http(
        'POST',
        `/${h.started.tenantId}/oauth2/v2.0/token`,
        form({
          grant_type: 'client_credentials',
          client_id: h.started.clientId,
          client_secret: h.started.clientSecret,
          scope: `${h.started.url}/.default`,
        }),
      );
      assert.equal(r.status, 200);
      const body = json(r.text);
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.expires_in, 3599);
      assert.equal(typeof body.access_token, 'string');
      assert.equal(String(body.access_token).split('.').length, 3);
    });

    test('documented error bodies: invalid_client, invalid_scope, invalid_grant', async () => {
      const base = {
        client_id: h.started.clientId,
        client_secret: h.started.clientSecret,
        scope: `${h.started.url}/.default`,
      };
      const bad = await h.http(
        'POST',
        `/${h.started.tenantId}/oauth2/v2.0/token`,
        form({ ...base, grant_type: 'client_credentials', client_secret: 'nope' }),
      );
      assert.equal(bad.status, 401);
      const e = json(bad.text);
      assert.equal(e.error, 'invalid_client');
      assert.deepEqual(e.error_codes, [7000215]);
      for (const k of ['error_description', 'timestamp', 'trace_id', 'correlation_id'])
        assert.equal(typeof e[k], 'string', k);
      const scope = await h.http(
        'POST',
        `/${h.started.tenantId}/oauth2/v2.0/token`,
        form({ ...base, grant_type: 'client_credentials', scope: 'https://other' }),
      );
      assert.deepEqual([scope.status, json(scope.text).error], [400, 'invalid_scope']);
      // A well-formed scope for another organisation: Entra knows no such resource (AADSTS500011).
      const resource = await h.http(
        'POST',
        `/${h.started.tenantId}/oauth2/v2.0/token`,
        form({ ...base, grant_type: 'client_credentials', scope: 'https://other.crm.dynamics.com/.default' }),
      );
      assert.equal(resource.status, 400);
      assert.equal(json(resource.text).error, 'invalid_resource');
      assert.deepEqual(json(resource.text).error_codes, [500011]);
      const ropc = await h.http(
        'POST',
        `/${h.started.tenantId}/oauth2/v2.0/token`,
        form({ ...base, grant_type: 'password', username: h.started.username, password: 'wrong' }),
      );
      assert.deepEqual([ropc.status, json(ropc.text).error], [400, 'invalid_grant']);
    });

    test('OpenID discovery document names the token endpoint', async () => {
      const r = await h.http('GET', `/${h.started.tenantId}/v2.0/.well-known/openid-configuration`);
      assert.equal(json(r.text).token_endpoint, `${h.started.url}/${h.started.tenantId}/oauth2/v2.0/token`);
    });
  });

  describe('Web API', () => {
    test('a URL over the documented 32 KB is refused (414 URI Too Long)', async () => {
      const long = `contacts?$select=lastname&$filter=${encodeURIComponent(`lastname eq '${'x'.repeat(33_000)}'`)}`;
      const r = await get(long);
      assert.equal(r.status, 414);
      assert.match(r.text, /Request URL Too Long/);
      const within = await get(
        `contacts?$select=lastname&$filter=${encodeURIComponent(`lastname eq '${'x'.repeat(30_000)}'`)}`,
      );
      assert.equal(within.status, 200);
    });

    test('401 without a token; WhoAmI shape', async () => {
      const anon = await h.http('GET', `${API}/WhoAmI`);
      assert.equal(anon.status, 401);
      assert.match(anon.headers['www-authenticate'] ?? '', /^Bearer authorization_uri=/);
      const r = await get('WhoAmI()');
      const body = json(r.text);
      assert.match(String(body['@odata.context']), /\$metadata#Microsoft\.Dynamics\.CRM\.WhoAmIResponse$/);
      assert.equal(body.UserId, h.sandbox.store.users.app.id);
      assert.equal(typeof body.BusinessUnitId, 'string');
      assert.equal(typeof body.OrganizationId, 'string');
    });

    test('query: $select, etag, primary key, paging with maxpagesize and $skiptoken', async () => {
      const r = await get('contacts?$select=firstname,emailaddress1', { prefer: 'odata.maxpagesize=25' });
      assert.equal(r.status, 200);
      assert.equal(r.headers['preference-applied'], 'odata.maxpagesize=25');
      const page = json(r.text);
      assert.match(String(page['@odata.context']), /\$metadata#contacts\(firstname,emailaddress1\)$/);
      const value = page.value as Array<Record<string, unknown>>;
      assert.equal(value.length, 25);
      assert.match(String(value[0]?.['@odata.etag']), /^W\/"\d+"$/);
      assert.deepEqual(Object.keys(value[0] ?? {}).sort(), ['@odata.etag', 'contactid', 'emailaddress1', 'firstname']);
      const next = String(page['@odata.nextLink']);
      assert.ok(next.startsWith(`${h.started.url}${API}/contacts?`));
      assert.match(decodeURIComponent(next), /\$skiptoken=<cookie pagenumber="2" pagingcookie="/);
      const r2 = await h.http('GET', next.slice(h.started.url.length), {
        headers: { ...auth, prefer: 'odata.maxpagesize=25' },
      });
      const ids2 = (json(r2.text).value as Array<Record<string, unknown>>).map((v) => v.contactid);
      assert.equal(ids2.length, 25);
      assert.ok(!ids2.includes(value[0]?.contactid));
    });

    test('$filter with eq/or and quotes, case-insensitive; $orderby; $top; unknown column → 400 0x0', async () => {
      const [a, b] = h.sandbox.list('contact');
      assert.ok(a && b);
      const email = String(a.values.emailaddress1).toUpperCase();
      const filter = encodeURIComponent(`emailaddress1 eq '${email}' or contactid eq ${b.id}`);
      const r = await get(`contacts?$select=lastname&$filter=${filter}&$orderby=lastname desc`);
      assert.equal((json(r.text).value as unknown[]).length, 2);
      const top = await get('contacts?$select=lastname&$top=3');
      assert.equal((json(top.text).value as unknown[]).length, 3);
      const bad = await get('contacts?$select=firstname,nope');
      assert.equal(bad.status, 400);
      assert.deepEqual(json(bad.text).error, {
        code: '0x0',
        message: "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.contact'.",
      });
      const segment = await get('Contacts');
      assert.deepEqual([segment.status, (json(segment.text).error as { code: string }).code], [404, '0x8006088a']);
    });

    test('change tracking: deltaLink with $deltatoken, $delta context, $deletedEntity, $filter refused', async () => {
      const first = await get('leads?$select=lastname', { prefer: 'odata.track-changes' });
      assert.match(first.headers['preference-applied'] ?? '', /odata\.track-changes/);
      const deltaLink = String(json(first.text)['@odata.deltaLink']);
      assert.match(decodeURIComponent(deltaLink), /\$deltatoken=\d+!\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d$/);
      const victim = h.sandbox.list('lead')[0];
      assert.ok(victim);
      h.sandbox.deleteRecord('lead', victim.id);
      const delta = json(
        (
          await h.http('GET', deltaLink.slice(h.started.url.length), {
            headers: { ...auth, prefer: 'odata.track-changes' },
          })
        ).text,
      );
      assert.match(String(delta['@odata.context']), /\/\$delta$/);
      assert.deepEqual(delta.value, [
        { '@odata.context': `${h.started.url}${API}/$metadata#leads/$deletedEntity`, id: victim.id, reason: 'deleted' },
      ]);
      const refused = await get(`leads?$select=lastname&$filter=${encodeURIComponent("lastname eq 'x'")}`, {
        prefer: 'odata.track-changes',
      });
      assert.equal(refused.status, 400);
      assert.match(
        String((json(refused.text).error as { message: string }).message),
        /isn't supported when Change Tracking is enabled/,
      );
    });

    test('create 204 + OData-EntityId, 201 with return=representation; update If-Match; 412; 404', async () => {
      const headers = { ...auth, 'content-type': 'application/json' };
      const created = await h.http('POST', `${API}/contacts`, {
        headers,
        body: JSON.stringify({ lastname: 'Shape', versionnumber: 5 }),
      });
      assert.equal(created.status, 204);
      const id = /contacts\(([0-9a-f-]{36})\)$/.exec(created.headers['odata-entityid'] ?? '')?.[1];
      assert.ok(id);
      assert.notEqual(h.sandbox.get('contact', id)?.values.versionnumber, 5, 'read-only columns are silently ignored');
      const rep = await h.http('POST', `${API}/contacts?$select=lastname`, {
        headers: { ...headers, prefer: 'return=representation' },
        body: JSON.stringify({ lastname: 'Rep' }),
      });
      assert.equal(rep.status, 201);
      assert.match(String(json(rep.text)['@odata.etag']), /^W\/"\d+"$/);
      const etag = h.sandbox.get('contact', id)?.etag ?? '';
      const ok = await h.http('PATCH', `${API}/contacts(${id})`, {
        headers: { ...headers, 'if-match': etag },
        body: JSON.stringify({ jobtitle: 'A' }),
      });
      assert.equal(ok.status, 204);
      const stale = await h.http('PATCH', `${API}/contacts(${id})`, {
        headers: { ...headers, 'if-match': etag },
        body: JSON.stringify({ jobtitle: 'B' }),
      });
      assert.equal(stale.status, 412);
      assert.match(String((json(stale.text).error as { message: string }).message), /doesn't match the RowVersion/);
      const missing = await h.http('PATCH', `${API}/contacts(00000000-0000-4000-8000-000000000001)`, {
        headers: { ...headers, 'if-match': '*' },
        body: '{}',
      });
      assert.equal(missing.status, 404);
      assert.match(missing.text, /Does Not Exist/);
      const long = await h.http('POST', `${API}/contacts`, {
        headers,
        body: JSON.stringify({ emailaddress1: `${'a'.repeat(95)}@x.com` }),
      });
      assert.deepEqual(json(long.text).error, {
        code: '0x80044331',
        message:
          "A validation error occurred.  The length of the 'emailaddress1' attribute of the 'contact' entity exceeded the maximum allowed length of '100'.",
      });
      const secured = await h.http('POST', `${API}/contacts`, {
        headers,
        body: JSON.stringify({ lastname: 'S', mkt_leadscore: 3 }),
      });
      assert.equal(secured.status, 403);
    });

    test('$batch: continue-on-error, stop at first failure without it, atomic change sets', async () => {
      const part = (n: number, body: unknown) =>
        `--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: ${n}\r\n\r\nPOST ${h.started.url}${API}/contacts HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n${JSON.stringify(body)}\r\n`;
      const body = `${part(1, { lastname: 'B1' })}${part(2, { lastname: 'x'.repeat(60) })}${part(3, { lastname: 'B3' })}--b--\r\n`;
      const headers = { ...auth, 'content-type': 'multipart/mixed; boundary=b' };
      const coe = await h.http('POST', `${API}/$batch`, {
        headers: { ...headers, prefer: 'odata.continue-on-error' },
        body,
      });
      assert.equal(coe.status, 200);
      assert.match(coe.headers['content-type'] ?? '', /^multipart\/mixed; boundary=batchresponse_/);
      assert.deepEqual(
        [...coe.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]),
        ['204', '400', '204'],
      );
      const stop = await h.http('POST', `${API}/$batch`, { headers, body });
      assert.equal(stop.status, 400);
      assert.deepEqual(
        [...stop.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]),
        ['400'],
      );
      const count = h.sandbox.list('contact').length;
      const cs = `--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n${part(1, { lastname: 'CS1' }).replace('--b', '--cs')}${part(2, { lastname: 'x'.repeat(60) }).replace('--b', '--cs')}--cs--\r\n--b--\r\n`;
      const atomic = await h.http('POST', `${API}/$batch`, { headers, body: cs });
      assert.equal(atomic.status, 400);
      assert.equal(h.sandbox.list('contact').length, count, 'the change set was rolled back');
    });

    test('metadata: ChangeTrackingEnabled, attributes, StringAttributeMetadata, RetrievePrincipalAttributePrivileges', async () => {
      const tracked = json(
        (
          await get(
            `EntityDefinitions?$select=LogicalName&$filter=${encodeURIComponent('ChangeTrackingEnabled eq true')}`,
          )
        ).text,
      );
      assert.deepEqual((tracked.value as Array<{ LogicalName: string }>).map((e) => e.LogicalName).sort(), [
        'contact',
        'lead',
      ]);
      const attrs = json(
        (
          await get(
            "EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName,IsSecured,IsValidForUpdate",
          )
        ).text,
      );
      const score = (attrs.value as Array<Record<string, unknown>>).find((a) => a.LogicalName === 'mkt_leadscore');
      assert.equal(score?.IsSecured, true);
      assert.equal(typeof score?.MetadataId, 'string');
      const strings = json(
        (
          await get(
            "EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength",
          )
        ).text,
      );
      assert.equal(
        (strings.value as Array<Record<string, unknown>>).find((a) => a.LogicalName === 'lastname')?.MaxLength,
        50,
      );
      h.sandbox.setFieldSecurity('app', 'lead', 'mkt_leadscore', { read: true, create: false, update: true });
      const privs = json(
        (
          await get(
            `systemusers(${h.sandbox.store.users.app.id})/Microsoft.Dynamics.CRM.RetrievePrincipalAttributePrivileges()`,
          )
        ).text,
      );
      const leadScore = h.sandbox.store.def('lead').columns.find((c) => c.name === 'mkt_leadscore');
      assert.ok(leadScore);
      assert.deepEqual(privs.AttributePrivileges, [
        { AttributeId: leadScore?.metadataId, CanCreate: 0, CanRead: 4, CanUpdate: 4 },
      ]);
      h.sandbox.setFieldSecurity('app', 'lead', 'mkt_leadscore', { read: false, create: false, update: false });
    });

    test('service protection: 429 with Retry-After over the request limit', async () => {
      h.sandbox.setLimits({ requestsPerWindow: 2, windowMs: 60_000 });
      try {
        await get('WhoAmI');
        await get('WhoAmI');
        const r = await get('WhoAmI');
        assert.equal(r.status, 429);
        assert.equal(Number.isInteger(Number(r.headers['retry-after'])), true);
        assert.equal((json(r.text).error as { code: string }).code, '0x80072322');
      } finally {
        h.sandbox.setLimits({ requestsPerWindow: 6000, windowMs: 300_000 });
      }
    });
  });

  test('random faults: about their share of requests 429 with Retry-After or 500, nothing applied, the same seed the same draws', async () => {
    const statuses = async () => {
      h.sandbox.injectFaults({
        throttleShare: 0.25,
        failShare: 0.05,
        failStatus: 500,
        retryAfterSeconds: 2,
        faultSeed: 11,
      });
      const out: number[] = [];
      for (let i = 0; i < 200; i++) {
        const r = await get('WhoAmI');
        if (r.status === 429) assert.equal(r.headers['retry-after'], '2');
        out.push(r.status);
      }
      return out;
    };
    const contacts = h.sandbox.list('contact').length;
    try {
      const first = await statuses();
      const share = (status: number) => first.filter((x) => x === status).length / first.length;
      assert.ok(share(429) > 0.15 && share(429) < 0.35, `429 share ${share(429)}`);
      assert.ok(share(500) > 0.01 && share(500) < 0.1, `500 share ${share(500)}`);
      assert.equal(share(200) + share(429) + share(500), 1);
      assert.deepEqual(await statuses(), first, 'the same seed draws the same faults');
      // A refused write is not applied.
      const writes = [];
      for (let i = 0; i < 20; i++) {
        writes.push(
          await h.http('POST', `${API}/contacts`, {
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ lastname: `Fault ${i}` }),
          }),
        );
      }
      const applied = writes.filter((w) => w.status === 204).length;
      assert.ok(applied < 20, 'some writes were refused');
      assert.equal(h.sandbox.list('contact').length, contacts + applied);
    } finally {
      h.sandbox.injectFaults({ throttleShare: 0, failShare: 0, failStatus: 503, retryAfterSeconds: 1 });
    }
    assert.equal((await get('WhoAmI')).status, 200);
  });

  test('slow writes: applied at once, answered late; reads are not held back', async () => {
    h.sandbox.injectFaults({ writeLatencyMs: 300 });
    try {
      const before = h.sandbox.list('contact').length;
      const pending = h.http('POST', `${API}/contacts`, {
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ lastname: 'Slow' }),
      });
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(h.sandbox.list('contact').length, before + 1, 'the record exists before the answer');
      assert.equal(h.sandbox.getCounters().writesAnswering, 1);
      const read = await get('WhoAmI');
      assert.equal(read.status, 200);
      assert.equal(h.sandbox.getCounters().writesAnswering, 1, 'the read was answered while the write waits');
      assert.equal((await pending).status, 204);
      assert.equal(h.sandbox.getCounters().writesAnswering, 0);
    } finally {
      h.sandbox.injectFaults({ writeLatencyMs: 0 });
    }
  });

  test('issued tokens are listed (for tests that scan for leaked credentials)', async () => {
    const token = await h.token();
    assert.ok(h.sandbox.issuedTokens().includes(token));
  });

  test('control routes for another process', async () => {
    const created = json(
      (
        await h.http('POST', '/__sandbox/records/contact', {
          body: JSON.stringify({ lastname: 'Ctl' }),
          headers: { 'content-type': 'application/json' },
        })
      ).text,
    );
    assert.equal(typeof created.id, 'string');
    const edited = json(
      (
        await h.http('PATCH', `/__sandbox/records/contact/${String(created.id)}`, {
          body: JSON.stringify({ jobtitle: 'Ops' }),
          headers: { 'content-type': 'application/json' },
        })
      ).text,
    );
    assert.equal((edited.values as Record<string, unknown>).jobtitle, 'Ops');
    const counters = json((await h.http('GET', '/__sandbox/counters')).text);
    for (const k of ['requests', 'tokenRequests', 'batches', 'operations', 'throttled'])
      assert.equal(typeof counters[k], 'number', k);
  });

  test('cli prints one JSON line with the url, the connection variables, the CA and the instance id', async () => {
    const child = spawn(
      process.execPath,
      [join(__dirname, '..', 'src', 'cli.js'), '--port', '0', '--seed', '--instance-id', 'cli-org'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
      const line = JSON.parse(chunk.toString('utf8').split('\n')[0] ?? '') as {
        url: string;
        env: Record<string, string>;
        caPem: string;
        instanceId: string;
      };
      assert.match(line.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(line.env.DYNAMICS_URL, line.url);
      assert.equal(line.env.DYNAMICS_AUTHORITY_HOST, line.url);
      assert.match(line.caPem, /BEGIN CERTIFICATE/);
      assert.equal(line.instanceId, 'cli-org');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});

describe('a vanilla org, as documented', () => {
  let h: SandboxHarness;
  let auth: Record<string, string>;
  before(async () => {
    h = await startSandbox({ seed: true });
    auth = { authorization: `Bearer ${await h.token()}`, accept: 'application/json' };
  });
  after(async () => {
    await h.close();
  });

  const json = (text: string) => JSON.parse(text) as Record<string, unknown>;
  const get = (path: string, headers: Record<string, string> = {}) =>
    h.http('GET', `${API}/${path}`, { headers: { ...auth, ...headers } });
  const attributes = async (entity: string) =>
    (
      json(
        (
          await get(
            `EntityDefinitions(LogicalName='${entity}')/Attributes?$select=LogicalName,IsValidForCreate,IsValidForUpdate,RequiredLevel,IsCustomAttribute`,
          )
        ).text,
      ).value as Array<Record<string, unknown>>
    ).reduce<Record<string, Record<string, unknown>>>((all, a) => ({ ...all, [String(a.LogicalName)]: a }), {});
  const lengths = async (entity: string) =>
    Object.fromEntries(
      (
        json(
          (
            await get(
              `EntityDefinitions(LogicalName='${entity}')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength`,
            )
          ).text,
        ).value as Array<{ LogicalName: string; MaxLength: number }>
      ).map((a) => [a.LogicalName, a.MaxLength]),
    );

  test('standard columns only: no mkt_leadscore unless extras, and no record carries it', async () => {
    const contact = await attributes('contact');
    const lead = await attributes('lead');
    assert.equal(contact.mkt_leadscore, undefined);
    assert.equal(lead.mkt_leadscore, undefined);
    assert.ok(Object.values(contact).every((a) => a.IsCustomAttribute === false));
    assert.ok(h.sandbox.list('contact').every((r) => !('mkt_leadscore' in r.values)));
    const bad = await get('contacts?$select=mkt_leadscore');
    assert.equal(bad.status, 400);
    assert.equal((json(bad.text).error as { code: string }).code, '0x0');
    // Column sets differ: companyname and subject are lead's; both have leadsourcecode, fullname, statuscode.
    assert.deepEqual(
      ['companyname', 'subject'].map((c) => [c in contact, c in lead]),
      [
        [false, true],
        [false, true],
      ],
    );
    for (const c of ['leadsourcecode', 'fullname', 'statuscode']) assert.ok(c in contact && c in lead, c);
  });

  test('lengths, required levels and validity as the table references give them', async () => {
    const contact = await lengths('contact');
    const lead = await lengths('lead');
    assert.deepEqual(
      [contact.mobilephone, lead.mobilephone, lead.subject, lead.companyname, contact.address1_postalcode],
      [50, 20, 300, 100, 20],
    );
    const c = await attributes('contact');
    const l = await attributes('lead');
    const level = (a: Record<string, unknown> | undefined) => (a?.RequiredLevel as { Value: string }).Value;
    assert.deepEqual(
      [level(c.firstname), level(c.lastname), level(l.subject), level(l.companyname), level(c.statecode)],
      ['Recommended', 'ApplicationRequired', 'ApplicationRequired', 'Recommended', 'SystemRequired'],
    );
    assert.deepEqual([c.statecode?.IsValidForCreate, c.statecode?.IsValidForUpdate], [false, true]);
    assert.deepEqual([c.fullname?.IsValidForCreate, c.fullname?.IsValidForUpdate], [false, false]);
    // A lead mobile number over 20 characters is refused as Dataverse refuses it, a contact's is not.
    const headers = { ...auth, 'content-type': 'application/json' };
    const phone = '+44 20 7946 0000 ext 123';
    const leadWrite = await h.http('POST', `${API}/leads`, {
      headers,
      body: JSON.stringify({ lastname: 'Len', mobilephone: phone }),
    });
    assert.equal(leadWrite.status, 400);
    assert.equal((json(leadWrite.text).error as { code: string }).code, '0x80044331');
    const contactWrite = await h.http('POST', `${API}/contacts`, {
      headers,
      body: JSON.stringify({ lastname: 'Len', mobilephone: phone }),
    });
    assert.equal(contactWrite.status, 204);
  });

  test('records: fullname composed, modifiedon to the second with Z, a weak etag', async () => {
    const r = await get('contacts?$select=fullname,firstname,lastname,modifiedon', { prefer: 'odata.maxpagesize=1' });
    const row = (json(r.text).value as Array<Record<string, unknown>>)[0] ?? {};
    assert.equal(row.fullname, `${String(row.firstname)} ${String(row.lastname)}`);
    assert.match(String(row.modifiedon), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(String(row['@odata.etag']), /^W\/"\d+"$/);
  });

  test('links in the documented shape: $select as sent, the paging cookie percent-encoded', async () => {
    const r = await get('contacts?$select=firstname,lastname', { prefer: 'odata.maxpagesize=5' });
    const next = String(json(r.text)['@odata.nextLink']);
    assert.ok(next.startsWith(`${h.started.url}${API}/contacts?$select=firstname,lastname&$skiptoken=%3Ccookie%20`));
    const tracked = await get('contacts?$select=firstname', { prefer: 'odata.track-changes' });
    assert.match(String(json(tracked.text)['@odata.deltaLink']), /\?\$select=firstname&\$deltatoken=\d+%21/);
  });

  test('change tracking: a delta link followed without the preference reports none applied', async () => {
    const first = await get('leads?$select=lastname', { prefer: 'odata.track-changes,odata.maxpagesize=100' });
    assert.equal(first.headers['preference-applied'], 'odata.maxpagesize=100,odata.track-changes');
    const link = String(json(first.text)['@odata.deltaLink']);
    const delta = await h.http('GET', link.slice(h.started.url.length), { headers: auth });
    assert.equal(delta.status, 200);
    assert.equal(delta.headers['preference-applied'], undefined);
    assert.deepEqual(json(delta.text).value, []);
    assert.equal(typeof json(delta.text)['@odata.deltaLink'], 'string');
  });

  test('change tracking on an empty table: no rows and a delta link; errors for untracked and expired', async () => {
    const empty = await startSandbox({ changeTracking: { lead: false } });
    try {
      const token = await empty.token();
      const headers = { authorization: `Bearer ${token}`, prefer: 'odata.track-changes' };
      const first = await empty.http('GET', `${API}/contacts?$select=lastname`, { headers });
      const page = json(first.text);
      assert.deepEqual(page.value, []);
      assert.equal(page['@odata.nextLink'], undefined);
      assert.match(String(page['@odata.deltaLink']), /\$deltatoken=/);
      const untracked = await empty.http('GET', `${API}/leads?$select=lastname`, { headers });
      assert.equal(untracked.status, 400);
      assert.deepEqual(json(untracked.text).error, {
        code: '0x80072491',
        message: "Entity lead isn't enabled for change tracking.",
      });
      empty.sandbox.expireDeltaTokens();
      const expired = await empty.http('GET', String(page['@odata.deltaLink']).slice(empty.started.url.length), {
        headers,
      });
      assert.equal(expired.status, 400);
      assert.equal((json(expired.text).error as { code: string }).code, '0x80044352');
      const refused = await empty.http('GET', `${API}/contacts?$select=lastname&$top=1`, { headers });
      assert.equal(
        (json(refused.text).error as { message: string }).message,
        'The "$top" query parameter isn\'t supported when Change Tracking is enabled.',
      );
    } finally {
      await empty.close();
    }
  });

  test('$batch: top-level answers in request order without Content-ID; a GET inside takes a 64 KB URL', async () => {
    const long = `lastname eq '${'y'.repeat(40_000)}' or lastname eq '${String(h.sandbox.list('contact')[0]?.values.lastname)}'`;
    const inner = `${API}/contacts?$select=lastname&$filter=${encodeURIComponent(long)}`;
    assert.ok(inner.length > 32_768 && inner.length < 65_536);
    const tooLong = `${API}/contacts?$select=lastname&$filter=${encodeURIComponent(`lastname eq '${'z'.repeat(70_000)}'`)}`;
    const part = (url: string, id: number) =>
      `--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: ${id}\r\n\r\nGET ${url} HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n`;
    const r = await h.http('POST', `${API}/$batch`, {
      headers: { ...auth, 'content-type': 'multipart/mixed; boundary=b', prefer: 'odata.continue-on-error' },
      body: `${part(inner, 1)}${part(tooLong, 2)}--b--\r\n`,
    });
    assert.equal(r.status, 200);
    assert.deepEqual(
      [...r.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]),
      ['200', '414'],
    );
    assert.doesNotMatch(r.text, /Content-ID/i);
    assert.match(r.text, /"value":\[\{/);
  });

  test('a gateway in front of the Web API: 414 or 431 past its URL limit, or a closed connection', async () => {
    const url = `${API}/contacts?$select=lastname&$filter=${encodeURIComponent(`lastname eq '${'x'.repeat(9000)}'`)}`;
    for (const answer of [414, 431] as const) {
      h.sandbox.injectFaults({ gatewayMaxUrl: 8192, gatewayAnswer: answer });
      const r = await h.http('GET', url, { headers: auth });
      assert.equal(r.status, answer);
      assert.match(r.headers['content-type'] ?? '', /text\/html/);
    }
    h.sandbox.injectFaults({ gatewayMaxUrl: 8192, gatewayAnswer: 'close' });
    await assert.rejects(h.http('GET', url, { headers: auth }), /other side closed|socket|ECONNRESET/i);
    assert.equal(h.sandbox.getCounters().gatewayRefused, 3);
    // A URL within the gateway's limit still reaches the Web API.
    assert.equal((await get('contacts?$select=lastname&$top=1')).status, 200);
    h.sandbox.clearFaults();
  });

  test('a column deleted by a customizer is gone from metadata and queries', async () => {
    const other = await startSandbox({ seed: true });
    try {
      const token = await other.token();
      const headers = { authorization: `Bearer ${token}` };
      assert.equal(other.sandbox.deleteColumn('contact', 'jobtitle'), true);
      const r = await other.http('GET', `${API}/contacts?$select=jobtitle`, { headers });
      assert.equal(r.status, 400);
      assert.equal(
        (json(r.text).error as { message: string }).message,
        "Could not find a property named 'jobtitle' on type 'Microsoft.Dynamics.CRM.contact'.",
      );
      const attrs = json(
        (
          await other.http('GET', `${API}/EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName`, {
            headers,
          })
        ).text,
      ).value as Array<{ LogicalName: string }>;
      assert.ok(!attrs.some((a) => a.LogicalName === 'jobtitle'));
    } finally {
      await other.close();
    }
  });
});

describe('the sandbox package', () => {
  test('default-exports defineSandbox for the dynamics connector; env holds the documented variables', async () => {
    assert.equal(sandboxDefinition.kind, 'sandbox');
    assert.equal(sandboxDefinition.connector, 'dynamics');
    const a = await sandboxDefinition.start({ seed: false });
    const b = await sandboxDefinition.start({ instanceId: '3f2b6c1d-0000-4000-8000-00000000abcd' });
    try {
      assert.deepEqual(Object.keys(a.env).sort(), [
        'DYNAMICS_AUTHORITY_HOST',
        'DYNAMICS_CLIENT_ID',
        'DYNAMICS_CLIENT_SECRET',
        'DYNAMICS_TENANT_ID',
        'DYNAMICS_URL',
      ]);
      assert.equal(a.env.DYNAMICS_URL, a.url);
      assert.match(a.caPem ?? '', /BEGIN CERTIFICATE/);
      // A new organisation per start unless one is given; WhoAmI answers it.
      assert.match(a.instanceId, /^[0-9a-f-]{36}$/);
      assert.notEqual(a.instanceId, b.instanceId);
      assert.equal(b.instanceId, '3f2b6c1d-0000-4000-8000-00000000abcd');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("WhoAmI's OrganizationId is the instance id", async () => {
    const h = await startSandbox({ instanceId: '11111111-2222-4333-8444-555555555555' });
    try {
      const r = await h.http('GET', `${API}/WhoAmI`, { headers: { authorization: `Bearer ${await h.token()}` } });
      assert.equal((JSON.parse(r.text) as { OrganizationId: string }).OrganizationId, h.started.instanceId);
      assert.equal(h.started.instanceId, '11111111-2222-4333-8444-555555555555');
    } finally {
      await h.close();
    }
  });
});

describe('independence from the connector', () => {
  test('the sandbox package neither depends on nor imports the connector', () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    const deps = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies });
    assert.ok(!deps.includes('@tandem/connector-dynamics'));
    const compiled = join(__dirname, '..', 'src');
    for (const file of readdirSync(compiled).filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(join(compiled, file), 'utf8');
      assert.doesNotMatch(text, /require\("(@tandem\/connector-dynamics|\.\.\/\.\.\/src)/, file);
    }
  });
});

describe('the $batch reader', () => {
  test('LF or CRLF line ends, a preamble, blanks after a delimiter, a nested change set, a quoted boundary', () => {
    const body = [
      'a preamble, ignored',
      '--batch_1  ',
      'Content-Type: multipart/mixed; boundary="changeset_1"',
      '',
      '--changeset_1',
      'content-type: application/http',
      'Content-ID: 1',
      '',
      'POST /api/data/v9.2/contacts HTTP/1.1',
      'Content-Type: application/json',
      '',
      '{"lastname":"One"}',
      '--changeset_1--',
      '--batch_1',
      'Content-Type: application/http',
      '',
      'GET /api/data/v9.2/contacts?$top=1 HTTP/1.1',
      'Accept: application/json',
      '',
      '',
      '--batch_1--',
      'an epilogue, ignored',
    ];
    for (const end of ['\n', '\r\n']) {
      const parts = splitMultipart(body.join(end), 'batch_1');
      assert.equal(parts.length, 2);
      const inner = boundaryOf(parts[0]?.headers['content-type']);
      assert.equal(inner, 'changeset_1');
      const [create] = splitMultipart(parts[0]?.body ?? '', inner as string);
      assert.equal(create?.headers['content-id'], '1');
      const post = parseHttpMessage(create?.body ?? '');
      assert.equal(post.startLine, 'POST /api/data/v9.2/contacts HTTP/1.1');
      assert.deepEqual(JSON.parse(post.body), { lastname: 'One' });
      const get = parseHttpMessage(parts[1]?.body ?? '');
      assert.equal(get.startLine, 'GET /api/data/v9.2/contacts?$top=1 HTTP/1.1');
      assert.equal(get.headers['accept'], 'application/json');
      assert.equal(get.body, '');
    }
  });

  test('a body without its closing delimiter, or without any, is refused', () => {
    assert.throws(
      () => splitMultipart('--b\r\nContent-Type: application/http\r\n\r\nGET / HTTP/1.1\r\n', 'b'),
      MultipartError,
    );
    assert.throws(() => splitMultipart('nothing here', 'b'), MultipartError);
  });

  test('answers are written with CRLF line ends and a closing delimiter', () => {
    const text = buildMultipart('r', [
      {
        headers: { 'content-type': 'application/http' },
        body: buildHttpMessage({ startLine: 'HTTP/1.1 204 No Content', headers: {}, body: '' }),
      },
    ]);
    assert.equal(text, '--r\r\ncontent-type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n--r--\r\n');
  });
});
