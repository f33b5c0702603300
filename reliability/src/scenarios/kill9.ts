/**
 * `kill9`: Tandem is killed with SIGKILL at a random point (seeded) of an initial sync of 2,000 people, while
 * Dataverse answers its writes slowly (applied at once, answered 1.5 s later), so that a kill often lands with a
 * `$batch` written but not answered. While it is down, people are edited on both sides. It is restarted and
 * cycles are forced until one writes nothing; then both systems are judged (`population.ts`).
 *
 * Each trial has a world of its own (MongoDB, sandboxes). The kill's moment is a random fraction of an
 * uninterrupted initial sync's first cycle, timed once at the start (the calibration). The schedule is paused as
 * soon as the first cycle runs, so that after the restart only forced cycles run and each one's MongoDB commands
 * are counted on their own (by `bench/mongo-counter.mjs`, between Tandem and the server).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mulberry32 } from '@tandem/e2e/dist/src/random';
import { judge, makeEdits, readState, seedPeople, type Verdict } from '../population';
import { info, must, zero, type Context, type Scenario } from '../report';
import { Systems, type RunRecord } from '../system';
import { quiet, Tandem, written } from '../tandem';

const PEOPLE = 2000;
const WRITE_LATENCY_MS = 1500;
const EDITS = { marketo: 20, dynamics: 20, collisions: 5 };
const MAX_RECOVERY_CYCLES = 8;

interface Trial {
  seed: number;
  killAfterMs: number;
  /** A Dataverse write was applied but not yet answered when the process died. */
  midBatch: boolean;
  /** What the killed cycle had done, as its run said last. */
  killedRun: { status: string; counts: Record<string, number> };
  /** The killed run's status once the restarted instance ran (`interrupted`). */
  killedRunAfter: string;
  edits: number;
  /** MongoDB commands of each cycle after the restart, until one wrote nothing. */
  recoveryCommands: number[];
  recoveryCommandsByName: Array<Record<string, number>>;
  recoveryWritten: number[];
  verdict: Verdict;
}

/**
 * The process that is killed holds its lease for 2 s, so that the restarted one need not wait long for it; the
 * restarted one keeps the default 30 s, so that its heartbeats (one lease renewal and one run update every
 * third of it) add few commands to the cycles counted, whatever they last.
 */
function initialEnv(systems: Systems, leaseSeconds: string): Record<string, string> {
  return systems.tandemEnv({ TANDEM_SYNC_INTERVAL: '0.001', TANDEM_LEASE_SECONDS: leaseSeconds, LOG_LEVEL: 'warn' });
}

function restartEnv(systems: Systems): Record<string, string> {
  return systems.tandemEnv({ TANDEM_SYNC_INTERVAL: '60', LOG_LEVEL: 'warn' });
}

/** Starts an initial sync by the schedule and pauses the schedule once its first cycle runs. */
async function startInitialSync(systems: Systems, leaseSeconds: string): Promise<{ tandem: Tandem; run: RunRecord }> {
  const since = new Date(Date.now() - 1);
  const tandem = await Tandem.start(systems, initialEnv(systems, leaseSeconds));
  const run = await systems.waitForRunning(since, 60_000, tandem);
  await tandem.pause(true);
  return { tandem, run };
}

/** Forced cycles until one writes nothing: each one's run and MongoDB commands. */
interface Cycle {
  run: RunRecord;
  commands: number;
  /** Per command and collection (`"update links": 2`). */
  byName: Record<string, number>;
}

async function untilQuiet(systems: Systems, tandem: Tandem): Promise<Cycle[]> {
  const cycles: Cycle[] = [];
  for (let i = 0; i < MAX_RECOVERY_CYCLES; i++) {
    // Counted from the accepted request on: asks refused while the dead instance's lease lapses are not the
    // cycle's work (each costs a few lock and run reads, as many as the wait is long).
    let before = await systems.mongoCounts();
    const id = await tandem.force(120_000, async () => {
      before = await systems.mongoCounts();
    });
    const run = await systems.waitForRun(id, 300_000, tandem.process);
    const after = await systems.mongoCounts();
    const byName = Object.fromEntries(
      Object.entries(after.byName)
        .map(([name, n]) => [name, n - (before.byName[name] ?? 0)] as const)
        .filter(([, n]) => n > 0),
    );
    cycles.push({ run, commands: after.commands - before.commands, byName });
    if (quiet(run)) break;
  }
  return cycles;
}

/** How long an uninterrupted initial sync's first cycle takes here, and what the sync costs. */
async function calibrate(context: Context) {
  const systems = await Systems.start({ countCommands: true });
  try {
    seedPeople(systems, PEOPLE);
    const seeded = readState(systems);
    systems.dataverse.injectFaults({ writeLatencyMs: WRITE_LATENCY_MS });
    // Not killed: the default lease, as the restarted processes have it, so that the cycles compare.
    const { tandem, run } = await startInitialSync(systems, '30');
    const before = await systems.mongoCommands();
    const first = await systems.waitForRun(run._id, 300_000, tandem);
    const firstCommands = (await systems.mongoCommands()) - before;
    const ms = (first.finishedAt?.getTime() ?? 0) - (first.startedAt?.getTime() ?? 0);
    const rest = await untilQuiet(systems, tandem);
    await tandem.kill();
    // The judge on an uninterrupted sync: the first link's rules from the seeded systems, nothing else.
    const verdict = judge(PEOPLE, seeded, [], [], readState(systems));
    context.log(
      `kill9: an uninterrupted first cycle takes ${ms} ms (${firstCommands} MongoDB commands), then ` +
        `${rest.length} cycle(s) to quiet; ${verdict.converged ? 'converged' : `NOT converged: ${verdict.examples.slice(0, 3).join('; ')}`}`,
    );
    const cycles = [
      { written: written(first), commands: firstCommands },
      ...rest.map((c) => ({ written: written(c.run), commands: c.commands })),
    ];
    return { ms, cycles, verdict };
  } finally {
    await systems.close();
  }
}

