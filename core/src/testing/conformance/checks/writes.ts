/**
 * `write`: one result per op, in input order, `ref` echoed; what each status means; etags. Every write is
 * checked in the remote system itself (`RemoteControl.read`), never only through the connector.
 */
import assert from 'node:assert/strict';
import type { FieldValues, WriteOp, WriteResult } from '../../../plugin';
import type { ConformanceObject } from '../harness';
import { isBlank, normaliseEmail, ObjectKit, show, type CheckDefinition } from '../support';

/** An op and what it must come to. `label` names the text value the op writes (see `ObjectKit.value`). */
export interface Planned {
  op: WriteOp;
  status: WriteResult['status'];
  label: string;
}

/** Ops built for one kit: creates and updates writing the kit's text value of a label. */
export class OpBuilder {
  constructor(private readonly kit: ObjectKit) {}

  ref(label: string): string {
    return `${this.kit.tag}:${label}`;
  }

  /** A create of a record with the email and text value of `label` (and `createWith`, and `extra`). */
  create(label: string, options: { status?: WriteResult['status']; extra?: FieldValues } = {}): Planned {
    const kit = this.kit;
    const fields = {
      ...kit.object.createWith,
      [kit.emailField]: kit.emailFor(label),
      [kit.text]: kit.value(label),
      ...options.extra,
    };
    return { op: { kind: 'create', ref: this.ref(label), fields }, status: options.status ?? 'created', label };
  }

  /** An update of record `id` to the text value of `label` (and `extra`). */
  update(
    id: string,
    label: string,
    options: { status?: WriteResult['status']; extra?: FieldValues; etag?: string } = {},
  ): Planned {
    const fields = { [this.kit.text]: this.kit.value(label), ...options.extra };
    const etag = options.etag === undefined ? {} : { etag: options.etag };
    return {
      op: { kind: 'update', ref: this.ref(label), id, fields, ...etag },
      status: options.status ?? 'updated',
      label,
    };
  }
}

/** The values the remote refuses, or a failure telling the harness author what to do. */
export function refusedValues(object: ConformanceObject): FieldValues {
  assert.ok(
    object.refusedValues,
    `the harness gives no refusedValues for ${object.objectType}: give some, or skip 'write.rejected' with a reason`,
  );
  return object.refusedValues;
}

/**
 * Results match plans one for one, in order, refs echoed; each `created`/`updated` names the record its own op
 * wrote (read from the remote), each failure carries its message.
 */
export async function assertResults(
  kit: ObjectKit,
  plans: readonly Planned[],
  results: readonly WriteResult[],
  where: string,
): Promise<void> {
  assert.ok(Array.isArray(results), `${where}: answers a list of results`);
  assert.equal(results.length, plans.length, `${where}: one result per op`);
  assert.deepEqual(
    results.map((r) => r.ref),
    plans.map((p) => p.op.ref),
    `${where}: each result echoes its op's ref, in input order`,
  );
  assert.deepEqual(
    results.map((r) => r.status),
    plans.map((p) => p.status),
    `${where}: the statuses, in input order`,
  );
  const createdIds = new Set<string>();
  for (const [index, plan] of plans.entries()) {
    const result = results[index] as WriteResult;
    const at = `${where}: result ${index + 1} (${result.ref})`;
    if (result.status === 'created' || result.status === 'updated') {
      assert.ok(typeof result.id === 'string' && result.id.length > 0, `${at}: carries the record id`);
      if (result.etag !== undefined) assert.ok(typeof result.etag === 'string' && result.etag.length > 0, at);
      if (plan.op.kind === 'update') assert.equal(result.id, plan.op.id, `${at}: names the record updated`);
      else {
        assert.ok(!createdIds.has(result.id), `${at}: names a record no other create in the batch names`);
        createdIds.add(result.id);
      }
      const stored = await kit.remoteRead(result.id);
      assert.ok(stored, `${at}: the record ${result.id} exists in the remote`);
      assert.equal(stored[kit.text], kit.value(plan.label), `${at}: the record it names holds what its own op wrote`);
    } else {
      const message = 'message' in result ? result.message : undefined;
      assert.ok(typeof message === 'string' && message.length > 0, `${at}: carries a message`);
    }
    if (result.status === 'rejected') {
      assert.ok(typeof result.code === 'string' && result.code.length > 0, `${at}: a rejection carries a code`);
    }
  }
}

/**
 * A create answers one result echoing its `ref`, `created`, with the new record's id (and an etag, if any, a
 * non-empty string); the remote holds the values written, and `get` reads them back by that id.
 */
