import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './helpers';

test('300 long emails are looked up in one call: POST with _method=GET past the 8 KB URI limit', async () => {
  const h = await startHarness();
  try {
    const emails = Array.from({ length: 300 }, (_, i) => `a.rather.long.address.number.${i}@subsidiary.example.com`);
    for (const email of emails.slice(0, 250)) h.sandbox.createPerson({ email, firstName: 'Long' });
    assert.ok(emails.join(',').length > 8192, 'the query cannot fit in a URI');
    await h.connector.describe('lead'); // field names are checked against describe2 once, then cached
    h.sandbox.resetCounters();
    const found = await h.connector.findByEmail('lead', emails, { fields: ['email', 'firstName'] });
    assert.equal(found.length, 250);
    assert.equal(h.sandbox.counters.restCalls, 1, 'one call for 300 emails');
    assert.equal(h.sandbox.counters.byEndpoint['GET /v1/leads.json'], 1);
    assert.equal(h.sandbox.counters.byEndpoint['POST /v1/leads.json'] ?? 0, 0, 'not counted as a write');
    assert.equal(h.sandbox.counters.byErrorCode['414'] ?? 0, 0, 'never sent as a GET');
  } finally {
    await h.close();
  }
});
