/**
 * `urlLimit`: an initial sync of 2,000 people (whose look-ups by email make long URLs) behind a proxy in front of
 * Dataverse that answers 414 past 8 KB of URL (the Dataverse sandbox's gateway; Dataverse itself takes 32 KB),
 * and against Marketo's own 8 KB limit (a proxy there at 8 KB would add nothing). The same sync is run first with
 * neither limit (the gateway off, Marketo's limit raised to 1 MB): the difference in requests is what the limits
 * cost. Both runs must converge.
 */
import { judge, readState, seedPeople, type Verdict } from '../population';
import { info, must, type Scenario } from '../report';
import { Systems } from '../system';
import { quiet, Tandem } from '../tandem';

const PEOPLE = 2000;
const LIMIT = 8 * 1024;

interface Outcome {
  verdict: Verdict;
  dataverseRequests: number;
  gatewayRefused: number;
  marketoCalls: number;
  marketo414: number;
  cycles: number;
}

async function sync(limited: boolean): Promise<Outcome> {
  const systems = await Systems.start({ marketo: { limits: { maxUriBytes: limited ? LIMIT : 1024 * 1024 } } });
  let tandem: Tandem | undefined;
  try {
    if (limited) systems.dataverse.injectFaults({ gatewayMaxUrl: LIMIT, gatewayAnswer: 414 });
    seedPeople(systems, PEOPLE);
    const seeded = readState(systems);
    // Counted from start-up on (the schedule runs a first cycle at start), the same either way.
    tandem = await Tandem.start(systems, systems.tandemEnv({ TANDEM_SYNC_INTERVAL: '60' }));
    const runs = await tandem.settle();
    const last = runs.at(-1);
    const verdict = judge(PEOPLE, seeded, [], [], readState(systems));
    const dv = systems.dataverse.getCounters();
    return {
      verdict: last && quiet(last) ? verdict : { ...verdict, converged: false },
      dataverseRequests: dv.requests + dv.gatewayRefused,
      gatewayRefused: dv.gatewayRefused,
      marketoCalls: systems.marketo.counters.restCalls,
      marketo414: systems.marketo.counters.byErrorCode['414'] ?? 0,
      cycles: runs.length,
    };
  } finally {
    await tandem?.kill();
    await systems.close();
  }
}

export const urlLimit: Scenario = {
  name: 'urlLimit',
  async run(context) {
    const free = await sync(false);
    const limited = await sync(true);
    context.log(`urlLimit: without limits ${JSON.stringify({ ...free, verdict: free.verdict.converged })}`);
    context.log(`urlLimit: with limits ${JSON.stringify({ ...limited, verdict: limited.verdict.converged })}`);
    // Each refused request is sent again another way (POST with _method=GET, a GET inside $batch); the one sent
    // again is the request the sync needed anyway, so the refused ones are what the limits cost. (The totals of
    // two runs differ by a few reads whatever the limits: how far the Marketo scan reads ahead is timing.)
    return {
      setup: `an initial sync of ${PEOPLE} people, 414 past ${LIMIT} bytes of URL, against the same sync without`,
      figures: [
        must('converged', limited.verdict.converged, 'true', limited.verdict.converged),
        must('convergedWithoutLimit', free.verdict.converged, 'true', free.verdict.converged),
        must(
          'dataverseExtraRequests',
          limited.gatewayRefused,
          '≤ 3 (each refusal halves the length)',
          limited.gatewayRefused <= 3,
        ),
        info('dataverseRequests', `${limited.dataverseRequests} (${free.dataverseRequests} without the proxy)`),
        must('marketoExtraCalls', limited.marketo414, '≤ 3', limited.marketo414 <= 3),
        info('marketoCalls', `${limited.marketoCalls} (${free.marketoCalls} without the limit)`),
      ],
      detail: { free, limited },
    };
  },
};
