/**
 * What a connector's own test hands the conformance suite: how to start the connector against a remote
 * system it may change out of band (a sandbox, an in-memory system), the field names the suite may use, and
 * what the connector documents where the contract leaves a choice. Field names are always the remote
 * system's own API names (`emailaddress1`, `email`).
 */
import type { Connector, FieldValues } from '../../plugin';

export type Awaitable<T> = T | Promise<T>;

/**
 * Changes made in the remote system out of band, as a person using it would make them: through the
 * sandbox's own store or back door, never through the connector under test (a sandbox that only agrees with
 * its connector proves nothing).
 */
export interface RemoteControl {
  /** Creates a record holding `fields`; answers its id as the connector reports ids. */
  create(objectType: string, fields: FieldValues): Awaitable<string>;
  /** Sets `fields` on record `id` (a change the connector's change feed must see). */
  update(objectType: string, id: string, fields: FieldValues): Awaitable<void>;
  /** Deletes record `id`. */
  delete(objectType: string, id: string): Awaitable<void>;
  /**
   * What record `id` holds now, by field name, read straight from the remote system (`undefined`: there is
   * no such record). A blank field may be `null`, `''` or absent. The suite checks writes with this.
   */
  read(objectType: string, id: string): Awaitable<FieldValues | undefined>;
}

/** A connector started against a fresh remote system. */
export interface StartedConnector {
  connector: Connector;
  remote: RemoteControl;
  /** The instance id `check()` must report (a sandbox's `instanceId`), when the harness knows it. */
  instance?: string;
  /** Stops the connector and the remote system. */
  close(): Promise<void>;
}

/**
 * What a write of a field the description calls non-creatable (on create) or non-updatable (on update) does:
 * - `rejected`: the op is a `rejected` result (with `code` and `message`) and nothing of it is written;
 * - `ignored`: the field is left out and the rest of the op is written (`created`/`updated`).
 * Either way the field never takes the value sent.
 */
export type ReadOnlyWriteBehaviour = 'rejected' | 'ignored';

export interface ConformanceObject {
  objectType: string;
  /** The field holding the email, which `describe` must name as `emailField`. */
  emailField: string;
  /**
   * Text fields that are readable, creatable and updatable, take any short ASCII text (up to 24 characters),
   * and are blank on a record created without them. The suite writes the first in most checks; with a
   * second, `write.update` also checks that a field left out of an update keeps its value.
   */
  writableStrings: readonly [string, ...string[]];
  /** A readable field that is neither the email nor a writable string, to check that reads return only the fields asked for. */
  readableField: string;
  /** Values every create needs besides the email (a Dataverse contact's `lastname`); added to each record the suite creates. */
  createWith?: FieldValues;
  /**
   * Values the remote system refuses, on create and on update (a malformed value, a text over its length):
   * the suite expects such a write to be a `rejected` result. Without them, skip `write.rejected` with a reason.
   */
  refusedValues?: FieldValues;
  /**
   * The most records one `readChanges` page holds, as `start` configures the connector. The paging checks
   * create twice as many plus one, so configure a small page in `start`. Without it, skip
   * `readChanges.paging` and `readChanges.resume` with a reason.
   */
  pageSize?: number;
  /** Writes of non-creatable or non-updatable fields, for the object, or per field where they differ. */
  readOnlyWrites:
    ReadOnlyWriteBehaviour | { default: ReadOnlyWriteBehaviour; fields: Record<string, ReadOnlyWriteBehaviour> };
  /**
   * Documented exceptions to an exactly-once change feed, each with its reason (printed in the test names):
   * - `overlap`: a read resumed from a cursor may hand back records changed shortly *before* the cursor (a
   *   watermark read with an overlap window). The suite then does not require that records unchanged since
   *   the cursor stay out; changed ones must still come back at least once.
   * - `repeats`: one read may hand the same record on more than one page (a paging token of whole seconds
   *   at a phase boundary). The suite then requires each record at least once rather than exactly once.
   */
  feed?: { overlap?: string; repeats?: string };
  /** Checks this object type opts out of, each with the reason (see `ConformanceHarness.skip`). */
  skip?: ConformanceSkips;
}

export interface ConformanceHarness {
  /** Names the suite in test output: the connector's id or package. */
  name: string;
  /** The object types to check, with the field names and documented behaviours of each. */
  objects: readonly ConformanceObject[];
  /**
   * Starts the connector against a fresh remote system holding no records of these object types. Called
   * once for the connector-level checks, once per object type for most checks, and once more for each
   * check that needs a remote of its own (`fresh` in the check list): every start must be independent.
   * Configure a small page size (see `pageSize`), and lift a sandbox's rate limits: the suite makes a few
   * hundred calls per object type, and throttling is not what it checks.
   */
  start(): Promise<StartedConnector>;
  /**
   * Checks opted out of, for every object type, each with the reason (printed in the test name), e.g.
   * `{ 'write.etag': 'this system has no optimistic concurrency' }`. The only way to leave a check out.
   */
  skip?: ConformanceSkips;
}

/** The checks, by stable id. See `CHECKS` in `checks.ts` for what each asserts. */
export const CONFORMANCE_CHECK_IDS = [
  'connector.identity',
  'check',
  'writeMany',
  'describe.fields',
  'describe.readOnly',
  'readChanges.empty',
  'readChanges.paging',
  'readChanges.resume',
  'readChanges.incremental',
  'readChanges.deletes',
  'readChanges.replay',
  'readChanges.idle',
  'get.missing',
  'get.order',
  'get.fields',
  'findByEmail.normalised',
  'findByEmail.nobody',
  'findByEmail.many',
  'findByEmail.duplicates',
  'lists.empty',
  'write.create',
  'write.update',
  'write.order',
  'write.rejected',
  'write.notFound',
  'write.etag',
  'unknownField.read',
  'unknownField.write',
  'abort.before',
  'abort.during',
] as const;

export type ConformanceCheckId = (typeof CONFORMANCE_CHECK_IDS)[number];

export type ConformanceSkips = Partial<Record<ConformanceCheckId, string>>;
