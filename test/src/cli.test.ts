/**
 * The `tandem` command as an operator runs it: a child process (`core/dist/src/cli/bin.js`) talking to a real
 * Tandem over its REST API (`TANDEM_URL`, `TANDEM_API_TOKEN`), against both sandboxes. Each command's output and
 * exit code: 0 done, 1 failed or something to fix, 2 a wrong command line; errors are one line, no stack.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { startTandem, type RunningTandem } from '@tandem/core';
import { samplePerson, startTestMongo, type TestMongo } from '@tandem/core/testing';
import { PIPELINE, TOKEN, World, silent, type Run } from './harness';
import { freePort } from './tandem-process';

const BIN = resolve(__dirname, '../../../core/dist/src/cli/bin.js');

let mongo: TestMongo;
before(async () => {
  mongo = await startTestMongo();
});
after(async () => {
  await mongo.stop();
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tandem args…` against `url`, the way an operator's shell would (no terminal: plain text, no colours). */
function tandem(args: string[], url: string, env: Record<string, string> = {}): Promise<Result> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        env: { PATH: process.env['PATH'] ?? '', TANDEM_URL: url, TANDEM_API_TOKEN: TOKEN, NO_COLOR: '1', ...env },
        timeout: 120_000,
      },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? null : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** No error output may carry a stack trace. */
function noStack(result: Result): void {
  assert.doesNotMatch(result.stderr, /\n\s+at .+\(.+:\d+:\d+\)/, result.stderr);
}

async function start(world: World): Promise<RunningTandem> {
  const running = await startTandem({
    env: { TANDEM_API_TOKEN: TOKEN, LOG_LEVEL: 'silent' },
    pluginConfig: world.pluginConfig(),
    mongoUri: mongo.uri,
    dbName: world.dbName,
    port: 0,
    logger: silent,
    schedule: false,
  });
  world.instances.push(running);
  return running;
}

const email = (i: number) => samplePerson(i).email;

test('tandem status: every pipeline with its state, last run and counts, next run and errors since the last success', async () => {
  const world = await World.start({ mongo, marketo: [0, 1, 2], contacts: [1, 3], external: true });
  try {
    const { url } = await start(world);
    const before = await tandem(['status'], url);
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, /^default {2}marketo ↔ dynamics$/m);
    assert.match(before.stdout, /last run +none yet/);
    assert.match(before.stdout, /errors +none \(no run has succeeded yet\)/);

    const run = await world.cycle();
    const after = await tandem(['status'], url);
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, /state +idle/);
    assert.match(
      after.stdout,
      new RegExp(`last run +succeeded .* \\(manual\\): read ${run.counts['read']}, created ${run.counts['created']}`),
    );
    assert.match(after.stdout, /next run +in \d+ (s|min) \(/);
    assert.match(after.stdout, /errors +none since the last success/);

    // A run that fails is counted against the pipeline until one succeeds again.
    world.marketo.setFaults({ failEvery: { n: 1, code: 607 } });
    const failed = await world.cycle();
    assert.equal(failed.status, 'failed');
    const json = await tandem(['status', '--json'], url);
    assert.equal(json.code, 0);
    const [status] = JSON.parse(json.stdout) as Array<{
      id: string;
      lastRun: Run;
      sinceLastSuccess: { unsuccessfulRuns: number; lastError?: string };
    }>;
    assert.equal(status?.id, PIPELINE);
    assert.equal(status?.lastRun.id, failed.id);
    assert.equal(status?.sinceLastSuccess.unsuccessfulRuns, 1);
    assert.match(status?.sinceLastSuccess.lastError ?? '', /quota/i);
    const text = await tandem(['status'], url);
    assert.match(text.stdout, /last run +failed/);
    assert.match(text.stdout, /errors +since the last success .*: 1 run\(s\) not succeeded/);
  } finally {
    await world.close();
  }
});

