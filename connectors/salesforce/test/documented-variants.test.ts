/**
 * Answers Salesforce's documentation allows that the sandbox does not give, from a bare server with canned answers:
 * the connector must take every documented variant, not only the sandbox's.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { QuotaExhaustedError } from '@tandem/core/plugin';
import {
  CONTACT_DESCRIBE,
  contactRow,
  fakeConnector,
  ORG_ID,
  pathOf,
  startFakeOrg,
  tokenAnswer,
  USER_ID,
  type FakeAnswer,
  type FakeOrg,
  type FakeRequest,
} from './fake-org';
import { collect } from './helpers';

const BASE = '/services/data/v63.0/';

/** Runs `run` with an org whose REST API answers `answer` (the token endpoint on the same host). */
async function withOrg(
  answer: (req: FakeRequest, org: FakeOrg) => FakeAnswer | undefined,
  run: (org: FakeOrg) => Promise<void>,
): Promise<void> {
  const holder: { org?: FakeOrg } = {};
  const org = await startFakeOrg((req) => {
    const self = holder.org as FakeOrg;
    if (pathOf(req) === '/services/oauth2/token') return tokenAnswer(self.url);
    if (pathOf(req) === `${BASE}sobjects/Contact/describe`) return CONTACT_DESCRIBE;
    return answer(req, self);
  });
  holder.org = org;
  try {
    await run(org);
  } finally {
    await org.close();
  }
}

describe('documented variants', () => {
  test('instance_url on another host than SALESFORCE_URL: every REST request goes to the instance', async () => {
    const instance = await startFakeOrg((req) => {
      const path = pathOf(req);
      if (path === `/id/${ORG_ID}/${USER_ID}`) return { body: { username: 'integration@example.com' } };
      if (path === '/services/data/') return { body: [{ version: '63.0', url: '/services/data/v63.0' }] };
      if (path === `${BASE}sobjects/Contact/describe`) return CONTACT_DESCRIBE;
      if (path === `${BASE}query`) {
        return {
          body: {
            totalSize: 1,
            done: true,
            records: [contactRow('003000000000001AAA', 'ada@example.com', 'Lovelace')],
          },
        };
      }
      return undefined;
    });
    const login = await startFakeOrg((req) =>
      pathOf(req) === '/services/oauth2/token' ? tokenAnswer(instance.url) : undefined,
    );
    try {
      const c = fakeConnector(login.url);
      const checked = await c.check();
      assert.equal(checked.ok, true, checked.message);
      assert.equal(checked.identity, 'integration@example.com');
      const found = await c.findByEmail('Contact', ['ada@example.com'], { fields: ['Email', 'LastName'] });
      assert.deepEqual(
        found.map((r) => [r.id, r.fields.LastName]),
        [['003000000000001AAA', 'Lovelace']],
      );
      assert.deepEqual(
        login.requests.map((r) => pathOf(r)),
        ['/services/oauth2/token'],
        'only the token request goes to SALESFORCE_URL',
      );
      await c.close();
    } finally {
      await Promise.all([login.close(), instance.close()]);
    }
  });

  test('a nextRecordsUrl given as an absolute URL on the instance: the read follows it', async () => {
    await withOrg(
      (req, org) => {
        const path = pathOf(req);
        if (path === `${BASE}queryAll`) {
          return {
            body: {
              totalSize: 2,
              done: false,
              nextRecordsUrl: `${org.url}${BASE}query/01g000000000001AAA-1`,
              records: [contactRow('003000000000001AAA', 'ada@example.com', 'Lovelace')],
            },
          };
        }
        if (path === `${BASE}query/01g000000000001AAA-1`) {
          return {
            body: { totalSize: 2, done: true, records: [contactRow('003000000000002AAA', 'b@example.com', 'B')] },
          };
        }
        return undefined;
      },
      async (org) => {
        const c = fakeConnector(org.url);
        const pages = await collect(c.readChanges('Contact', null, { fields: ['Email', 'LastName'] }));
        assert.deepEqual(
          pages.flatMap((p) => p.records.map((r) => r.id)),
          ['003000000000001AAA', '003000000000002AAA'],
        );
        await c.close();
      },
    );
  });

  test('REQUEST_LIMIT_EXCEEDED whatever its message says: the allocation is spent, no retry', async () => {
    await withOrg(
      (req) =>
        pathOf(req) === `${BASE}query`
          ? {
              status: 403,
              body: [{ message: 'API request limit exceeded for this org.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }],
            }
          : undefined,
      async (org) => {
        const c = fakeConnector(org.url);
        await assert.rejects(
          c.findByEmail('Contact', ['ada@example.com'], { fields: ['Email'] }),
          (e: unknown) => e instanceof QuotaExhaustedError,
        );
        assert.equal(org.requests.filter((r) => pathOf(r) === `${BASE}query`).length, 1, 'not retried');
        await c.close();
      },
    );
  });
});
