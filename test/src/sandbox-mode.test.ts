/**
 * Sandbox mode, as a newcomer meets it (`npm start` with nothing configured): every installed connector's
 * sandbox starts vanilla and seeded, the `default` and `marketo-salesforce` pipelines exist, their cycles sync
 * the sample people, and the mappings name the extras a vanilla org lacks as not syncing, and why.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTandem } from '@tandem/core';
import { startTestMongo, type TestMongo } from '@tandem/core/testing';
import { silent, TOKEN, type Run } from './harness';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

test('sandbox mode: three vanilla sandboxes, two pipelines, the sample people synced, the extras listed as absent', async () => {
  const tandem = await startTandem({
    env: { TANDEM_API_TOKEN: TOKEN, LOG_LEVEL: 'silent' },
    mongoUri: mongo.uri,
    dbName: mongo.freshDbName('sandbox-mode'),
    port: 0,
    logger: silent,
    schedule: false,
  });
  try {
    const api = async <T>(method: string, path: string) => {
      const response = await fetch(`${tandem.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
      return { status: response.status, body: (await response.json()) as T };
    };
    assert.equal(tandem.config.mode, 'sandbox');
    const connections = await api<Array<{ id: string; mode: string }>>('GET', '/v1/connections');
    assert.deepEqual(connections.body.map((c) => `${c.id}:${c.mode}`).sort(), [
      'dynamics:sandbox',
      'marketo:sandbox',
      'salesforce:sandbox',
    ]);
    const pipelines = await api<Array<{ id: string }>>('GET', '/v1/pipelines');
    assert.deepEqual(
      pipelines.body.map((p) => p.id),
      ['default', 'marketo-salesforce'],
    );

    for (const pipeline of ['default', 'marketo-salesforce']) {
      const started = await api<{ runId: string }>('POST', `/v1/pipelines/${pipeline}/runs`);
      assert.equal(started.status, 202);
      let run: Run;
      for (;;) {
        run = (await api<Run>('GET', `/v1/runs/${started.body.runId}`)).body;
        if (run.status !== 'running') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(run.status, 'succeeded', `${pipeline}: ${run.error ?? ''}`);
      assert.ok(
        (run.counts['created'] ?? 0) > 0 && (run.counts['read'] ?? 0) >= 300,
        `${pipeline}: ${JSON.stringify(run.counts)}`,
      );
    }

    const mappings = await api<{
      unsyncable: Array<{ object: string; marketo: string; dynamics: string; optional?: boolean; reasons: string[] }>;
      analysis: { errors: string[]; missing: string[] };
    }>('GET', '/v1/pipelines/default/mappings');
    assert.deepEqual(mappings.body.analysis.errors, []);
    assert.deepEqual(mappings.body.analysis.missing, []);
    const extras = mappings.body.unsyncable.filter((f) => f.optional);
    assert.deepEqual([...new Set(extras.map((f) => f.marketo))].sort(), [
      'leadScore',
      'microsoftIsDeleted',
      'microsoftType',
    ]);
    assert.ok(extras.every((f) => f.reasons.some((r) => /optional field/.test(r))));
    const links = await api<unknown[]>('GET', '/v1/pipelines/default/links?limit=1000');
    assert.ok(links.body.length >= 300, `${links.body.length} people linked`);
  } finally {
    await tandem.close();
  }
});