async function trial(seed: number, cycleMs: number, context: Context): Promise<Trial> {
  const random = mulberry32(seed);
  const systems = await Systems.start({ countCommands: true });
  let tandem: Tandem | undefined;
  try {
    seedPeople(systems, PEOPLE);
    systems.dataverse.injectFaults({ writeLatencyMs: WRITE_LATENCY_MS });
    const started = await startInitialSync(systems, '2');
    tandem = started.tandem;
    const killAfterMs = Math.round((0.02 + 0.96 * random()) * cycleMs);
    const elapsed = Date.now() - (started.run.startedAt?.getTime() ?? Date.now());
    await sleep(Math.max(0, killAfterMs - elapsed));
    const midBatch = systems.dataverse.getCounters().writesAnswering > 0;
    await tandem.kill();
    const killed = (await systems.runs().findOne({ _id: started.run._id })) ?? started.run;

    // Whatever the dead process sent is applied (and its answer is lost) before anyone edits.
    while (systems.dataverse.getCounters().writesAnswering > 0) await sleep(50);
    systems.dataverse.injectFaults({ writeLatencyMs: 0 });
    const links = await systems.links().find({}).toArray();
    const before = readState(systems);
    const edits = makeEdits(systems, PEOPLE, random, EDITS, links, `k${seed}`);

    tandem = await Tandem.start(systems, restartEnv(systems));
    const cycles = await untilQuiet(systems, tandem);
    const killedRunAfter = (await systems.runs().findOne({ _id: started.run._id }))?.status ?? 'missing';
    const verdict = judge(PEOPLE, before, links, edits, readState(systems));
    const last = cycles.at(-1)?.run;
    if (last && !quiet(last))
      verdict.examples.unshift(`no quiet cycle after ${cycles.length}: ${last.status} ${last.error ?? ''}`);
    context.log(
      `kill9 seed ${seed}: killed after ${killAfterMs} ms${midBatch ? ' (mid-batch)' : ''}, ${edits.length} edits, ` +
        `recovery cycles ${cycles.map((c) => `${written(c.run)} written/${c.commands} commands`).join(', ')}; ` +
        `${verdict.converged ? 'converged' : `NOT converged: ${verdict.examples.slice(0, 3).join('; ')}`}`,
    );
    return {
      seed,
      killAfterMs,
      midBatch,
      killedRun: { status: killed.status, counts: killed.counts },
      killedRunAfter,
      edits: edits.length,
      recoveryCommands: cycles.map((c) => c.commands),
      recoveryCommandsByName: cycles.map((c) => c.byName),
      recoveryWritten: cycles.map((c) => written(c.run)),
      verdict: last && quiet(last) ? verdict : { ...verdict, converged: false },
    };
  } finally {
    await tandem?.kill();
    await systems.close();
  }
}

export const kill9: Scenario = {
  name: 'kill9',
  async run(context) {
    const trials = context.short ? 2 : 10;
    const calibration = await calibrate(context);
    const results: Trial[] = [];
    for (let t = 0; t < trials; t++) results.push(await trial(context.seed + t, calibration.ms, context));
    const sum = (f: (t: Trial) => number) => results.reduce((n, t) => n + f(t), 0);
    const converged = results.filter((t) => t.verdict.converged).length;
    const perCycle = results.flatMap((t) => t.recoveryCommands);
    return {
      setup:
        `${trials} trials, ${PEOPLE} people, seeds ${context.seed}…${context.seed + trials - 1}; Dataverse writes ` +
        `answered ${WRITE_LATENCY_MS} ms after they are applied; ${EDITS.marketo} Marketo and ${EDITS.dynamics} ` +
        `Dynamics edits and ${EDITS.collisions} collisions during each downtime`,
      figures: [
        info('trials', trials),
        must('converged', `${converged} of ${trials}`, `${trials} of ${trials}`, converged === trials),
        zero(
          'duplicates',
          sum((t) => t.verdict.duplicates),
        ),
        zero(
          'lostUpdates',
          sum((t) => t.verdict.lostUpdates),
        ),
        zero(
          'missing',
          sum((t) => t.verdict.missing),
        ),
        zero(
          'wrongValues',
          sum((t) => t.verdict.wrongValues),
        ),
        info('killedMidBatch', `${results.filter((t) => t.midBatch).length} of ${trials}`),
        must(
          'killedRunsInterrupted',
          `${results.filter((t) => t.killedRunAfter === 'interrupted').length} of ${trials}`,
          `${trials} of ${trials}`,
          results.every((t) => t.killedRunAfter === 'interrupted'),
        ),
        info('recoveryCycleCommands', results.map((t) => `[${t.recoveryCommands.join(', ')}]`).join(' ')),
        must(
          'maxCommandsPerRecoveryCycle',
          Math.max(...perCycle),
          `≤ 60 (not one per person: ${PEOPLE})`,
          Math.max(...perCycle) <= 60,
        ),
        info('uninterruptedSyncCommands', `[${calibration.cycles.map((c) => c.commands).join(', ')}]`),
        must('uninterruptedSyncConverged', calibration.verdict.converged, 'true', calibration.verdict.converged),
      ],
      detail: { calibration, trials: results },
    };
  },
};
