/**
 * `takeover`: two Tandem instances on one database, each on the schedule (an interval of 3 s, a lease of 10 s).
 * While a cycle runs (people edited beforehand, Dataverse writes answered 2 s after they are applied), the
 * instance holding the lease is killed with SIGKILL. The other must run the next cycle once the lease lapses, no
 * cycle may ever run twice (two runs of the pipeline at once), and the people must converge. The killed instance
 * is replaced before the next trial.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mulberry32 } from '@tandem/e2e/dist/src/random';
import { judge, makeEdits, readState, seedPeople, type Edit } from '../population';
import { info, must, zero, type Scenario } from '../report';
import { Systems, type RunRecord } from '../system';
import { quiet, Tandem } from '../tandem';

const PEOPLE = 400;
const LEASE_SECONDS = 10;
const EDITS = { marketo: 60, dynamics: 60, collisions: 0 };

/** The pid in an instance id (`<host>-<pid>-<random>`, as Tandem names itself). */
const pidOf = (instanceId: string) => Number(/-(\d+)-[0-9a-f]+$/.exec(instanceId)?.[1]);

/** Pairs of runs whose time spans overlap; a killed run ends when its process died. */
function overlapping(runs: readonly RunRecord[], deaths: ReadonlyMap<string, number>): number {
  const spans = runs
    .filter((r) => r.startedAt)
    .map((r) => {
      const start = r.startedAt?.getTime() ?? 0;
      const end = deaths.get(r._id) ?? r.finishedAt?.getTime() ?? Date.now();
      return { start, end };
    })
    .sort((a, b) => a.start - b.start);
  let count = 0;
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length && (spans[j]?.start ?? 0) < (spans[i]?.end ?? 0); j++) count++;
  }
  return count;
}

export const takeover: Scenario = {
  name: 'takeover',
  async run(context) {
    const count = context.short ? 1 : 3;
    const random = mulberry32(context.seed + 200);
    const systems = await Systems.start();
    const instances: Tandem[] = [];
    try {
      seedPeople(systems, PEOPLE);
      const seeded = readState(systems);
      const env = systems.tandemEnv({
        TANDEM_SYNC_INTERVAL: '0.05',
        TANDEM_LEASE_SECONDS: String(LEASE_SECONDS),
        LOG_LEVEL: 'warn',
      });
      instances.push(await Tandem.start(systems, env), await Tandem.start(systems, env));
      // The initial sync, by whichever instance takes it, to the first cycle that writes nothing.
      await until(async () => (await systems.runs().find({ status: 'succeeded' }).toArray()).some(quiet), 300_000);
      const deaths = new Map<string, number>();
      const seconds: number[] = [];
      const edits: Edit[] = [];
      const before = readState(systems);
      const links = await systems.links().find({}).toArray();
      systems.dataverse.injectFaults({ writeLatencyMs: 2000 });
      for (let t = 0; t < count; t++) {
        const since = new Date();
        edits.push(...makeEdits(systems, PEOPLE, random, EDITS, links, `t${t}`, new Set(edits.map((e) => e.index))));
        const run = await systems.waitForRunning(since, 60_000);
        const holder = instances.find((i) => i.pid === pidOf(run.instanceId));
        if (!holder) throw new Error(`no instance of ours runs ${run.instanceId}`);
        await sleep(300 + random() * 1500);
        const killedAt = Date.now();
        await holder.kill();
        deaths.set(run._id, killedAt);
        const next = await systems.waitForRunning(new Date(killedAt), 120_000);
        seconds.push((next.startedAt?.getTime() ?? Date.now()) - killedAt);
        context.log(
          `takeover: killed ${run.instanceId} mid-cycle; the other ran the next cycle ${seconds.at(-1)} ms later`,
        );
        instances.splice(instances.indexOf(holder), 1);
        instances.push(await Tandem.start(systems, env));
      }
      systems.dataverse.injectFaults({ writeLatencyMs: 0 });
      const settledSince = new Date();
      await until(
        async () =>
          (
            await systems
              .runs()
              .find({ startedAt: { $gt: settledSince }, status: 'succeeded' })
              .toArray()
          ).some(quiet),
        300_000,
      );
      const runs = await systems.runs().find({}).toArray();
      const twice = overlapping(runs, deaths);
      // Edits were judged against the state after the initial sync; the seeded state judges nobody edited.
      const verdict = judge(PEOPLE, before, links, edits, readState(systems));
      const initial = judge(PEOPLE, seeded, [], [], before);
      const max = Math.max(...seconds) / 1000;
      return {
        setup:
          `2 instances on one database, a ${LEASE_SECONDS} s lease, a 3 s interval, ${PEOPLE} people, ${count} ` +
          `kill(s) of the lease holder mid-cycle, ${EDITS.marketo + EDITS.dynamics} edits before each`,
        figures: [
          info('kills', count),
          must(
            'secondsToNextCycle',
            seconds.map((s) => s / 1000),
            `≤ ${LEASE_SECONDS + 3} (lease + interval)`,
            max <= LEASE_SECONDS + 3,
          ),
          zero('cyclesRunTwice', twice),
          must('converged', verdict.converged && initial.converged, 'true', verdict.converged && initial.converged),
          zero('duplicates', verdict.duplicates),
          zero('lostUpdates', verdict.lostUpdates),
          info('runs', runs.length),
        ],
        detail: { seconds, runs: runs.length, verdict, initial },
      };
    } finally {
      for (const instance of instances) await instance.kill();
      await systems.close();
    }
  },
};

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(100);
  }
}