const create: CheckDefinition = {
  id: 'write.create',
  scope: 'object',
  title: "a create is 'created' with the new id and its ref; the remote holds the values written",
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const plan = new OpBuilder(kit).create('new');
    const results = await kit.connector.write(kit.type, [plan.op]);
    await assertResults(kit, [plan], results, 'write([create])');
    const result = results[0] as WriteResult & { id: string };
    const stored = await kit.remoteRead(result.id);
    assert.equal(normaliseEmail(stored?.[kit.emailField]), kit.emailFor('new'), 'the remote holds the email written');
    const [got] = await kit.connector.get(kit.type, [result.id], { fields: kit.fields });
    assert.equal(got?.fields[kit.text], kit.value('new'), 'get() reads the created record back');
  },
};

/**
 * An update answers `updated` with the record's id and its `ref`; the remote holds the value written, and the
 * fields left out of the op (the email, a second writable string) keep their values: an update writes the
 * fields it names, no others. Writing `null` blanks the field (the remote holds null, '' or nothing) and
 * `get` reads it as `null`.
 */
const update: CheckDefinition = {
  id: 'write.update',
  scope: 'object',
  title: "an update is 'updated' with the id and its ref; fields left out keep their values; null blanks a field",
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const other = object.writableStrings[1];
    const made = await kit.create('a', { fields: other ? { [other]: kit.value('keep') } : {} });
    const plan = new OpBuilder(kit).update(made.id, 'a2');
    await assertResults(kit, [plan], await kit.connector.write(kit.type, [plan.op]), 'write([update])');
    const stored = await kit.remoteRead(made.id);
    assert.equal(normaliseEmail(stored?.[kit.emailField]), made.email, 'the email, left out of the update, is kept');
    if (other) assert.equal(stored?.[other], kit.value('keep'), `'${other}', left out of the update, is kept`);

    const blank: WriteOp = { kind: 'update', ref: `${kit.tag}:blank`, id: made.id, fields: { [kit.text]: null } };
    const [result] = await kit.connector.write(kit.type, [blank]);
    assert.equal(result?.status, 'updated', `writing null: ${show(result)}`);
    const after = await kit.remoteRead(made.id);
    assert.ok(
      isBlank(after?.[kit.text]),
      `writing null blanks '${kit.text}' in the remote (it holds ${show(after?.[kit.text])})`,
    );
    const [got] = await kit.connector.get(kit.type, [made.id], { fields: kit.fields });
    assert.equal(got?.fields[kit.text], null, 'get() reads the blanked field as null');
  },
};

/**
 * One `write` call with creates and updates interleaved, an update of a deleted record and (with
 * `refusedValues`) refused ops answers one result per op, in input order, each echoing its op's `ref`, with
 * the status expected; each `created`/`updated` result names the record its own op wrote (checked in the
 * remote: a result swapped with another's fails), an update's the id it named, no two creates the same id.
 */
const order: CheckDefinition = {
  id: 'write.order',
  scope: 'object',
  title: 'a mixed batch (creates, updates, rejections, a missing record) answers one result per op, in input order',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const ops = new OpBuilder(kit);
    const [x1, x2, x3, gone] = [
      await kit.create('x1'),
      await kit.create('x2'),
      await kit.create('x3'),
      await kit.create('gone'),
    ];
    await started.remote.delete(kit.type, gone.id);
    // Rejections join the batch when the harness knows values the remote refuses (else write.rejected says so).
    const refused = object.refusedValues;
    const plans: Planned[] = [
      ops.create('c0'),
      ops.update(x1.id, 'u1'),
      ...(refused ? [ops.create('c2', { status: 'rejected', extra: refused })] : []),
      ops.update(gone.id, 'u3', { status: 'not-found' }),
      ops.create('c4'),
      ...(refused ? [ops.update(x2.id, 'u5', { status: 'rejected', extra: refused })] : []),
      ops.update(x3.id, 'u6'),
      ops.create('c7'),
      ops.create('c8'),
    ];
    const results = await kit.connector.write(
      kit.type,
      plans.map((p) => p.op),
    );
    await assertResults(kit, plans, results, 'write(mixed batch)');
  },
};

/**
 * Ops holding values the remote refuses (the harness's `refusedValues`) are results, not a throw: `rejected`
 * with a non-empty `code` and `message`. Nothing of a refused op is written (a refused update leaves even its
 * valid fields unwritten; a refused create makes no record); the ops beside them in the call are written.
 */
