/**
 * The connector conformance suite: one set of checks every connector's own tests run (as Airbyte runs one
 * acceptance suite on every connector), so that the engine can rely on the `Connector` contract as written.
 * The doc comments of the checks (`conformance/checks/`) are the precise contract the suite asserts.
 *
 * A connector's test supplies a `ConformanceHarness`: a `start()` that starts the connector against a fresh
 * remote system (its sandbox) together with a `RemoteControl` that changes that system out of band, and per
 * object type the field names to use and what the connector documents where the contract leaves a choice.
 *
 *   import { connectorConformanceSuite } from '@tandem/core/testing';
 *   connectorConformanceSuite({
 *     name: 'marketo',
 *     objects: [{ objectType: 'lead', emailField: 'email', writableStrings: ['title', 'company'],
 *                 readableField: 'firstName', pageSize: 300, readOnlyWrites: 'ignored',
 *                 refusedValues: { leadScore: 'high' } }],
 *     start: async () => { ... return { connector, remote, instance, close }; },
 *     skip: { 'findByEmail.duplicates': 'the sandbox refuses a second person with one email' },
 *   });
 *
 * Each check is a test of its own, named `<id>: <what it asserts>`; a check runs unless the harness skips
 * it by id with a reason (`skip`, printed in the test name), or it is about an optional method the connector
 * lacks (`writeMany`). The checks create their own records, tagged per check, so they share one remote per
 * object type; the few that need an empty remote start one of their own.
 *
 * Checks (ids; scope connector = once, else once per object type):
 * - `connector.identity`, `check`: an id and the object types; `check()` ok with an identity, the instance
 *   when reported (equal to `StartedConnector.instance` when the harness knows it), stable across two calls.
 * - `writeMany` (when implemented): one result list per group, each in its ops' order.
 * - `describe.fields`: id and email fields exist, unique names, known types, the harness's fields have the
 *   access it says. `describe.readOnly`: a non-creatable/non-updatable field is `rejected` or `ignored` as
 *   documented (`ConformanceObject.readOnlyWrites`), and never takes the value written.
 * - `readChanges.empty` / `.paging` / `.resume` / `.incremental` / `.deletes` / `.replay` / `.idle`: see
 *   `checks/read-changes.ts`.
 * - `get.missing` / `.order` / `.fields`, `findByEmail.normalised` / `.nobody` / `.many` / `.duplicates`,
 *   `lists.empty`: see `checks/lookups.ts`.
 * - `write.create` / `.update` / `.order` / `.rejected` / `.notFound` / `.etag`: see `checks/writes.ts`.
 * - `unknownField.read` / `.write`, `abort.before` / `.during`: see `checks/guards.ts`.
 */
import { after, describe, test } from 'node:test';
import type { ConformanceHarness } from './conformance/harness';
import { GroupRun, planConformance } from './conformance/run';
import { CheckSkipped } from './conformance/support';

export * from './conformance/harness';
export {
  planConformance,
  runConformance,
  type ConformanceGroup,
  type ConformanceOutcome,
  type PlannedCheck,
} from './conformance/run';

/**
 * Registers the suite for one connector as `node:test` tests: a `describe` per connector, with a `describe`
 * for the connector-level checks and one per object type. Call it at the top level of a test file.
 */
export function connectorConformanceSuite(harness: ConformanceHarness): void {
  const groups = planConformance(harness);
  describe(`${harness.name}: connector conformance`, () => {
    for (const group of groups) {
      describe(group.title, () => {
        const run = new GroupRun(harness, group);
        after(() => run.close());
        for (const planned of group.checks) {
          if (planned.skipReason !== undefined) {
            test(planned.name, { skip: planned.skipReason }, () => {});
            continue;
          }
          test(planned.name, async (t) => {
            try {
              await run.run(planned);
            } catch (error) {
              if (!(error instanceof CheckSkipped)) throw error;
              t.skip(error.reason);
            }
          });
        }
      });
    }
  });
}
