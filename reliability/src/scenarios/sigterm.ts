/**
 * `sigterm`: SIGTERM at a random point (seeded) of a cycle of an initial sync, with both systems answering
 * slowly (Marketo 300 ms a call, Dataverse writes 3 s after they are applied), so that the cycle is waiting on
 * one of them. Tandem must exit 0 within its 10 s grace, its run must be `interrupted`, and so must a restarted
 * instance show it; the restarted instance then syncs to the end (judged as `kill9` judges).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mulberry32 } from '@tandem/e2e/dist/src/random';
import { judge, readState, seedPeople, type Verdict } from '../population';
import { info, must, zero, type Scenario } from '../report';
import { Systems } from '../system';
import { quiet, Tandem } from '../tandem';

const PEOPLE = 400;

interface Trial {
  seed: number;
  signalAfterMs: number;
  /** The cycle was still running when the signal was sent. */
  duringCycle: boolean;
  ms: number;
  exitCode: number | null;
  signal: string | null;
  /** The run as the stopping process left it, and as a restarted instance's API shows it. */
  runStatus: string;
  runShownAfterRestart: string;
  verdict: Verdict;
}

async function trial(seed: number): Promise<Trial> {
  const random = mulberry32(seed);
  const systems = await Systems.start();
  let tandem: Tandem | undefined;
  try {
    seedPeople(systems, PEOPLE);
    const seeded = readState(systems);
    systems.marketo.setFaults({ latencyMs: 300 });
    systems.dataverse.injectFaults({ writeLatencyMs: 3000 });
    const env = systems.tandemEnv({ TANDEM_SYNC_INTERVAL: '0.001', LOG_LEVEL: 'info' });
    const since = new Date(Date.now() - 1);
    tandem = await Tandem.start(systems, env);
    const run = await systems.waitForRunning(since, 60_000, tandem);
    const signalAfterMs = Math.round(300 + random() * 5000);
    await sleep(signalAfterMs);
    const duringCycle = (await systems.runs().findOne({ _id: run._id }))?.status === 'running';
    const exit = await tandem.terminate();
    const runStatus = (await systems.runs().findOne({ _id: run._id }))?.status ?? 'missing';

    systems.marketo.setFaults({ latencyMs: 0 });
    systems.dataverse.injectFaults({ writeLatencyMs: 0 });
    tandem = await Tandem.start(systems, env);
    const shown = await tandem.api<{ status: string }>('GET', `/v1/runs/${run._id}`);
    const runs = await tandem.settle();
    const last = runs.at(-1);
    const verdict = judge(PEOPLE, seeded, [], [], readState(systems));
    return {
      seed,
      signalAfterMs,
      duringCycle,
      ms: exit.ms,
      exitCode: exit.code,
      signal: exit.signal,
      runStatus,
      runShownAfterRestart: shown.body.status,
      verdict: last && quiet(last) ? verdict : { ...verdict, converged: false },
    };
  } finally {
    await tandem?.kill();
    await systems.close();
  }
}

export const sigterm: Scenario = {
  name: 'sigterm',
  async run(context) {
    const count = context.short ? 1 : 3;
    const trials: Trial[] = [];
    for (let t = 0; t < count; t++) {
      const result = await trial(context.seed + 100 + t);
      context.log(
        `sigterm seed ${result.seed}: signalled ${result.signalAfterMs} ms into a cycle` +
          `${result.duringCycle ? '' : ' (it had ended)'}, exit ${result.exitCode ?? result.signal} after ` +
          `${result.ms} ms, run ${result.runStatus} (${result.runShownAfterRestart} after a restart)`,
      );
      trials.push(result);
    }
    const seconds = Math.max(...trials.map((t) => t.ms)) / 1000;
    const interrupted = trials.filter((t) => t.runStatus === 'interrupted' && t.runShownAfterRestart === 'interrupted');
    const converged = trials.filter((t) => t.verdict.converged).length;
    return {
      setup:
        `${count} trial(s), ${PEOPLE} people, SIGTERM 0.3–5.3 s into a cycle of the initial sync; Marketo answers in ` +
        `300 ms, Dataverse writes 3 s after they are applied`,
      figures: [
        must(
          'signalledDuringCycle',
          `${trials.filter((t) => t.duringCycle).length} of ${count}`,
          `${count} of ${count}`,
          trials.every((t) => t.duringCycle),
        ),
        must('seconds', seconds, '< 10', seconds < 10),
        must(
          'exitCode',
          trials.map((t) => t.exitCode ?? -1),
          '0',
          trials.every((t) => t.exitCode === 0),
        ),
        must(
          'runInterrupted',
          `${interrupted.length} of ${count}`,
          `${count} of ${count}`,
          interrupted.length === count,
        ),
        must('convergedAfterRestart', `${converged} of ${count}`, `${count} of ${count}`, converged === count),
        zero(
          'duplicates',
          trials.reduce((n, t) => n + t.verdict.duplicates, 0),
        ),
        info(
          'secondsEach',
          trials.map((t) => t.ms / 1000),
        ),
      ],
      detail: trials,
    };
  },
};
