/**
 * Tools the checks share: a per-check kit that names what a check creates (so checks sharing one remote never
 * see each other's records as their own), page collection with a bound, and the assertions several checks make.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  isTandemError,
  type ChangePage,
  type Connector,
  type FieldValue,
  type FieldValues,
  type ObjectDescription,
  type RemoteRecord,
} from '../../plugin';
import type {
  ConformanceCheckId,
  ConformanceHarness,
  ConformanceObject,
  ReadOnlyWriteBehaviour,
  StartedConnector,
} from './harness';

/** Thrown by `CheckContext.skip`: the check does not apply (an optional method the connector lacks). */
export class CheckSkipped extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'CheckSkipped';
  }
}

export interface CheckContext {
  harness: ConformanceHarness;
  /** The object type under test; for connector-level checks, the first one. */
  object: ConformanceObject;
  started: StartedConnector;
  /** Ends the check as skipped: it does not apply (an optional method the connector does not implement). */
  skip(reason: string): never;
}

export interface CheckDefinition {
  id: ConformanceCheckId;
  /** What the check asserts, in one line: the test's name. */
  title: string;
  /** `connector`: once per connector; `object`: once per object type. */
  scope: 'connector' | 'object';
  /** Runs against a remote of its own, started for the check and closed after it (it needs an empty one). */
  fresh?: boolean;
  /** Documented relaxations this check applies for `object` (see `ConformanceObject.feed`), for the test's name. */
  notes?(object: ConformanceObject): string[];
  run(context: CheckContext): Promise<void>;
}

/** More pages than any check's data can fill: a read that goes on past this never ends. */
const MAX_PAGES = 2_000;

/** Every page of a read, failing (rather than hanging) on a read that does not end. */
export async function collectPages(pages: AsyncIterable<ChangePage>): Promise<ChangePage[]> {
  const out: ChangePage[] = [];
  for await (const page of pages) {
    out.push(page);
    assert.ok(out.length <= MAX_PAGES, `readChanges did not reach done within ${MAX_PAGES} pages`);
  }
  return out;
}

/** Emails compare trimmed and case-insensitive (as `findByEmail` matches them). */
export function normaliseEmail(value: FieldValue | undefined): string {
  return String(value ?? '')
    .trim()
    .toLowerCase();
}

export function isBlank(value: FieldValue | undefined): boolean {
  return value === undefined || value === null || value === '';
}

/** The shape every record a read answers must have: an id, the requested fields only, well-formed extras. */
export function assertRecordShape(record: RemoteRecord, requested: readonly string[], where: string): void {
  assert.ok(typeof record.id === 'string' && record.id.length > 0, `${where}: a record has a non-empty string id`);
  assert.ok(typeof record.fields === 'object' && record.fields !== null, `${where}: record ${record.id} has fields`);
  const extra = Object.keys(record.fields).filter((name) => !requested.includes(name));
  assert.deepEqual(extra, [], `${where}: record ${record.id} holds only requested fields`);
  if (record.etag !== undefined) {
    assert.ok(typeof record.etag === 'string' && record.etag.length > 0, `${where}: an etag is a non-empty string`);
  }
  if (record.modifiedAt !== undefined) {
    assert.ok(!Number.isNaN(Date.parse(record.modifiedAt)), `${where}: modifiedAt '${record.modifiedAt}' is a date`);
  }
  for (const [name, at] of Object.entries(record.fieldModifiedAt ?? {})) {
    assert.ok(!Number.isNaN(Date.parse(at)), `${where}: fieldModifiedAt.${name} '${at}' is a date`);
  }
}

/** How a call ended. A synchronous throw is told apart: every call answers a promise, and callers rely on that. */
export type CallOutcome =
  { kind: 'resolved' } | { kind: 'rejected'; error: unknown } | { kind: 'threw'; error: unknown };

/** Starts `call` now (synchronously, so a signal aborted right after finds it under way) and settles its outcome. */
export function startCall(call: () => Promise<unknown>): Promise<CallOutcome> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (error) {
    return Promise.resolve({ kind: 'threw', error });
  }
  return promise.then(
    (): CallOutcome => ({ kind: 'resolved' }),
    (error: unknown): CallOutcome => ({ kind: 'rejected', error }),
  );
}

/**
 * The call rejected because of an abort: with the signal's reason itself, an `AbortError`, or an error caused by
 * the reason (a connector may wrap it).
 */
export function assertAbortOutcome(outcome: CallOutcome, reason: unknown, what: string): void {
  assert.notEqual(outcome.kind, 'resolved', `${what}: resolved although its signal was aborted`);
  assert.notEqual(outcome.kind, 'threw', `${what}: threw synchronously instead of answering a rejected promise`);
  const error = outcome.kind === 'rejected' ? outcome.error : undefined;
  const name = error instanceof Error ? error.name : undefined;
  const cause = error instanceof Error ? error.cause : undefined;
  assert.ok(
    error === reason || name === 'AbortError' || cause === reason,
    `${what}: rejected with ${describeError(error)}, not the signal's reason or an AbortError`,
  );
}

export async function assertAborted(what: string, call: () => Promise<unknown>, reason: unknown): Promise<void> {
  assertAbortOutcome(await startCall(call), reason, what);
}