test('tandem run --follow: progress per connection, the result, exit 0 when it succeeded and 1 otherwise', async () => {
  const world = await World.start({ mongo, marketo: [0, 1, 2], contacts: [1, 3], external: true });
  try {
    const { url } = await start(world);
    const ok = await tandem(['run', PIPELINE, '--follow', '--poll', '20'], url);
    assert.equal(ok.code, 0, ok.stderr);
    const [last] = (await world.api<Run[]>('GET', `/v1/pipelines/${PIPELINE}/runs?limit=1`)).body;
    assert.match(ok.stderr, new RegExp(`Started run ${last?.id} of default`));
    assert.match(
      ok.stdout,
      new RegExp(
        `^Run ${last?.id} succeeded in [\\d.]+ s: read ${last?.counts['read']}, created ${last?.counts['created']}`,
        'm',
      ),
    );
    assert.match(ok.stdout, /^ {2}marketo: read \d+, written \d+$/m);
    assert.match(ok.stdout, /^ {2}dynamics: read \d+, written \d+$/m);

    // Without --follow: the run's id, at once.
    const started = await tandem(['run', PIPELINE, '--json'], url);
    assert.equal(started.code, 0);
    const { runId } = JSON.parse(started.stdout) as { runId: string };
    await world.waitForRun(runId);

    // A cycle already running is followed rather than refused.
    world.marketo.setFaults({ latencyMs: 1500 });
    const running = await world.api<{ runId: string }>('POST', `/v1/pipelines/${PIPELINE}/runs`);
    const followed = await tandem(['run', PIPELINE, '--follow', '--poll', '50'], url);
    world.marketo.setFaults({ latencyMs: 0 });
    assert.match(followed.stderr, new RegExp(`already running \\(run ${running.body.runId}\\): following it`));
    assert.match(followed.stdout, new RegExp(`^Run ${running.body.runId} succeeded`, 'm'));
    assert.equal(followed.code, 0);

    // A run that fails: its error, and exit 1.
    world.marketo.setFaults({ failEvery: { n: 1, code: 607 } });
    const failed = await tandem(['run', PIPELINE, '--follow', '--poll', '20'], url);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /^Run \S+ failed/m);
    assert.match(failed.stdout, /error: .*quota/i);
    noStack(failed);
  } finally {
    await world.close();
  }
});

test('tandem plan: what the next cycle would create, update and link, per person and field; --json is the API answer', async () => {
  const world = await World.start({ mongo, marketo: [0, 1], contacts: [1, 3], external: true });
  try {
    const { url } = await start(world);
    const text = await tandem(['plan', PIPELINE], url);
    assert.equal(text.code, 0, text.stderr);
    const api = (await world.api<{ counts: Record<string, number> }>('GET', `/v1/pipelines/${PIPELINE}/plan`)).body;
    assert.match(
      text.stdout,
      new RegExp(
        `^Plan for default: the next cycle would create ${api.counts['created']}, update ${api.counts['updated']}, link 1, delete 0 and reject 0$`,
        'm',
      ),
    );
    assert.match(text.stdout, new RegExp(`^\\+ create in dynamics lead {2}${email(0)}`, 'm'));
    assert.match(text.stdout, new RegExp(`^ +emailaddress1 +→ "${email(0)}"$`, 'm'));
    assert.match(text.stdout, new RegExp(`^\\+ create in marketo lead {2}${email(3)}`, 'm'));
    assert.match(text.stdout, new RegExp(`^= link {2}${email(1)}`, 'm'));
    const json = await tandem(['plan', PIPELINE, '--json'], url);
    assert.equal(json.code, 0);
    assert.deepEqual((JSON.parse(json.stdout) as { counts: unknown }).counts, api.counts);
    assert.equal(
      (await world.api<unknown[]>('GET', `/v1/pipelines/${PIPELINE}/links`)).body.length,
      0,
      'nothing written',
    );

    const missing = await tandem(['plan', 'nope'], url);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), 'tandem: No pipeline "nope" (HTTP 404 NOT_FOUND)');
  } finally {
    await world.close();
  }
});

test('tandem doctor: configuration, MongoDB, each connection and the mapped fields; exit 1 with what to fix', async () => {
  const world = await World.start({ mongo, marketo: [0], external: true, extras: true });
  try {
    const { url } = await start(world);
    await world.cycle();
    const healthy = await tandem(['doctor'], url);
    assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
    assert.match(healthy.stdout, /^MongoDB$/m);
    assert.match(healthy.stdout, /^connection marketo\n {2}ok {4}credentials work, connected as /m);
    assert.match(healthy.stdout, /ok {4}API allowance left: [\d,]+ of 50,000 \(day \(US Central\)/);
    assert.match(healthy.stdout, /ok {4}clock: the system is \d+ s (ahead of|behind) Tandem/);
    assert.match(healthy.stdout, /^pipeline default$/m);
    assert.match(healthy.stdout, /^Nothing to fix/m);

    // A field the Dynamics sync user may not read, mapped as required: named, with the fix.
    const mappings = (await world.api<{ objects: unknown[] }>('GET', `/v1/pipelines/${PIPELINE}/mappings`)).body;
    const secured = await world.api('PUT', `/v1/pipelines/${PIPELINE}/mappings`, {
      objects: [
        ...(mappings.objects as Array<Record<string, unknown>>).map((o) =>
          o['dynamics'] === 'lead'
            ? {
                ...o,
                fields: [
                  ...(o['fields'] as unknown[]),
                  { marketo: 'leadScore', dynamics: 'mkt_leadscore', direction: 'both' },
                ],
              }
            : o,
        ),
      ],
    });
    assert.equal(secured.status, 200, JSON.stringify(secured.body));
    const field = await tandem(['doctor'], url);
    assert.equal(field.code, 1, field.stdout);
    assert.match(
      field.stdout,
      /FAIL {2}lead->lead marketo\.leadScore ↔ dynamics\.mkt_leadscore: mapped both, syncs \S+: .*\n {8}fix: Grant the sync user access/,
    );
    assert.match(field.stdout, /^1 problem\(s\) to fix/m);
    // And a Marketo connection whose secret is wrong.
    world.marketo.revokeTokens();
    const broken = await startTandem({
      env: { TANDEM_API_TOKEN: TOKEN, LOG_LEVEL: 'silent' },
      pluginConfig: {
        ...world.pluginConfig(),
        marketo: { ...(world.pluginConfig()['marketo'] as object), clientSecret: 'not-the-secret' },
      },
      mongoUri: mongo.uri,
      dbName: world.dbName,
      port: 0,
      logger: silent,
      schedule: false,
    });
    world.instances.push(broken);
    const sick = await tandem(['doctor'], broken.url);
    assert.equal(sick.code, 1, sick.stdout);
    assert.match(sick.stdout, /^connection marketo\n {2}FAIL {2}.+\n {8}fix: Check marketo's credentials and URL$/m);
    assert.match(
      sick.stdout,
      /^pipeline default\n {2}FAIL {2}the mapped fields could not be checked: .*\n {8}fix: Fix the connections above/m,
    );
    assert.match(sick.stdout, /^\d+ problem\(s\) to fix/m);
    const json = await tandem(['doctor', '--json'], broken.url);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout) as { ok: boolean; findings: Array<{ section: string; level: string }> };
    assert.equal(report.ok, false);
    assert.ok(report.findings.some((f) => f.section === 'connection marketo' && f.level === 'fail'));

    const noToken = await tandem(['doctor'], url, { TANDEM_API_TOKEN: '' });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stdout, /FAIL {2}TANDEM_API_TOKEN is not set/);
  } finally {
    await world.close();
  }
});

