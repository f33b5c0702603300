/**
 * Turns a harness into groups of named checks, and runs one check against the right remote: the group's
 * shared one (started on first use, closed with the group) or, for `fresh` checks, one of its own.
 */
import type {
  StartedConnector,
  ConformanceCheckId,
  ConformanceHarness,
  ConformanceObject,
  ConformanceSkips,
} from './harness';
import { CONFORMANCE_CHECK_IDS } from './harness';
import { CheckSkipped, describeError, type CheckContext, type CheckDefinition } from './support';
import { CHECKS } from './checks';

export interface PlannedCheck {
  check: CheckDefinition;
  /** The test name: id, what it asserts, documented relaxations, and the reason when skipped. */
  name: string;
  /** Set when the harness opts out of the check. */
  skipReason?: string;
}

export interface ConformanceGroup {
  /** `connector`, or `object <objectType>`. */
  title: string;
  /** The object type of an object group; the first one for the connector group. */
  object: ConformanceObject;
  objectType?: string;
  checks: PlannedCheck[];
}

/** The checks a harness runs, grouped per connector and per object type. Throws on a malformed harness. */
export function planConformance(harness: ConformanceHarness): ConformanceGroup[] {
  validateHarness(harness);
  const first = harness.objects[0] as ConformanceObject;
  const plan = (check: CheckDefinition, object: ConformanceObject, skips: ConformanceSkips): PlannedCheck => {
    const skipReason = skips[check.id];
    const notes = (check.notes?.(object) ?? []).map((note) => `[${note}]`);
    const skipped = skipReason === undefined ? [] : [`[skipped: ${skipReason}]`];
    const name = [`${check.id}: ${check.title}`, ...notes, ...skipped].join(' ');
    return { check, name, ...(skipReason === undefined ? {} : { skipReason }) };
  };
  const groups: ConformanceGroup[] = [
    {
      title: 'connector',
      object: first,
      checks: CHECKS.filter((c) => c.scope === 'connector').map((c) => plan(c, first, harness.skip ?? {})),
    },
  ];
  for (const object of harness.objects) {
    const skips = { ...harness.skip, ...object.skip };
    groups.push({
      title: `object ${object.objectType}`,
      object,
      objectType: object.objectType,
      checks: CHECKS.filter((c) => c.scope === 'object').map((c) => plan(c, object, skips)),
    });
  }
  return groups;
}

function validateHarness(harness: ConformanceHarness): void {
  const problem = (what: string): never => {
    throw new Error(`conformance harness '${harness.name}': ${what}`);
  };
  if (!harness.name) problem('give it a name');
  if (harness.objects.length === 0) problem('give it at least one object type');
  const types = harness.objects.map((o) => o.objectType);
  if (new Set(types).size !== types.length) problem(`an object type is listed twice: ${types.join(', ')}`);
  const checkSkips = (skips: ConformanceSkips | undefined, where: string) => {
    for (const [id, reason] of Object.entries(skips ?? {})) {
      if (!(CONFORMANCE_CHECK_IDS as readonly string[]).includes(id))
        problem(`${where} skips '${id}', which is no check`);
      if (typeof reason !== 'string' || reason.trim() === '') problem(`${where} skips '${id}' without a reason`);
    }
  };
  checkSkips(harness.skip, 'it');
  for (const object of harness.objects) {
    checkSkips(object.skip, object.objectType);
    const named = [object.emailField, object.readableField, ...object.writableStrings];
    if (object.writableStrings.length === 0) problem(`${object.objectType}: name at least one writable string`);
    if (new Set(named).size !== named.length) {
      problem(`${object.objectType}: the email field, the readable field and the writable strings must differ`);
    }
  }
}

/** Runs the checks of one group, each against the right remote. Close it when the group is done. */
export class GroupRun {
  private shared: Promise<StartedConnector> | undefined;

  constructor(
    private readonly harness: ConformanceHarness,
    private readonly group: ConformanceGroup,
  ) {}

  /** Runs one check: resolves when it passes, throws `CheckSkipped` when it does not apply, else its failure. */
  async run(planned: PlannedCheck): Promise<void> {
    const { check } = planned;
    if (check.fresh) {
      const started = await this.harness.start();
      try {
        await check.run(this.context(started));
      } finally {
        await started.close();
      }
      return;
    }
    // Started on first use: if the start fails, every check of the group fails with its error.
    this.shared ??= this.harness.start();
    await check.run(this.context(await this.shared));
  }

  async close(): Promise<void> {
    const started = await this.shared?.catch(() => undefined);
    this.shared = undefined;
    await started?.close();
  }

  private context(started: StartedConnector): CheckContext {
    return {
      harness: this.harness,
      object: this.group.object,
      started,
      skip: (reason: string): never => {
        throw new CheckSkipped(reason);
      },
    };
  }
}

export interface ConformanceOutcome {
  /** The object type, or `undefined` for a connector-level check. */
  objectType: string | undefined;
  id: ConformanceCheckId;
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  /** Why the check was skipped. */
  reason?: string;
  /** Why it failed (an `AssertionError` with the expectation broken, or the connector's own error). */
  error?: unknown;
  /** The failure in one line. */
  message?: string;
}

/**
 * Runs the suite without `node:test` and answers each check's outcome: for tools, and for testing the suite
 * itself (a broken connector must fail the checks about what it breaks). `only` limits it to some checks.
 */
export async function runConformance(
  harness: ConformanceHarness,
  options: { only?: readonly ConformanceCheckId[] } = {},
): Promise<ConformanceOutcome[]> {
  const outcomes: ConformanceOutcome[] = [];
  for (const group of planConformance(harness)) {
    const run = new GroupRun(harness, group);
    try {
      for (const planned of group.checks) {
        if (options.only && !options.only.includes(planned.check.id)) continue;
        const base = { objectType: group.objectType, id: planned.check.id, name: planned.name };
        if (planned.skipReason !== undefined) {
          outcomes.push({ ...base, status: 'skipped', reason: planned.skipReason });
          continue;
        }
        try {
          await run.run(planned);
          outcomes.push({ ...base, status: 'passed' });
        } catch (error) {
          if (error instanceof CheckSkipped) outcomes.push({ ...base, status: 'skipped', reason: error.reason });
          else outcomes.push({ ...base, status: 'failed', error, message: describeError(error) });
        }
      }
    } finally {
      await run.close();
    }
  }
  return outcomes;
}
