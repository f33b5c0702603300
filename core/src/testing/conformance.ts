/**
 * The connector conformance suite: one set of checks every connector's own tests run (as Airbyte runs one
 * acceptance suite on every connector), so the engine can rely on the `Connector` contract as written. The
 * doc comment of each check (`conformance/checks/`) says precisely what it asserts: where `Connector`'s own
 * comments leave a choice, those comments are the contract.
 *
 * Who supplies what: the connector's test supplies a `ConformanceHarness` (`conformance/harness.ts`): a
 * `start()` giving the connector against a fresh, empty remote (its sandbox) with a `RemoteControl` that
 * changes that remote out of band, and per object type the field names to use and what the connector
 * documents where the contract leaves a choice (read-only writes refused or ignored, an overlap window).
 * The suite supplies the checks, their data and their names.
 *
 *   connectorConformanceSuite({
 *     name: 'acme',
 *     objects: [{ objectType: 'contact', emailField: 'email', writableStrings: ['title', 'company'],
 *                 readableField: 'firstName', pageSize: 5, readOnlyWrites: 'rejected',
 *                 refusedValues: { phone: 'x'.repeat(300) } }],
 *     async start() {
 *       const sandbox = await startAcmeSandbox({ seed: false });
 *       const connector = connectAcme({ url: sandbox.url, pageSize: 5 });
 *       const remote: RemoteControl = {
 *         create: (type, fields) => sandbox.insert(type, fields).id,
 *         update: (type, id, fields) => sandbox.edit(type, id, fields),
 *         delete: (type, id) => sandbox.remove(type, id),
 *         read: (type, id) => sandbox.find(type, id)?.values,
 *       };
 *       return { connector, remote, instance: sandbox.instanceId, close: () => sandbox.close() };
 *     },
 *     skip: { 'write.etag': 'Acme has no optimistic concurrency' },
 *   });
 *
 * (`core/test/helpers/memory-harness.ts` is a working one, over `MemoryConnector`.)
 *
 * Each check is a test of its own, named `<id>: <what it asserts>`. A check runs unless the harness skips it
 * by id with a reason (printed in the test name: `[skipped: …]`), or it is about an optional method the
 * connector lacks (`writeMany`). Checks create their own records, tagged per check, so they share one
 * remote per object type; the few that need an empty remote start one of their own.
 *
 * Checks (`connector.*`, `check`, `writeMany` once per connector; the rest once per object type):
 * - `connector.identity`, `check`, `writeMany`: `checks/connector.ts`.
 * - `describe.fields`, `describe.readOnly`: `checks/describe.ts`.
 * - `readChanges.empty`, `.paging`, `.resume`, `.incremental`, `.deletes`, `.replay`, `.idle`:
 *   `checks/read-changes.ts`.
 * - `get.missing`, `.order`, `.fields`, `findByEmail.normalised`, `.nobody`, `.many`, `.duplicates`,
 *   `lists.empty`: `checks/lookups.ts`.
 * - `write.create`, `.update`, `.order`, `.rejected`, `.notFound`, `.etag`: `checks/writes.ts`.
 * - `unknownField.read`, `.write`, `abort.before`, `.during`: `checks/guards.ts`.
 *
 * `runConformance` runs the same checks without `node:test` and answers each outcome.
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
