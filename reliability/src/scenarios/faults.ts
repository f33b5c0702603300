/**
 * `faults`: an initial sync and a round of edits on both sides while a quarter of Marketo's calls answer 606 and
 * a quarter of Dataverse's requests 429 with Retry-After, 5 % of each answer 500 (none of them applied), and both
 * systems' access tokens expire every few seconds. Cycles are forced until one writes nothing; some fail on the
 * way, which is what a schedule is for. The same sync without faults (same people, same edits) is the floor the
 * calls are set against.
 *
 * The Marketo sandbox's rolling window is 2 s here (100 calls), so that its 606 names 2 s and the connector,
 * which waits the window a 606 names (as Marketo documents), waits 2 s rather than 20: the figures are counts,
 * and the run would otherwise take minutes of waiting for the same counts.
 */
import { mulberry32 } from '@tandem/e2e/dist/src/random';
import { judge, makeEdits, readState, seedPeople, type Verdict } from '../population';
import { info, must, zero, type Scenario } from '../report';
import { Systems, type RunRecord } from '../system';
import { quiet, Tandem } from '../tandem';

const PEOPLE = 1000;
const EDITS = { marketo: 30, dynamics: 30, collisions: 5 };
const TOKEN_EXPIRY_MS = 4000;
const MAX_CYCLES = 20;

/** Codes whose Marketo calls count toward no limit or quota (Marketo's error-codes page, the starred ones). */
const UNCHARGED = ['601', '602', '604', '605', '608', '611'];

interface Outcome {
  initial: Verdict;
  /** One per round of edits. */
  afterRounds: Verdict[];
  runs: RunRecord[];
  marketoCalls: number;
  marketoCharged: number;
  marketoByCode: Record<string, number>;
  identityCalls: number;
  dataverseRequests: number;
  dataverseThrottled: number;
  dataverseTokenRequests: number;
}

/** Cycles until one writes nothing and fails nothing; failed cycles are part of the run. */
async function settle(tandem: Tandem): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  for (let i = 0; i < MAX_CYCLES; i++) {
    const run = await tandem.cycle(600_000);
    runs.push(run);
    if (quiet(run)) break;
  }
  return runs;
}

async function sync(seed: number, faulty: boolean, rounds: number): Promise<Outcome> {
  const systems = await Systems.start({ marketo: { limits: { windowMs: 2000 } } });
  let tandem: Tandem | undefined;
  let expiry: NodeJS.Timeout | undefined;
  try {
    seedPeople(systems, PEOPLE);
    const seeded = readState(systems);
    if (faulty) {
      systems.marketo.setFaults({
        randomFailures: {
          seed,
          codes: [
            { code: 606, share: 0.25 },
            { code: 500, share: 0.05 },
          ],
        },
      });
      systems.dataverse.injectFaults({
        throttleShare: 0.25,
        failShare: 0.05,
        failStatus: 500,
        retryAfterSeconds: 1,
        faultSeed: seed,
      });
      expiry = setInterval(() => {
        systems.marketo.expireTokens();
        systems.dataverse.expireTokens();
      }, TOKEN_EXPIRY_MS);
    }
    // Everything from start-up on meets the faults and is counted (the schedule runs a first cycle at start).
    tandem = await Tandem.start(systems, systems.tandemEnv({ TANDEM_SYNC_INTERVAL: '60' }));
    const runs = await settle(tandem);
    let before = readState(systems);
    const initial = judge(PEOPLE, seeded, [], [], before);
    const random = mulberry32(seed);
    const afterRounds: Verdict[] = [];
    let links = await systems.links().find({}).toArray();
    for (let round = 0; round < rounds; round++) {
      const edits = makeEdits(systems, PEOPLE, random, EDITS, links, `f${seed}r${round}`);
      runs.push(...(await settle(tandem)));
      const now = readState(systems);
      afterRounds.push(judge(PEOPLE, before, links, edits, now));
      before = now;
      links = await systems.links().find({}).toArray();
    }
    const last = runs.at(-1);
    if (!last || !quiet(last)) initial.converged = false;
    // Every cycle, the schedule's first one at start-up included.
    const all = await systems.runs().find({}).sort({ startedAt: 1 }).toArray();
    const m = systems.marketo.counters;
    const dv = systems.dataverse.getCounters();
    const uncharged = UNCHARGED.reduce((n, code) => n + (m.byErrorCode[code] ?? 0), 0);
    return {
      initial,
      afterRounds,
      runs: all,
      marketoCalls: m.restCalls,
      marketoCharged: m.restCalls - uncharged,
      marketoByCode: m.byErrorCode,
      identityCalls: m.identityCalls,
      dataverseRequests: dv.requests,
      dataverseThrottled: dv.throttled,
      dataverseTokenRequests: dv.tokenRequests,
    };
  } finally {
    clearInterval(expiry);
    await tandem?.kill();
    await systems.close();
  }
}

