/**
 * `mongoPause`: the MongoDB server (jongodb, its own process) is paused with SIGSTOP for 30 s in the middle of a
 * cycle of an initial sync (Dataverse writes answered 2 s after they are applied, so the cycle is under way),
 * then resumed with SIGCONT. Tandem runs with MongoDB's default timeouts (10 s), as a deployment that changed
 * nothing would. Meanwhile `/health` and `/ready` are asked every second (each with 3 s to answer). Afterwards:
 * what the interrupted cycle's run says, whether the next cycle succeeds, whether the process lived on, and
 * whether anybody was lost (the sync then runs to its end and is judged as `kill9` judges).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { judge, readState, seedPeople } from '../population';
import { info, must, zero, type Scenario } from '../report';
import { API_TOKEN, Systems } from '../system';
import { quiet, Tandem } from '../tandem';

const PEOPLE = 600;
const PAUSE_MS = 30_000;

interface Probe {
  at: number;
  health: number | string;
  ready: number | string;
  readyMs: number;
  readyReasons?: string[];
}

async function probe(tandem: Tandem, at: number): Promise<Probe> {
  const ask = async (path: string) => {
    const started = Date.now();
    try {
      const response = await fetch(`${tandem.url}${path}`, {
        headers: { authorization: `Bearer ${API_TOKEN}` },
        signal: AbortSignal.timeout(3000),
      });
      const body = (await response.json().catch(() => ({}))) as { reasons?: string[] };
      return { status: response.status as number | string, ms: Date.now() - started, body };
    } catch (error) {
      return { status: error instanceof Error ? error.name : 'error', ms: Date.now() - started, body: {} };
    }
  };
  const [health, ready] = await Promise.all([ask('/health'), ask('/ready')]);
  return {
    at,
    health: health.status,
    ready: ready.status,
    readyMs: ready.ms,
    ...(ready.body.reasons ? { readyReasons: ready.body.reasons } : {}),
  };
}

/** `{ 200: 30 }` → `200 × 30`. */
function tally(values: ReadonlyArray<number | string>): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
  return [...counts].map(([v, n]) => `${v} × ${n}`).join(', ');
}

export const mongoPause: Scenario = {
  name: 'mongoPause',
  async run(context) {
    const systems = await Systems.start();
    let tandem: Tandem | undefined;
    try {
      seedPeople(systems, PEOPLE);
      const seeded = readState(systems);
      systems.dataverse.injectFaults({ writeLatencyMs: 2000 });
      const since = new Date(Date.now() - 1);
      tandem = await Tandem.start(systems, systems.tandemEnv({ TANDEM_SYNC_INTERVAL: '0.05', LOG_LEVEL: 'info' }));
      const run = await systems.waitForRunning(since, 60_000, tandem);
      // In the middle of the cycle: once its first writes are on their way.
      while (systems.dataverse.getCounters().writesAnswering === 0) await sleep(20);
      systems.mongo.process.kill('SIGSTOP');
      const pausedAt = Date.now();
      context.log(`mongoPause: MongoDB paused during run ${run._id}`);
      const probes: Probe[] = [];
      while (Date.now() - pausedAt < PAUSE_MS) {
        const at = Date.now();
        probes.push(await probe(tandem, at - pausedAt));
        await sleep(Math.max(0, 1000 - (Date.now() - at)));
      }
      systems.mongo.process.kill('SIGCONT');
      const resumedAt = Date.now();
      systems.dataverse.injectFaults({ writeLatencyMs: 0 });

      // Recovered: a cycle that started after the resume succeeds (the schedule's, every 3 s).
      let next: { status: string; startedAt: Date | null } | null = null;
      for (let end = Date.now() + 120_000; Date.now() < end; await sleep(200)) {
        next = await systems
          .runs()
          .findOne(
            { startedAt: { $gt: new Date(resumedAt) }, status: { $in: ['succeeded', 'failed'] } },
            { sort: { startedAt: 1 } },
          );
        if (next) break;
      }
      const recovered = next?.status === 'succeeded';
      const secondsToRecover = next?.startedAt ? (next.startedAt.getTime() - resumedAt) / 1000 : null;
      const during = await systems.runs().findOne({ _id: run._id });
      const alive = tandem.process.exit === undefined;
      const after = await probe(tandem, Date.now() - pausedAt);

      // Then the sync to its end, and the judge.
      await tandem.pause(true);
      while ((await systems.runs().countDocuments({ status: 'running' })) > 0) await sleep(100);
      const settled = await tandem.settle();
      const verdict = judge(PEOPLE, seeded, [], [], readState(systems));
      const lastQuiet = settled.length > 0 && quiet(settled[settled.length - 1] as (typeof settled)[number]);
      const errorsLogged = tandem.process.log().filter((l) => typeof l['level'] === 'number' && l['level'] >= 50);
      const unserialized = tandem.output().includes('unable to serialize');
      context.log(
        `mongoPause: run ${during?.status} (${during?.error ?? ''}); next cycle ${next?.status} after ` +
          `${secondsToRecover} s; ${verdict.converged ? 'converged' : verdict.examples.slice(0, 3).join('; ')}`,
      );
      const health = probes.map((p) => p.health);
      const ready = probes.map((p) => p.ready);
      const maxReadyMs = Math.max(...probes.map((p) => p.readyMs));
      return {
        setup: `${PEOPLE} people, MongoDB paused ${PAUSE_MS / 1000} s mid-cycle, default MongoDB timeouts`,
        figures: [
          info('runReported', `${during?.status ?? 'missing'}: ${during?.error ?? ''}`),
          must(
            'healthDuringPause',
            tally(health),
            'all 200',
            health.every((s) => s === 200),
          ),
          must(
            'readyDuringPause',
            tally(ready),
            'all 503',
            ready.every((s) => s === 503),
          ),
          must('readySlowest', `${maxReadyMs} ms`, '≤ 1500 ms', maxReadyMs <= 1500),
          info('readyReasons', [...new Set(probes.flatMap((p) => p.readyReasons ?? []))].join('; ')),
          must('recovered', recovered, 'true', recovered),
          info('secondsToRecover', secondsToRecover),
          must('processAlive', alive, 'true', alive),
          must('readyAfter', after.ready, '200', after.ready === 200),
          zero('lost', verdict.missing + verdict.lostUpdates + verdict.wrongValues),
          zero('duplicates', verdict.duplicates),
          must('converged', verdict.converged && lastQuiet, 'true', verdict.converged && lastQuiet),
          info('errorsLogged', errorsLogged.length),
          must('errorsSerialized', !unserialized, 'true', !unserialized),
        ],
        detail: { probes, run: during, next, verdict },
      };
    } finally {
      await tandem?.kill();
      await systems.close();
    }
  },
};
