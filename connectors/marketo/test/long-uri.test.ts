/**
 * Reads whose URI grows with their input, behind a proxy that caps URIs below Marketo's 8 KB: refused with 414,
 * with 431, or with the connection closed, each read goes again as POST `_method=GET`, and the shorter limit is
 * kept for the rest of the process. The answers are those of a direct connection; the calls spent are counted.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RemoteRecord } from '@tandem/core/plugin';
import { STANDARD_FIELDS } from '@tandem/sandbox-marketo';
import { collect, startHarness, type Harness } from './helpers';
import { startProxy, type Refusal } from './proxy';

/**
 * Records by id, each once: a lead created within the second a load starts comes in both of its phases (paging
 * tokens are taken from a datetime to the second), and which reads see it twice depends on the clock.
 */
const byId = (records: RemoteRecord[]) =>
  [...new Map(records.map((r) => [r.id, { id: r.id, fields: r.fields }])).values()].sort(
    (a, b) => Number(a.id) - Number(b.id),
  );

/** Emails whose Get Leads URI is about 6 KB: under Marketo's 8 KB, over the proxy's 4 KB. */
const emails = (from: number) =>
  Array.from({ length: 120 }, (_, i) => `someone.number.${from + i}@a-subsidiary.example.com`);

let h: Harness;
before(async () => {
  h = await startHarness({ seed: true, people: 40 });
  for (const email of [...emails(0), ...emails(1000)].filter((_, i) => i % 3 === 0)) {
    h.sandbox.createPerson({ email, firstName: 'Long' });
  }
});
after(() => h.close());

for (const refusal of ['414', '431', 'close'] as Refusal[]) {
  describe(`a proxy refusing URIs over 4 KB (${refusal === 'close' ? 'closing the connection' : refusal})`, () => {
    test('reads go again as POST _method=GET, once; the shorter limit is kept', async () => {
      const proxy = await startProxy(h.url, 4096, refusal);
      const c = h.connect({ baseUrl: proxy.url, maxAttempts: 2 });
      try {
        await c.describe('lead');
        const fields = ['email', 'firstName'];
        const first = await c.findByEmail('lead', emails(0), { fields });
        assert.deepEqual(byId(first), byId(await h.connector.findByEmail('lead', emails(0), { fields })));
        assert.equal(first.length, 40);
        assert.deepEqual(proxy.counts, { get: 2, post: 1, refused: 1 }, 'describe, the refused GET, the POST');
        // The next long read goes as POST straight away; a short one still as GET.
        const second = await c.findByEmail('lead', emails(1000), { fields });
        assert.equal(second.length, 40);
        const ids = await c.get('lead', ['1', '2', '3'], { fields });
        assert.equal(ids.length, 3);
        assert.deepEqual(proxy.counts, { get: 3, post: 2, refused: 1 });
        assert.equal(c.stats().longUriRetries, 1);
        assert.ok(c.stats().uriLimit < 4096, `the limit kept: ${c.stats().uriLimit}`);
      } finally {
        await c.close();
        await proxy.close();
      }
    });
  });
}

test('a proxy refusing URIs over 700 bytes: every read survives, in a bounded number of refused calls', async () => {
  const proxy = await startProxy(h.url, 700, '414');
  const direct = h.connect();
  // One read at a time, so that each refusal is seen before the next read is sent (reads already under way when
  // one is refused are refused too, one call each).
  const c = h.connect({ baseUrl: proxy.url, initialLoad: { lookahead: 1 } });
  try {
    // Every standard field the API may write: a `fields=` list of some 700 characters on leadchanges and reads.
    const fields = STANDARD_FIELDS.filter((f) => f.updateable).map((f) => f.name);
    assert.ok(fields.join(',').length > 600);
    const cursor = (pages: Array<{ cursor: string }>) => pages.at(-1)?.cursor ?? '';
    const throughProxy = await collect(c.readChanges('lead', null, { fields }));
    const straight = await collect(direct.readChanges('lead', null, { fields }));
    assert.deepEqual(byId(throughProxy.flatMap((p) => p.records)), byId(straight.flatMap((p) => p.records)));
    h.sandbox.editPerson(5, { title: 'Changed' });
    const changes = await collect(c.readChanges('lead', cursor(throughProxy), { fields }));
    assert.deepEqual(
      changes.flatMap((p) => p.records.map((r) => [r.id, r.fields.title])),
      [['5', 'Changed']],
    );
    const ids = Array.from({ length: 300 }, (_, i) => String(i + 1));
    assert.equal((await c.get('lead', ids, { fields: ['email'] })).length, h.sandbox.listPersons().length);
    // Each refusal at least halves the limit: from 8 KB to under 700 bytes takes at most four.
    assert.ok(proxy.counts.refused >= 1 && proxy.counts.refused <= 4, `${proxy.counts.refused} refused`);
    assert.equal(c.stats().longUriRetries, proxy.counts.refused);
    assert.ok(c.stats().uriLimit < 700);
  } finally {
    await Promise.all([c.close(), direct.close()]);
    await proxy.close();
  }
});
