/**
 * The conformance suite against the in-memory connector: the reference configurations pass every check
 * (registered exactly as a connector's own test registers them), and each deliberately broken variant fails
 * the checks about what it breaks, run in process and, once, through `node:test` in a child process.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTandemError } from '../src/plugin';
import {
  CONFORMANCE_CHECK_IDS,
  connectorConformanceSuite,
  planConformance,
  runConformance,
  type ConformanceCheckId,
  type ConformanceOutcome,
} from '../src/testing';
import { BROKEN_VARIANTS, brokenHarness, ignoringHarness, referenceHarness } from './helpers/memory-harness';

connectorConformanceSuite(referenceHarness());
connectorConformanceSuite(ignoringHarness());

const summary = (outcomes: readonly ConformanceOutcome[]): string =>
  outcomes.map((o) => `${o.objectType ?? 'connector'} ${o.id}: ${o.message ?? o.status}`).join('\n');

describe('the conformance suite fails broken connectors', () => {
  test('run in process, the reference passes every check but the one it skips', async () => {
    const outcomes = await runConformance(referenceHarness());
    assert.deepEqual(
      outcomes.filter((o) => o.status === 'failed'),
      [],
      summary(outcomes),
    );
    assert.deepEqual(
      outcomes.filter((o) => o.status === 'skipped').map((o) => [o.objectType, o.id, o.reason]),
      [['lead', 'write.etag', 'leads are configured without etags']],
    );
    // Every object check for each of the two object types, and every connector check once.
    const objectChecks = planConformance(referenceHarness())[1]?.checks.length ?? 0;
    assert.equal(outcomes.length, CONFORMANCE_CHECK_IDS.length - objectChecks + 2 * objectChecks);
  });

  for (const variant of BROKEN_VARIANTS) {
    test(`a connector that ${variant.name} fails ${variant.caughtBy.join(', ')}`, async () => {
      const outcomes = await runConformance(brokenHarness(variant));
      const failed = outcomes.filter((o) => o.status === 'failed');
      for (const id of variant.caughtBy) {
        const failure = failed.find((o) => o.id === id);
        assert.ok(failure, `${id} fails; what failed:\n${summary(failed)}`);
        // A failure the suite asserted, or the connector's own error: never a crash of the suite itself.
        const error = failure.error;
        const asserted = error instanceof Error && error.name === 'AssertionError';
        assert.ok(asserted || isTandemError(error), `${id} failed by a crash: ${failure.message ?? ''}`);
      }
    });
  }

  test('every check fails for at least one broken variant: none of them cannot fail', () => {
    const caught = new Set<ConformanceCheckId>(BROKEN_VARIANTS.flatMap((v) => v.caughtBy));
    assert.deepEqual(
      CONFORMANCE_CHECK_IDS.filter((id) => !caught.has(id)),
      [],
    );
  });

  test('registered with node:test, a broken connector fails its test run, naming the check', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-conformance-'));
    try {
      const script = join(dir, 'broken.test.js');
      writeFileSync(
        script,
        `const { connectorConformanceSuite } = require(${JSON.stringify(join(__dirname, '..', 'src', 'testing'))});
const { brokenHarness, variantNamed } = require(${JSON.stringify(join(__dirname, 'helpers', 'memory-harness'))});
connectorConformanceSuite(brokenHarness(variantNamed('answers results in reverse order')));
`,
      );
      // The child is a test run of its own, not a subtest of this one.
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_TEST_CONTEXT'));
      const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        execFile(process.execPath, ['--test', '--test-reporter=tap', script], { env }, (error, out) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout: out }),
        );
      });
      assert.equal(code, 1, `the run fails:\n${stdout}`);
      assert.match(stdout, /^\s*not ok \d+ - write\.order: /m, 'write.order fails');
      assert.match(stdout, /^\s*ok \d+ - write\.create: /m, 'write.create passes');
      assert.match(
        stdout,
        /^\s*ok \d+ - write\.etag: .* \[skipped: leads are configured without etags\] # SKIP/m,
        "a harness's skip shows its reason in the test name",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the conformance harness', () => {
  test('a check is left out only by id and with a reason', () => {
    const harness = referenceHarness();
    assert.throws(
      () => planConformance({ ...harness, skip: { 'write.etag': ' ' } }),
      /skips 'write\.etag' without a reason/,
    );
    const misspelt = { 'write.etags': 'typo' } as Record<string, string>;
    assert.throws(() => planConformance({ ...harness, skip: misspelt }), /skips 'write\.etags', which is no check/);
  });

  test('documented feed exceptions show in the names of the checks they relax', () => {
    const harness = referenceHarness();
    const [contact, lead] = harness.objects;
    assert.ok(contact && lead);
    const feed = { overlap: 'a 1 s watermark overlap', repeats: 'whole-second paging tokens' };
    const groups = planConformance({ ...harness, objects: [{ ...contact, feed }, lead] });
    const names = groups[1]?.checks.map((c) => c.name) ?? [];
    const named = (id: string) => names.find((n) => n.startsWith(`${id}:`)) ?? '';
    assert.match(named('readChanges.incremental'), /\[overlap window: a 1 s watermark overlap\]$/);
    assert.match(named('readChanges.paging'), /\[repeats: whole-second paging tokens\]$/);
    assert.doesNotMatch(named('readChanges.deletes'), /overlap|repeats/);
  });
});
