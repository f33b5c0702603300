/**
 * The REST API against a hostile client: a few hundred requests generated from its OpenAPI document (see
 * `fuzz.ts`) against a Tandem instance with its sync engine and both sandboxes. No answer may be a 5xx, every
 * error is application/problem+json, no body shows a stack trace, a server path or a secret, no request that
 * breaks the API's rules is accepted, and a caller without the token learns nothing but a 401.
 * FUZZ_REQUESTS=<n> sends more; TANDEM_TEST_SEED=<n> picks other requests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { startTestMongo, type TestMongo } from '@tandem/core/testing';
import { fuzzApi } from './fuzz';
import { TOKEN, World } from './harness';
import { testSeed } from './random';

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

test('a few hundred hostile requests: no 5xx, every error problem+json, nothing leaked', async (t) => {
  const world = await World.start({ mongo, marketo: [0, 1, 2, 3], contacts: [2, 3, 4], leads: [5] });
  try {
    await world.cycle();
    const config = world.pluginConfig() as Record<string, Record<string, unknown>>;
    const secrets = [config['marketo']?.['clientSecret'], config['dynamics']?.['clientSecret']].filter(
      (s): s is string => typeof s === 'string',
    );
    const seed = testSeed();
    const figures = await fuzzApi({
      baseUrl: world.tandem.url,
      token: TOKEN,
      count: Number(process.env['FUZZ_REQUESTS'] ?? 300),
      seed,
      secrets,
      serverPaths: [resolve(__dirname, '../../..')],
    });
    const report = `seed ${seed}: ${JSON.stringify(figures, null, 2)}`;
    const { findings: _findings, ...counts } = figures;
    t.diagnostic(`seed ${seed}: ${JSON.stringify(counts)}`);
    assert.ok(figures.requests >= 300 || process.env['FUZZ_REQUESTS'] !== undefined, report);
    assert.equal(figures.serverErrors, 0, report);
    assert.equal(figures.nonProblemErrors, 0, report);
    assert.equal(figures.leaks, 0, report);
    assert.equal(figures.acceptedInvalid, 0, report);
    assert.equal(figures.authBypasses, 0, report);
    // Still alive and still itself after all that (the fuzzer holds the token: it may have deleted pipelines).
    assert.equal((await world.api('GET', '/v1/pipelines')).status, 200);
    assert.equal((await world.api('GET', '/health')).status, 200);
  } finally {
    await world.close();
  }
});
