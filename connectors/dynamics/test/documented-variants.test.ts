/**
 * The connector against answers the Dataverse documentation allows but the sandbox happens not to give: a plain
 * HTTP server answers each request with a canned, documented answer (an org is an external system; the connector's
 * own code runs unchanged on top of it, with a fixed bearer token in place of Entra ID).
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Agent } from 'undici';
import { isTandemError, type WriteOp } from '@tandem/core/plugin';
import { DataverseClient } from '../src/client';
import { RequestLimiter } from '../src/limiter';
import { MetadataService } from '../src/metadata';
import { DynamicsMetrics } from '../src/metrics';
import { ENTITY_INFO } from '../src/objects/entities';
import { RecordReader } from '../src/objects/read';
import { RecordWriter } from '../src/objects/write';
import { collect } from './helpers';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

interface Canned {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

interface Org {
  base: string;
  requests: Seen[];
  client: DataverseClient;
  metadata: MetadataService;
  reader: RecordReader;
  writer: RecordWriter;
}

const contact = ENTITY_INFO.contact;
const JSON_TYPE = { 'content-type': 'application/json; odata.metadata=minimal', 'odata-version': '4.0' };
const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Canned => ({
  status,
  headers: { ...JSON_TYPE, ...headers },
  body: JSON.stringify(body),
});

/** The contact columns of a small org, as `EntityDefinitions(LogicalName='contact')/Attributes` gives them. */
function attributes(base: string, url: string): Canned | undefined {
  if (!url.includes("EntityDefinitions(LogicalName='contact')/Attributes")) return undefined;
  const column = (LogicalName: string, AttributeType: string, extra: Record<string, unknown> = {}) => ({
    LogicalName,
    MetadataId: `00000000-0000-0000-0000-0000000000${LogicalName.length.toString().padStart(2, '0')}`,
    AttributeType,
    IsValidForCreate: true,
    IsValidForUpdate: true,
    IsValidForRead: true,
    IsSecured: false,
    AttributeOf: null,
    ...extra,
  });
  const strings = url.includes('StringAttributeMetadata');
  const value = [
    column('contactid', 'Uniqueidentifier', { IsValidForUpdate: false }),
    column('modifiedon', 'DateTime', { IsValidForCreate: false, IsValidForUpdate: false }),
    column('firstname', 'String'),
    column('emailaddress1', 'String'),
    column('parentcustomerid', 'Customer'),
    // A lookup's name column: it extends parentcustomerid and is no property of the Web API's contact type.
    column('parentcustomeridname', 'String', { AttributeOf: 'parentcustomerid', IsValidForCreate: false }),
    column('mkt_secret', 'String', { IsSecured: true, MetadataId: 'AAAAAAAA-0000-0000-0000-000000000001' }),
  ].filter((c) => !strings || c.AttributeType === 'String');
  return json({ '@odata.context': `${base}$metadata#EntityDefinitions('contact')/Attributes`, value });
}

/** Field security as documented: the privileges are Int32, but Boolean is accepted as well. */
function security(url: string): Canned | undefined {
  if (url.endsWith('/WhoAmI'))
    return json({
      UserId: '11111111-1111-1111-1111-111111111111',
      BusinessUnitId: '22222222-2222-2222-2222-222222222222',
      OrganizationId: '33333333-3333-3333-3333-333333333333',
    });
  if (url.includes('RetrievePrincipalAttributePrivileges'))
    return json({
      AttributePrivileges: [
        { AttributeId: 'aaaaaaaa-0000-0000-0000-000000000001', CanCreate: false, CanRead: true, CanUpdate: false },
      ],
    });
  return undefined;
}

const notFound: Canned = json({ error: { code: '0x8006088a', message: 'Resource not found for the segment.' } }, 404);

