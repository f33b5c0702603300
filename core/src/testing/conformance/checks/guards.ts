/**
 * What every call does with a field it does not know (a `TandemError` coded `UNKNOWN_FIELD`, before anything
 * is written) and with an aborted signal (it rejects, and an aborted write writes nothing).
 */
import assert from 'node:assert/strict';
import type { Connector, WriteOp } from '../../../plugin';
import {
  assertAborted,
  assertAbortOutcome,
  assertUnknownField,
  collectPages,
  everyStep,
  ObjectKit,
  startCall,
  type CheckDefinition,
} from '../support';

/**
 * A field name `describe` does not list, asked of `get`, `findByEmail` or `readChanges`, rejects with a
 * `TandemError` coded `UNKNOWN_FIELD` whose message names the field, even alongside known fields and for
 * records that exist. (A field that exists but this user cannot read is not unknown: it is left out of
 * records, see `get.fields`.) For `readChanges` the rejection may come from the first page.
 */
const unknownRead: CheckDefinition = {
  id: 'unknownField.read',
  scope: 'object',
  title: 'an unknown field asked of readChanges, get or findByEmail is a TandemError UNKNOWN_FIELD naming it',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const made = await kit.create('a');
    const bogus = `noSuchField${kit.tag}`;
    const fields = [kit.emailField, bogus];
    const { connector } = kit;
    const reads = {
      'get()': () => connector.get(kit.type, [made.id], { fields }),
      'findByEmail()': () => connector.findByEmail(kit.type, [made.email], { fields }),
      'readChanges()': () => collectPages(connector.readChanges(kit.type, null, { fields })),
    };
    await everyStep(Object.entries(reads).map(([what, call]) => [what, () => assertUnknownField(what, call, bogus)]));
  },
};

/**
 * A field name `describe` does not list, in any op of a `write` call, rejects the whole call with a
 * `TandemError` coded `UNKNOWN_FIELD` naming the field, and nothing of the call is written: not the op naming
 * it, nor ops before it naming known fields only (their results would be lost with the throw, and the engine
 * would create those records again).
 */
const unknownWrite: CheckDefinition = {
  id: 'unknownField.write',
  scope: 'object',
  title: 'an unknown field in a write is a TandemError UNKNOWN_FIELD naming it, and nothing of the call is written',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const made = await kit.create('a');
    const bogus = `noSuchField${kit.tag}`;
    const create = (label: string, extra = {}): WriteOp => ({
      kind: 'create',
      ref: label,
      fields: { ...object.createWith, [kit.emailField]: kit.emailFor(label), [kit.text]: kit.value(label), ...extra },
    });
    const update: WriteOp = {
      kind: 'update',
      ref: 'u',
      id: made.id,
      fields: { [kit.text]: kit.value('a2'), [bogus]: 'x' },
    };
    await assertUnknownField(
      'write() with it in an update',
      () => kit.connector.write(kit.type, [create('n1'), update]),
      bogus,
    );
    await assertUnknownField(
      'write() with it in a create',
      () => kit.connector.write(kit.type, [create('n2', { [bogus]: 'x' })]),
      bogus,
    );
    assert.equal((await kit.remoteRead(made.id))?.[kit.text], kit.value('a'), 'the update is not written');
    const found = await kit.connector.findByEmail(kit.type, [kit.emailFor('n1'), kit.emailFor('n2')], {
      fields: kit.fields,
    });
    assert.deepEqual(found, [], 'no create of the call is written, not even one naming known fields only');
  },
};

/** Each call the connector has, on one record, with `signal`. */
function calls(connector: Connector, kit: ObjectKit, made: { id: string; email: string }, label: string) {
  const fields = kit.fields;
  const op: WriteOp = {
    kind: 'create',
    ref: label,
    fields: { ...kit.object.createWith, [kit.emailField]: kit.emailFor(label), [kit.text]: kit.value(label) },
  };
  return {
    'get()': (signal: AbortSignal) => connector.get(kit.type, [made.id], { fields, signal }),
    'findByEmail()': (signal: AbortSignal) => connector.findByEmail(kit.type, [made.email], { fields, signal }),
    'write()': (signal: AbortSignal) => connector.write(kit.type, [op], { signal }),
    'readChanges(), its first page': (signal: AbortSignal) =>
      connector.readChanges(kit.type, null, { fields, signal })[Symbol.asyncIterator]().next(),
  };
}

/**
 * With a signal already aborted, `check`, `describe`, `get`, `findByEmail`, `write`, the first page of
 * `readChanges`, and `writeMany` and `logActivity` when present, each answer a rejected promise (never a
 * synchronous throw) whose error is the signal's reason, an error named `AbortError`, or an error whose
 * `cause` is the reason. An aborted write creates nothing.
 */
const abortBefore: CheckDefinition = {
  id: 'abort.before',
  scope: 'object',
  title: 'an already-aborted signal: every call rejects (its reason or an AbortError), and writes nothing',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const { connector } = kit;
    const made = await kit.create('a');
    const reason = new Error(`conformance: aborted before the call (${kit.tag})`);
    const controller = new AbortController();
    controller.abort(reason);
    const signal = controller.signal;
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['check()', () => connector.check(signal)],
      ['describe()', () => connector.describe(kit.type, signal)],
      ...Object.entries(calls(connector, kit, made, 'w1')).map(([what, call]): [string, () => Promise<unknown>] => [
        what,
        () => call(signal),
      ]),
    ];
    const writeMany = connector.writeMany?.bind(connector);
    if (writeMany) {
      const ops: WriteOp[] = [
        { kind: 'create', ref: 'w2', fields: { ...object.createWith, [kit.emailField]: kit.emailFor('w2') } },
      ];
      steps.push(['writeMany()', () => writeMany([{ objectType: kit.type, ops }], { signal })]);
    }
    const logActivity = connector.logActivity?.bind(connector);
    if (logActivity) {
      const event = {
        recordId: made.id,
        type: 'updated' as const,
        at: new Date().toISOString(),
        summary: 'conformance',
      };
      steps.push(['logActivity()', () => logActivity(kit.type, [event], signal)]);
    }
    await everyStep(steps.map(([what, call]) => [what, () => assertAborted(what, call, reason)]));
    const found = await connector.findByEmail(kit.type, [kit.emailFor('w1'), kit.emailFor('w2')], {
      fields: kit.fields,
    });
    assert.deepEqual(found, [], 'an aborted write creates nothing');
  },
};

/**
 * A signal aborted right after `get`, `findByEmail`, `write` or `readChanges(...).next()` was called (the
 * call is under way: it has started its request) makes that promise reject as in `abort.before`, rather than
 * finish the work. What an aborted write left in the remote is not checked: it may have reached it.
 */
const abortDuring: CheckDefinition = {
  id: 'abort.during',
  scope: 'object',
  title: 'an abort while a call is under way stops it: get, findByEmail, write and readChanges reject',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const made = await kit.create('a');
    const attempt = async (what: string, call: (signal: AbortSignal) => Promise<unknown>): Promise<void> => {
      const controller = new AbortController();
      const reason = new Error(`conformance: aborted during ${what} (${kit.tag})`);
      // The call starts synchronously (its request is under way, or about to be) before the abort.
      const outcome = startCall(() => call(controller.signal));
      controller.abort(reason);
      assertAbortOutcome(await outcome, reason, what);
    };
    await everyStep(
      Object.entries(calls(kit.connector, kit, made, 'w1')).map(([what, call]) => [what, () => attempt(what, call)]),
    );
  },
};

export const GUARD_CHECKS = [unknownRead, unknownWrite, abortBefore, abortDuring];
