/**
 * Look-ups by id and by email, in as few requests as Salesforce allows: ids in a retrieve body (2,000 a request),
 * emails in SOQL sized to the URI limit, split and sent again when something on the way refuses a URI for its
 * length (414, 431, a dropped connection), the smaller size remembered. Emails trimmed and case-insensitive.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONTACT_FIELDS, withHarness, type Harness } from './helpers';
import { startGateway } from './gateway';

function people(h: Harness, n: number, label: string): Array<{ id: string; email: string }> {
  return Array.from({ length: n }, (_, i) => {
    const email = `${label}.person_${i}@example.com`;
    return { id: h.sandbox.createRecord('Contact', { LastName: `${label}${i}`, Email: email }).id, email };
  });
}

describe('get', () => {
  test('2,500 ids: two retrieve requests (2,000 ids a body); ids that cannot exist are simply missing', async () => {
    await withHarness({}, async (h) => {
      const made = people(h, 2500, 'get');
      const c = h.connector();
      await c.describe('Contact');
      h.sandbox.resetCounters();
      const ids = [...made.map((m) => m.id), 'no-such-id', '00Q000000000000AAA'];
      const records = await c.get('Contact', ids, { fields: CONTACT_FIELDS });
      assert.equal(records.length, 2500);
      assert.equal(h.sandbox.getCounters().byKind.retrieve, 2);
      assert.equal(h.sandbox.getCounters().apiRequests, 2);
    });
  });
});

describe('findByEmail', () => {
  test('1,000 emails: a few SOQL requests, each within the URI limit, found trimmed and case-insensitive', async () => {
    await withHarness({}, async (h) => {
      const made = people(h, 500, 'many');
      const padded = h.sandbox.createRecord('Contact', { LastName: 'Padded', Email: '  Padded.One@Example.COM ' });
      const c = h.connector();
      await c.describe('Contact');
      h.sandbox.resetCounters();
      const emails = [
        ...made.map((m) => m.email.toUpperCase()),
        ...made.map((_, i) => ` nobody.${i}@example.com`),
        'padded.one@example.com',
      ];
      const found = await c.findByEmail('Contact', emails, { fields: CONTACT_FIELDS });
      assert.deepEqual(new Set(found.map((r) => r.id)), new Set([...made.map((m) => m.id), padded.id]));
      const counters = h.sandbox.getCounters();
      assert.equal(counters.tooLarge, 0, 'no request over the limit');
      assert.ok(counters.byKind.query <= 5, `${counters.byKind.query} requests for 1,001 emails`);
      assert.ok(counters.byKind.query >= 4, 'each request filled to the limit: fewer would not fit');
    });
  });

  test('matchPaddedEmails off: Email IN (…) (indexed, more emails a request), exact but for case', async () => {
    await withHarness({}, async (h) => {
      const made = people(h, 500, 'exact');
      const padded = h.sandbox.createRecord('Contact', { LastName: 'Padded', Email: ' padded.two@example.com' });
      const c = h.connector({ matchPaddedEmails: false });
      await c.describe('Contact');
      h.sandbox.resetCounters();
      const emails = [...made.map((m) => m.email.toUpperCase()), ...made.map((_, i) => `nobody.${i}@example.com`)];
      const found = await c.findByEmail('Contact', [...emails, 'padded.two@example.com'], { fields: CONTACT_FIELDS });
      assert.equal(found.length, 500);
      assert.ok(!found.some((r) => r.id === padded.id), 'a padded email is not found this way');
      assert.ok(h.sandbox.getCounters().byKind.query <= 3);
    });
  });

  for (const limit of ['414', 'a dropped connection'] as const) {
    test(`URIs refused (${limit}): the look-up is split and sent again, and the smaller size kept for the org`, async () => {
      await withHarness({}, async (h) => {
        const made = people(h, 600, 'split');
        const emails = made.map((m) => m.email);
        const gateway = limit === '414' ? undefined : await startGateway(h.running.url, h.running.caPem, 8000);
        try {
          // The 414 case: a connector that believes it may send 60 KB of URI, to an org that takes 16 KB.
          const overrides =
            limit === '414'
              ? { limits: { ...h.config.limits, maxUriBytes: 60_000 } as typeof h.config.limits }
              : { url: gateway?.url ?? '', tlsCa: gateway?.caPem ?? '' };
          const c = h.connector(overrides);
          await c.describe('Contact');
          const found = await c.findByEmail('Contact', emails, { fields: CONTACT_FIELDS });
          assert.equal(found.length, 600);
          const refused = () => (limit === '414' ? h.sandbox.getCounters().tooLarge : (gateway?.dropped ?? 0));
          const first = refused();
          // 600 emails make one 34 KB look-up. Refused at 16 KB (414): halved to 17 KB, refused again, then 8.5 KB
          // look-ups pass. Dropped past 8 KB by the gateway: 7.5 KB look-ups pass. Each halving is paid once.
          assert.equal(first, limit === '414' ? 2 : 1, 'refusals');
          assert.equal(c.stats().urisTooLong, first);
          // Remembered: the next look-up, and a new connection to the same org, meet no refusal.
          const again = await c.findByEmail('Contact', emails, { fields: CONTACT_FIELDS });
          const fresh = h.connector(overrides);
          const third = await fresh.findByEmail('Contact', emails, { fields: CONTACT_FIELDS });
          assert.deepEqual([again.length, third.length], [600, 600]);
          assert.equal(refused(), first);
        } finally {
          await gateway?.close();
        }
      });
    });
  }
});