test('tandem links and activity by email; tandem reset needs --yes', async () => {
  const world = await World.start({ mongo, marketo: [0, 1], contacts: [1], external: true });
  try {
    const { url } = await start(world);
    await world.cycle();
    const links = await tandem(['links', email(1)], url);
    assert.equal(links.code, 0, links.stderr);
    const [link] = (
      await world.api<Array<{ ids: Record<string, string> }>>(
        'GET',
        `/v1/pipelines/${PIPELINE}/links?email=${email(1)}`,
      )
    ).body;
    assert.match(
      links.stdout,
      new RegExp(
        `^linked {2}${email(1)} {2}marketo lead ${link?.ids['marketo']} ↔ dynamics contact ${link?.ids['dynamics']}`,
        'm',
      ),
    );
    const none = await tandem(['links', 'nobody@example.com'], url);
    assert.equal(none.code, 1);
    assert.match(none.stdout, /No link for nobody@example.com in default/);

    const activity = await tandem(['activity', email(0)], url);
    assert.equal(activity.code, 0, activity.stderr);
    assert.match(activity.stdout, /created +dynamics/);
    const json = await tandem(['activity', email(0), '--json'], url);
    assert.deepEqual(
      JSON.parse(json.stdout),
      (await world.api('GET', `/v1/pipelines/${PIPELINE}/activity?email=${encodeURIComponent(email(0))}&limit=50`))
        .body,
    );

    const unconfirmed = await tandem(['reset', PIPELINE], url);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /run again with --yes to confirm/);
    assert.equal(
      (await world.api<unknown[]>('GET', `/v1/pipelines/${PIPELINE}/links`)).body.length,
      2,
      'nothing reset',
    );
    const reset = await tandem(['reset', PIPELINE, '--yes'], url);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(
      reset.stdout,
      /^Reset default: 2 link\(s\) and \d+ cursor\(s\) removed; its next cycle is an initial sync\.$/m,
    );
    assert.equal((await world.api<unknown[]>('GET', `/v1/pipelines/${PIPELINE}/links`)).body.length, 0);
  } finally {
    await world.close();
  }
});

test('errors: an unreachable server, a wrong token, a wrong command line; one message, no stack, non-zero', async () => {
  const world = await World.start({ mongo, external: true });
  try {
    const { url } = await start(world);
    const closed = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await tandem(['status'], closed);
    assert.equal(unreachable.code, 1);
    assert.equal(
      unreachable.stderr.trim(),
      `tandem: Cannot reach Tandem at ${closed} (connection refused). Is it running? Start it with \`tandem start\`, or point TANDEM_URL at it.`,
    );
    const refused = await tandem(['status'], url, { TANDEM_API_TOKEN: 'not-the-token-0123456789' });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused the API token \(401\): set TANDEM_API_TOKEN/);
    const usage = await tandem(['run'], url);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /missing required argument 'pipeline'/);
    const unknown = await tandem(['frobnicate'], url);
    assert.equal(unknown.code, 2);
    const badNumber = await tandem(['plan', PIPELINE, '--limit', 'lots'], url);
    assert.equal(badNumber.code, 2);
    for (const result of [unreachable, refused, usage, unknown, badNumber]) noStack(result);
    const help = await tandem(['--help'], url);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes: 0 done, 1 failed or something to fix, 2 wrong command line/);
  } finally {
    await world.close();
  }
});
