/** Once per connector: its id and object types, `check()`, and `writeMany` where it has one. */
import assert from 'node:assert/strict';
import { ObjectKit, type CheckDefinition } from '../support';
import { assertResults, OpBuilder, type Planned } from './writes';

/** `connector.id` is a non-empty string and `connector.objectTypes` includes every object type the harness checks. */
const identity: CheckDefinition = {
  id: 'connector.identity',
  scope: 'connector',
  title: 'the connector has an id, and objectTypes lists every object type under test',
  async run({ harness, started }) {
    const { connector } = started;
    assert.ok(typeof connector.id === 'string' && connector.id.length > 0, 'a non-empty id');
    for (const object of harness.objects) {
      assert.ok(connector.objectTypes.includes(object.objectType), `objectTypes lists '${object.objectType}'`);
    }
  },
};

/**
 * `check()` resolves `{ ok: true, identity }` with a non-empty `identity`. `instance`, when the harness knows
 * the remote's instance id (`StartedConnector.instance`), equals it; otherwise it is absent or a non-empty
 * string. A second `check()` answers the same `ok`, `identity` and `instance`.
 */
const check: CheckDefinition = {
  id: 'check',
  scope: 'connector',
  title: 'check() answers ok with an identity (and the instance, when it reports one), the same twice',
  async run({ started }) {
    const first = await started.connector.check();
    assert.equal(first.ok, true, `check() answered not ok: ${first.message ?? '(no message)'}`);
    assert.ok(typeof first.identity === 'string' && first.identity.length > 0, 'an identity: who we are connected as');
    if (started.instance !== undefined) {
      assert.equal(first.instance, started.instance, 'the instance of the remote started');
    } else if (first.instance !== undefined) {
      assert.ok(typeof first.instance === 'string' && first.instance.length > 0, 'an instance is a non-empty string');
    }
    const second = await started.connector.check();
    assert.deepEqual(
      { ok: second.ok, identity: second.identity, instance: second.instance },
      { ok: true, identity: first.identity, instance: first.instance },
      'a second check() answers the same identity and instance',
    );
  },
};

/**
 * When the connector has `writeMany` (else the check is skipped, not failed): one group per object type, each
 * a create, an update and (with `refusedValues`) a refused create. The answer holds one result list per group,
 * in group order, and each list meets what `write.order` asks of `write`.
 */
const writeMany: CheckDefinition = {
  id: 'writeMany',
  scope: 'connector',
  title: 'writeMany (optional): one result list per group, in group order, each one result per op in its order',
  async run({ harness, started, skip }) {
    const writeMany = started.connector.writeMany?.bind(started.connector);
    if (!writeMany) return skip('the connector has no writeMany (optional: the engine calls write per object type)');
    const groups: Array<{ kit: ObjectKit; plans: Planned[] }> = [];
    for (const object of harness.objects) {
      const kit = new ObjectKit(started, object);
      const ops = new OpBuilder(kit);
      const existing = await kit.create('x');
      const refused = object.refusedValues;
      groups.push({
        kit,
        plans: [
          ops.create('c0'),
          ops.update(existing.id, 'u1'),
          ...(refused ? [ops.create('c2', { status: 'rejected', extra: refused })] : []),
          ops.create('c3'),
        ],
      });
    }
    const results = await writeMany(
      groups.map(({ kit, plans }) => ({ objectType: kit.type, ops: plans.map((p) => p.op) })),
    );
    assert.equal(results.length, groups.length, 'one result list per group');
    for (const [i, { kit, plans }] of groups.entries()) {
      await assertResults(kit, plans, results[i] ?? [], `writeMany, group ${i + 1} (${kit.type})`);
    }
  },
};

export const CONNECTOR_CHECKS = [identity, check, writeMany];