/** The call rejects with a `TandemError` coded `UNKNOWN_FIELD` whose message names `field`. */
export async function assertUnknownField(what: string, call: () => Promise<unknown>, field: string): Promise<void> {
  const outcome = await startCall(call);
  assert.notEqual(outcome.kind, 'resolved', `${what}: the unknown field '${field}' was accepted`);
  assert.notEqual(outcome.kind, 'threw', `${what}: threw synchronously instead of answering a rejected promise`);
  const error = outcome.kind === 'rejected' ? outcome.error : undefined;
  assert.ok(
    isTandemError(error) && error.code === 'UNKNOWN_FIELD',
    `${what}: rejected with ${describeError(error)}, not a TandemError coded UNKNOWN_FIELD`,
  );
  assert.ok(error.message.includes(field), `${what}: the error names the field: "${error.message}"`);
}

/**
 * Runs every step, then fails once, naming each step that failed: a check of several calls reports every
 * call that breaks its rule, not only the first.
 */
export async function everyStep(steps: ReadonlyArray<readonly [string, () => Promise<void>]>): Promise<void> {
  const failures: string[] = [];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error instanceof assert.AssertionError ? error.message : `${what}: ${describeError(error)}`);
    }
  }
  if (failures.length > 0) throw new assert.AssertionError({ message: failures.join('\n') });
}

/** A write result, for assertion messages. */
export function show(value: unknown): string {
  return JSON.stringify(value);
}

export function describeError(error: unknown): string {
  if (isTandemError(error)) return `${error.name} ${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

export function readOnlyBehaviour(object: ConformanceObject, field: string): ReadOnlyWriteBehaviour {
  const declared = object.readOnlyWrites;
  return typeof declared === 'string' ? declared : (declared.fields[field] ?? declared.default);
}

/**
 * One check's view of one object type: names (emails, text values) tagged for this check, records created
 * out of band, reads of every page.
 */
export class ObjectKit {
  /** Unique per check run, so a check recognises its own records in a remote other checks share. */
  readonly tag = randomBytes(4).toString('hex');
  private description: ObjectDescription | undefined;

  constructor(
    readonly started: StartedConnector,
    readonly object: ConformanceObject,
  ) {}

  get connector(): Connector {
    return this.started.connector;
  }
  get type(): string {
    return this.object.objectType;
  }
  get emailField(): string {
    return this.object.emailField;
  }
  /** The writable text field the suite writes. */
  get text(): string {
    return this.object.writableStrings[0];
  }
  /** The fields most reads ask for. */
  get fields(): string[] {
    return [this.emailField, this.text];
  }

  emailFor(label: string): string {
    return `conformance.${this.tag}.${label}@example.com`;
  }

  /** A text value unique to this check and `label` (at most 24 characters). */
  value(label: string): string {
    return `v${this.tag}${label}`.slice(0, 24);
  }

  async describe(): Promise<ObjectDescription> {
    this.description ??= await this.connector.describe(this.type);
    return this.description;
  }

  /**
   * Creates a record out of band with the email and text value of `label` (no text with `blankText`),
   * `createWith`, and `fields`; answers its id and email.
   */
  async create(label: string, options: { fields?: FieldValues; blankText?: boolean } = {}): Promise<Made> {
    const email = this.emailFor(label);
    const values: FieldValues = {
      ...this.object.createWith,
      [this.emailField]: email,
      ...(options.blankText ? {} : { [this.text]: this.value(label) }),
      ...options.fields,
    };
    const id = await this.started.remote.create(this.type, values);
    assert.ok(typeof id === 'string' && id.length > 0, `remote.create answered the id '${String(id)}'`);
    return { id, email, label };
  }

  async remoteRead(id: string): Promise<FieldValues | undefined> {
    return this.started.remote.read(this.type, id);
  }

  /** Reads from `cursor` to done, with the default fields unless given. */
  read(cursor: string | null, fields: readonly string[] = this.fields): Promise<ChangePage[]> {
    return collectPages(this.connector.readChanges(this.type, cursor, { fields: [...fields] }));
  }
}

export interface Made {
  id: string;
  email: string;
  label: string;
}

/**
 * What a whole read must look like: at least one page, a non-empty cursor on each, `done` on the last page
 * only, and records of the requested fields only. Answers the final cursor.
 */
export function assertRead(pages: readonly ChangePage[], requested: readonly string[], where: string): string {
  assert.ok(pages.length > 0, `${where}: the read yields at least one page (a cursor to store)`);
  pages.forEach((page, index) => {
    const at = `${where}, page ${index + 1} of ${pages.length}`;
    assert.ok(typeof page.cursor === 'string' && page.cursor.length > 0, `${at}: has a non-empty cursor`);
    assert.ok(Array.isArray(page.records) && Array.isArray(page.deletedIds), `${at}: has records and deletedIds`);
    const last = index === pages.length - 1;
    assert.equal(page.done, last, last ? `${at}: the last page is done` : `${at}: only the last page is done`);
    for (const record of page.records) assertRecordShape(record, requested, at);
  });
  return (pages[pages.length - 1] as ChangePage).cursor;
}

/** Each record id with every occurrence across `pages`, in order. */
export function occurrences(pages: readonly ChangePage[]): Map<string, RemoteRecord[]> {
  const seen = new Map<string, RemoteRecord[]>();
  for (const page of pages) {
    for (const record of page.records) {
      const list = seen.get(record.id) ?? [];
      list.push(record);
      seen.set(record.id, list);
    }
  }
  return seen;
}

/** The last version of a record in a read (the current values). */
export function latest(seen: Map<string, RemoteRecord[]>, id: string): RemoteRecord | undefined {
  return seen.get(id)?.at(-1);
}