async function withOrg(
  /** The answer to a request, or `undefined` for the org's metadata (and 404 for anything else). */
  answer: (request: Seen, base: string) => Canned | undefined,
  run: (org: Org) => Promise<void>,
  maxRetries = 2,
): Promise<void> {
  const requests: Seen[] = [];
  let base = '';
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
      requests.push(seen);
      const canned = answer(seen, base) ?? attributes(base, seen.url) ?? security(seen.url) ?? notFound;
      res.writeHead(canned.status, canned.headers ?? {});
      res.end(canned.body ?? '');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const org = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  base = `${org}/api/data/v9.2/`;
  const agent = new Agent();
  const logger = pino({ level: 'silent' });
  const metrics = new DynamicsMetrics(new Registry());
  const limits = { maxConcurrent: 4, requestsPerWindow: 6000, windowMs: 300_000, maxRetries, backoffMs: 1 };
  const client = new DataverseClient(
    org,
    { token: () => Promise.resolve('a-token') },
    new RequestLimiter(4, 6000, 300_000),
    metrics,
    logger,
    agent,
    limits,
  );
  const metadata = new MetadataService(client, logger);
  const reader = new RecordReader(client, metadata, {
    pageSize: 5000,
    changeTracking: 'on',
    watermarkOverlapMs: 0,
  });
  const writer = new RecordWriter(client, metrics, logger, { batchSize: 1000, maxRounds: 3 });
  try {
    await run({ base, requests, client, metadata, reader, writer });
  } finally {
    await agent.close();
    server.close();
    await once(server, 'close');
  }
}

const deltaCursor = (link: string) => JSON.stringify({ v: 1, mode: 'delta', link, phase: 'incremental' });