const rejected: CheckDefinition = {
  id: 'write.rejected',
  scope: 'object',
  title:
    "a value the remote refuses is a 'rejected' result with code and message, not a throw; nothing of it is written, its neighbours are",
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const refused = refusedValues(object);
    const ops = new OpBuilder(kit);
    const [made, kept] = [await kit.create('a'), await kit.create('k')];
    const plans = [
      ops.create('ok'),
      ops.create('bad', { status: 'rejected', extra: refused }),
      ops.update(made.id, 'a2', { status: 'rejected', extra: refused }),
      ops.update(kept.id, 'k2'),
    ];
    const results = await kit.connector.write(
      kit.type,
      plans.map((p) => p.op),
    );
    await assertResults(kit, plans, results, 'write(with refused values)');
    const stored = await kit.remoteRead(made.id);
    assert.equal(stored?.[kit.text], kit.value('a'), 'a refused update writes nothing, not even its valid fields');
    const found = await kit.connector.findByEmail(kit.type, [kit.emailFor('bad')], { fields: kit.fields });
    assert.deepEqual(found, [], 'a refused create creates nothing');
  },
};

/**
 * An update of a record deleted in the remote is `not-found` with a message (not `failed`, not `rejected`, not
 * a throw), does not bring the record back, and does not stop the update beside it.
 */
const notFound: CheckDefinition = {
  id: 'write.notFound',
  scope: 'object',
  title: "updating a record deleted in the remote is 'not-found' with a message; it stays deleted",
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const ops = new OpBuilder(kit);
    const [gone, kept] = [await kit.create('gone'), await kit.create('kept')];
    await started.remote.delete(kit.type, gone.id);
    const plans = [ops.update(gone.id, 'gone2', { status: 'not-found' }), ops.update(kept.id, 'kept2')];
    await assertResults(
      kit,
      plans,
      await kit.connector.write(
        kit.type,
        plans.map((p) => p.op),
      ),
      'write(update of a deleted record)',
    );
    assert.equal(await kit.remoteRead(gone.id), undefined, 'the update does not bring the record back');
  },
};

/**
 * For systems with optimistic concurrency (skip it, with the reason, otherwise): `get` answers an etag; after
 * a change in the remote, an update carrying the etag read before is `conflict` with a message, echoing its
 * ref, and the remote keeps its change; the record now has another etag, and an update carrying it is
 * `updated`. An etag a write answers is current: an update carrying it is `updated` too.
 */
const etag: CheckDefinition = {
  id: 'write.etag',
  scope: 'object',
  title:
    "reads carry an etag; an update with a stale one is 'conflict' and writes nothing; with the current one, 'updated'",
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const ops = new OpBuilder(kit);
    const made = await kit.create('a');
    const [before] = await kit.connector.get(kit.type, [made.id], { fields: kit.fields });
    const stale = before?.etag;
    assert.ok(typeof stale === 'string' && stale.length > 0, 'get() answers an etag');
    await started.remote.update(kit.type, made.id, { [kit.text]: kit.value('remote') });

    const conflicting = ops.update(made.id, 'stale', { etag: stale });
    const [conflict] = await kit.connector.write(kit.type, [conflicting.op]);
    assert.ok(
      conflict?.status === 'conflict',
      `an update with the etag read before a remote change: ${show(conflict)}`,
    );
    assert.equal(conflict.ref, conflicting.op.ref, 'the conflict echoes its ref');
    assert.ok(conflict.message.length > 0, 'a conflict carries a message');
    assert.equal(
      (await kit.remoteRead(made.id))?.[kit.text],
      kit.value('remote'),
      "a conflict keeps the remote's change",
    );

    const [now] = await kit.connector.get(kit.type, [made.id], { fields: kit.fields });
    assert.ok(now?.etag && now.etag !== stale, 'a change gives the record a new etag');
    const fresh = ops.update(made.id, 'fresh', { etag: now.etag });
    const results = await kit.connector.write(kit.type, [fresh.op]);
    await assertResults(kit, [fresh], results, 'an update with the current etag');
    const updated = results[0];
    if (updated?.status === 'updated' && updated.etag !== undefined) {
      const again = ops.update(made.id, 'again', { etag: updated.etag });
      const next = await kit.connector.write(kit.type, [again.op]);
      await assertResults(kit, [again], next, 'an update with the etag the last write answered');
    }
  },
};

export const WRITE_CHECKS = [create, update, order, rejected, notFound, etag];