export const faults: Scenario = {
  name: 'faults',
  async run(context) {
    const seed = context.seed + 400;
    const rounds = context.short ? 2 : 6;
    const floor = await sync(seed, false, rounds);
    const faulty = await sync(seed, true, rounds);
    const statuses = (o: Outcome) => o.runs.map((r) => r.status);
    context.log(`faults: the floor took ${floor.runs.length} cycles (${statuses(floor).join(', ')})`);
    context.log(
      `faults: with faults ${faulty.runs.length} cycles (${statuses(faulty).join(', ')}); Marketo ${JSON.stringify(faulty.marketoByCode)}`,
    );
    const verdicts = [faulty.initial, ...faulty.afterRounds];
    const converged = verdicts.every((v) => v.converged);
    const lost = verdicts.reduce((n, v) => n + v.missing + v.lostUpdates + v.wrongValues, 0);
    const ratio = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 100) / 100);
    return {
      setup:
        `${PEOPLE} people, an initial sync, then ${rounds} round(s) of ${EDITS.marketo + EDITS.dynamics} edits and ` +
        `${EDITS.collisions} collisions; Marketo 25 % 606 and 5 % HTTP 500, Dataverse 25 % 429 (Retry-After 1 s) and 5 % HTTP 500, ` +
        `tokens of both expired every ${TOKEN_EXPIRY_MS / 1000} s; seed ${seed}`,
      figures: [
        must('converged', converged, 'true', converged),
        zero('lost', lost),
        zero(
          'duplicates',
          verdicts.reduce((n, v) => n + v.duplicates, 0),
        ),
        info(
          'cycles',
          `${faulty.runs.length} (${faulty.runs.filter((r) => r.status !== 'succeeded').length} failed; ${floor.runs.length} without faults)`,
        ),
        info(
          'marketoCalls',
          `${faulty.marketoCalls}, ${faulty.marketoCharged} against the quota (floor ${floor.marketoCharged}: ×${ratio(faulty.marketoCharged, floor.marketoCharged)})`,
        ),
        info(
          'marketoFaults',
          `606 × ${faulty.marketoByCode['606'] ?? 0}, 500 × ${faulty.marketoByCode['500'] ?? 0}, 602 × ${faulty.marketoByCode['602'] ?? 0}`,
        ),
        info(
          'dataverseRequests',
          `${faulty.dataverseRequests} (floor ${floor.dataverseRequests}: ×${ratio(faulty.dataverseRequests, floor.dataverseRequests)}), ${faulty.dataverseThrottled} answered 429`,
        ),
        info(
          'tokenRequests',
          `Marketo ${faulty.identityCalls} (floor ${floor.identityCalls}), Entra ID ${faulty.dataverseTokenRequests} (floor ${floor.dataverseTokenRequests})`,
        ),
      ],
      detail: { floor: { ...floor, runs: statuses(floor) }, faulty: { ...faulty, runs: faulty.runs } },
    };
  },
};