describe('answers the documentation allows', () => {
  test('a 401 with no body (the reason in WWW-Authenticate) is an auth error; a body-less 429 is retryable', async () => {
    await withOrg(
      ({ url }): Canned =>
        url.endsWith('/WhoAmI')
          ? { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }
          : { status: 429, headers: { 'retry-after': '0' } },
      async ({ metadata, client, requests }) => {
        await assert.rejects(
          metadata.whoAmI(),
          (e: unknown) =>
            isTandemError(e) &&
            e.code === 'CONNECTOR_AUTH' &&
            /invalid_token/.test(e.message) &&
            /DYNAMICS_CLIENT_ID/.test(e.message),
        );
        // Refused once, the token was renewed and refused again: two requests, no more.
        assert.equal(requests.length, 2);
        await assert.rejects(
          client.json({ method: 'GET', url: 'contacts?$select=contactid' }),
          (e: unknown) => isTandemError(e) && e.code === 'CONNECTOR_RETRYABLE',
        );
      },
      0,
    );
  });

  test('describe: a column extending another (AttributeOf) is left out; a Boolean field privilege is read', async () => {
    await withOrg(
      () => undefined,
      async ({ metadata }) => {
        const description = await metadata.describe(contact);
        const names = description.fields.map((f) => f.name);
        assert.ok(names.includes('parentcustomerid'));
        assert.ok(!names.includes('parentcustomeridname'), 'parentcustomeridname is no Web API property');
        const secret = description.fields.find((f) => f.name === 'mkt_secret');
        assert.equal(secret?.readable, true);
        assert.equal(secret?.updatable, false);
      },
    );
  });

  test('paging links relative, server-relative or under another version segment; page sizes not as asked', async () => {
    const guid = (n: number) => `0000000${n}-AAAA-4AAA-8AAA-00000000000${n}`;
    const row = (n: number) => ({ '@odata.etag': `W/"${n}"`, contactid: guid(n), firstname: `P${n}` });
    await withOrg(
      ({ url }, base) => {
        const origin = base.replace(/\/api\/data\/v9\.2\/$/, '');
        // Preference-Applied is never sent, and each page holds two rows whatever maxpagesize asked.
        if (url.startsWith('/api/data/v9.2/contacts?$select=') && !url.includes('skiptoken'))
          return json({ value: [row(1), row(2)], '@odata.nextLink': '/api/data/v9.2/contacts?$skiptoken=p2' });
        if (url === '/api/data/v9.2/contacts?$skiptoken=p2')
          return json({
            value: [row(3), row(4)],
            '@odata.nextLink': `${origin.replace('http://', 'HTTP://')}/api/data/v9.2/contacts?$skiptoken=p3`,
          });
        if (url === '/api/data/v9.2/contacts?$skiptoken=p3')
          return json({
            value: [row(5)],
            '@odata.deltaLink': `${origin}/api/data/v9.0/contacts?$select=contactid,modifiedon,firstname&$deltatoken=919042%2108%2f22%2f2017`,
          });
        if (url.startsWith('/api/data/v9.0/contacts?') && url.includes('$deltatoken=919042'))
          return json({ '@odata.context': `${base}$metadata#contacts(contactid)/$delta`, value: [] });
        return undefined;
      },
      async ({ reader, requests }) => {
        const pages = await collect(reader.readChanges(contact, null, { fields: ['firstname'] }));
        assert.deepEqual(
          pages.flatMap((p) => p.records.map((r) => r.id)),
          [1, 2, 3, 4, 5].map((n) => guid(n).toLowerCase()),
        );
        const cursor = pages[pages.length - 1]?.cursor ?? null;
        const last = JSON.parse(cursor ?? '{}') as { link?: string };
        assert.match(last.link ?? '', /\/api\/data\/v9\.0\/contacts\?.*\$deltatoken=919042/);
        const again = await collect(reader.readChanges(contact, cursor, { fields: ['firstname'] }));
        assert.equal(again.length, 1);
        assert.equal(again[0]?.records.length, 0);
        assert.equal(requests.filter((r) => r.url.includes('contacts?')).length, 4);
        // A link to another host is still refused, before anything is sent.
        const before = requests.length;
        await assert.rejects(
          collect(
            reader.readChanges(contact, deltaCursor('https://elsewhere.example/api/data/v9.2/contacts?$deltatoken=1'), {
              fields: ['firstname'],
            }),
          ),
          (e: unknown) => isTandemError(e) && e.code === 'BAD_REQUEST',
        );
        assert.equal(requests.length, before);
      },
    );
  });

  test('delta: deletions as $deletedEntity or @removed, GUIDs in any case, annotations and absent columns', async () => {
    const gone = 'C0FFEE00-0000-4000-8000-0000000000AA';
    const removed = 'C0FFEE00-0000-4000-8000-0000000000BB';
    const changed = 'C0FFEE00-0000-4000-8000-0000000000CC';
    await withOrg(
      ({ url }, base) =>
        url.includes('$deltatoken=1')
          ? json({
              '@odata.context': `${base}$metadata#contacts(contactid,firstname)/$delta`,
              value: [
                {
                  '@odata.etag': 'W/"77"',
                  contactid: changed,
                  firstname: 'Ann',
                  'firstname@OData.Community.Display.V1.FormattedValue': 'Ann',
                  // emailaddress1 not sent at all: unknown, not blank.
                },
                { '@odata.context': `${base}$metadata#contacts/$deletedEntity`, id: gone, reason: 'deleted' },
                { '@removed': { reason: 'deleted' }, '@id': `${base}contacts(${removed})` },
              ],
              '@odata.deltaLink': `${base}contacts?$deltatoken=2`,
            })
          : undefined,
      async ({ reader, base }) => {
        const pages = await collect(
          reader.readChanges(
            contact,
            deltaCursor(`${base}contacts?$select=contactid,modifiedon,firstname,emailaddress1&$deltatoken=1`),
            {
              fields: ['firstname', 'emailaddress1'],
            },
          ),
        );
        assert.equal(pages.length, 1);
        const [page] = pages;
        assert.deepEqual(page?.records, [{ id: changed.toLowerCase(), etag: 'W/"77"', fields: { firstname: 'Ann' } }]);
        assert.deepEqual(page?.deletedIds, [gone.toLowerCase(), removed.toLowerCase()]);
      },
    );
  });

  test('delta: "an empty JSON response" when nothing changed, with or without a body, keeps the delta link', async () => {
    for (const empty of [json({}), { status: 200, headers: {}, body: '' }, { status: 204 }] as Canned[]) {
      await withOrg(
        ({ url }) => (url.includes('$deltatoken=5') ? empty : undefined),
        async ({ reader, base }) => {
          const link = `${base}contacts?$select=contactid,modifiedon,firstname&$deltatoken=5`;
          const pages = await collect(reader.readChanges(contact, deltaCursor(link), { fields: ['firstname'] }));
          assert.equal(pages.length, 1);
          assert.deepEqual([pages[0]?.records, pages[0]?.deletedIds, pages[0]?.done], [[], [], true]);
          assert.equal((JSON.parse(pages[0]?.cursor ?? '{}') as { link?: string }).link, link);
        },
      );
    }
  });

  test('$batch answers in every documented shape: LF lines, any boundary, header case, change sets, 204 or 201', async () => {
    const a = 'AAAAAAAA-0000-4000-8000-000000000001';
    const b = 'BBBBBBBB-0000-4000-8000-000000000002';
    const body = (base: string) =>
      [
        '--batchresponse_zz',
        'content-type: multipart/mixed; boundary=changesetresponse_yy',
        '',
        '--changesetresponse_yy',
        'content-type: application/http',
        '',
        'HTTP/1.1 204 No Content',
        'odata-version: 4.0',
        `location: ${base}contacts(${a})`,
        `odata-entityid: ${base}contacts(${a})`,
        '',
        '',
        '--changesetresponse_yy--',
        '--batchresponse_zz',
        'Content-Type: application/http',
        'Content-Transfer-Encoding: binary',
        '',
        'HTTP/1.1 201 Created',
        'Content-Type: application/json; odata.metadata=minimal',
        '',
        `{"@odata.etag":"W/\\"1001\\"","contactid":"${b}"}`,
        '--batchresponse_zz',
        'CONTENT-TYPE: application/http',
        '',
        'HTTP/1.1 412 Precondition Failed',
        'Content-Type: application/json',
        '',
        `{"error":{"code":"0x80060882","message":"The version of the existing record doesn't match the RowVersion property provided."}}`,
        '--batchresponse_zz',
        'Content-Type: application/http',
        '',
        'HTTP/1.1 400 Bad Request',
        'Content-Type: application/json',
        '',
        `{"error":{"code":"0x80044331","message":"A validation error occurred. The length of the 'firstname' attribute of the 'contact' entity exceeded the maximum allowed length of '50'."}}`,
        '--batchresponse_zz--',
        '',
      ].join('\n');
    let batches = 0;
    await withOrg(
      ({ url }, base) => {
        if (!url.endsWith('/$batch')) return undefined;
        batches += 1;
        // The whole batch throttled first (a plain JSON answer, not multipart): nothing ran, it is sent again.
        if (batches === 1)
          return json(
            {
              error: {
                code: '0x80072322',
                message: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
              },
            },
            429,
            { 'retry-after': '0' },
          );
        return {
          status: 200,
          headers: { 'content-type': 'multipart/mixed; boundary=batchresponse_zz' },
          body: body(base),
        };
      },
      async ({ writer }) => {
        const ops: WriteOp[] = [
          { kind: 'create', ref: 'r1', fields: { firstname: 'A' } },
          { kind: 'create', ref: 'r2', fields: { firstname: 'B' } },
          {
            kind: 'update',
            ref: 'r3',
            id: 'cccccccc-0000-4000-8000-000000000003',
            etag: 'W/"1"',
            fields: { firstname: 'C' },
          },
          { kind: 'create', ref: 'r4', fields: { firstname: 'D'.repeat(60) } },
        ];
        const results = await writer.write(contact, ops);
        assert.deepEqual(results, [
          { ref: 'r1', status: 'created', id: a.toLowerCase() },
          { ref: 'r2', status: 'created', id: b.toLowerCase(), etag: 'W/"1001"' },
          {
            ref: 'r3',
            status: 'conflict',
            message: "The version of the existing record doesn't match the RowVersion property provided.",
          },
          {
            ref: 'r4',
            status: 'rejected',
            code: '0x80044331',
            message:
              "A validation error occurred. The length of the 'firstname' attribute of the 'contact' entity exceeded the maximum allowed length of '50'.",
          },
        ]);
      },
    );
  });

  test('a create answered 412 (DuplicateRecord) is rejected with its code, not a conflict to re-read', async () => {
    await withOrg(
      ({ url }) =>
        url.endsWith('/$batch')
          ? {
              status: 200,
              headers: { 'content-type': 'multipart/mixed; boundary="batchresponse_1"' },
              body: [
                '--batchresponse_1',
                'Content-Type: application/http',
                'Content-Transfer-Encoding: binary',
                '',
                'HTTP/1.1 412 Precondition Failed',
                'Content-Type: application/json; odata.metadata=minimal',
                '',
                '{"error":{"code":"0x80040237","message":"A record with matching key values already exists."}}',
                '--batchresponse_1--',
                '',
              ].join('\r\n'),
            }
          : undefined,
      async ({ writer }) => {
        const [result] = await writer.write(contact, [{ kind: 'create', ref: 'dup', fields: { firstname: 'X' } }]);
        assert.deepEqual(result, {
          ref: 'dup',
          status: 'rejected',
          code: '0x80040237',
          message: 'A record with matching key values already exists.',
        });
      },
    );
  });
});
