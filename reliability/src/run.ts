#!/usr/bin/env node
/**
 * `npm run test:reliability`: Tandem's reliability suite. Each scenario starts what it needs (a MongoDB
 * wire-protocol server as its own process, both sandboxes, Tandem as its own process), breaks something on
 * purpose, and reports figures, each with its target. Prints a table, writes `reliability/results.json`, and
 * exits 1 when a figure does not hold.
 *
 *   node reliability/dist/src/run.js [--short] [--only kill9,fuzz] [--seed N]
 *
 * With `--only`, the file keeps the last figures of the scenarios not run, each report dated.
 *
 * `--short` (or RELIABILITY_SHORT=1) is the CI version: a few trials, a few hundred fuzz requests; it writes
 * `reliability/results.short.json` instead, so that the committed figures stay those of a full run.
 * RELIABILITY_SEED (or --seed) picks the random choices; the seed is printed, and the same seed replays them.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { failed, machine, table, type Context, type Scenario, type ScenarioReport } from './report';
import { faults } from './scenarios/faults';
import { fuzz } from './scenarios/fuzz';
import { kill9 } from './scenarios/kill9';
import { mongoPause } from './scenarios/mongo-pause';
import { secrets } from './scenarios/secrets';
import { sigterm } from './scenarios/sigterm';
import { takeover } from './scenarios/takeover';
import { urlLimit } from './scenarios/url-limit';

const SCENARIOS: Scenario[] = [kill9, faults, urlLimit, mongoPause, sigterm, fuzz, secrets, takeover];
const DEFAULT_SEED = 20261207;

function options() {
  const { values } = parseArgs({
    options: {
      short: { type: 'boolean', default: false },
      only: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const short = values.short || process.env['RELIABILITY_SHORT'] === '1';
  const rawSeed = values.seed ?? process.env['RELIABILITY_SEED'];
  const seed = rawSeed === undefined ? DEFAULT_SEED : Number(rawSeed);
  if (!Number.isInteger(seed)) throw new Error(`the seed must be an integer, got "${rawSeed}"`);
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((name) => !SCENARIOS.some((s) => s.name === name)) ?? [];
  if (unknown.length > 0) {
    throw new Error(`no scenario ${unknown.join(', ')}; there are ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  return { short, seed, only, scenarios: SCENARIOS.filter((s) => !only || only.includes(s.name)) };
}

async function main(): Promise<number> {
  const { short, seed, scenarios, only } = options();
  const started = Date.now();
  const log = (text: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${text}\n`);
  log(`reliability suite${short ? ' (short)' : ''}, seed ${seed}, on ${machine()}`);
  const context: Context = { short, seed, log };
  const reports: ScenarioReport[] = [];
  for (const scenario of scenarios) {
    log(`${scenario.name}: starting`);
    const at = Date.now();
    let report: ScenarioReport;
    try {
      report = { scenario: scenario.name, seconds: 0, ...(await scenario.run(context)) };
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`${scenario.name}: could not finish: ${message}`);
      report = {
        scenario: scenario.name,
        seconds: 0,
        setup: '',
        figures: [],
        error: message.split('\n')[0] ?? message,
      };
    }
    report.seconds = Math.round((Date.now() - at) / 1000);
    log(`${scenario.name}: ${failed(report) ? 'FAILED' : 'held'} in ${report.seconds} s`);
    reports.push(report);
  }
  const file = resolve(__dirname, `../../${short ? 'results.short.json' : 'results.json'}`);
  // With --only, the scenarios not run keep their last figures (each report carries its own date then).
  const dated = reports.map((r) => ({ ...r, date: new Date().toISOString() }));
  const all = only ? [...kept(file, dated), ...dated] : dated;
  all.sort(
    (a, b) => SCENARIOS.findIndex((s) => s.name === a.scenario) - SCENARIOS.findIndex((s) => s.name === b.scenario),
  );
  const results = {
    machine: machine(),
    seed,
    short,
    date: new Date().toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    holds: !all.some(failed),
    scenarios: all,
  };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\n${table(reports)}\n\n`);
  log(`${results.holds ? 'every figure holds' : 'SOME FIGURES DO NOT HOLD'}; written to ${file}`);
  return results.holds ? 0 : 1;
}

/** The reports of `file` (a previous run) for scenarios other than those of `fresh`, dated as that run was. */
function kept(file: string, fresh: readonly ScenarioReport[]): ScenarioReport[] {
  if (!existsSync(file)) return [];
  const previous = JSON.parse(readFileSync(file, 'utf8')) as { date?: string; scenarios?: ScenarioReport[] };
  return (previous.scenarios ?? [])
    .filter((r) => !fresh.some((f) => f.scenario === r.scenario))
    .map((r) => ({ date: previous.date, ...r }));
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
