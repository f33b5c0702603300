/**
 * `describe`: the fields and their access flags, and that the flags tell the truth about writes: a field
 * described non-creatable or non-updatable never takes a value written to it.
 */
import assert from 'node:assert/strict';
import type { FieldDescription, FieldType, FieldValue, WriteOp } from '../../../plugin';
import { isBlank, normaliseEmail, ObjectKit, readOnlyBehaviour, show, type CheckDefinition } from '../support';

const FIELD_TYPES: Record<FieldType, true> = {
  string: true,
  text: true,
  email: true,
  phone: true,
  url: true,
  integer: true,
  float: true,
  currency: true,
  boolean: true,
  date: true,
  datetime: true,
  picklist: true,
  reference: true,
  other: true,
};

/**
 * `describe(objectType)` answers that `objectType`, with unique field names of the `FieldType`s, boolean
 * access flags, an `idField` among the fields that is readable and not updatable, and the harness's
 * `emailField` as `emailField`, readable. The harness's writable strings are readable, creatable and
 * updatable fields of type `string` or `text`; its readable field is readable.
 */
const fields: CheckDefinition = {
  id: 'describe.fields',
  scope: 'object',
  title:
    'describe() names its id and email fields among unique, typed fields; the harness fields have the access it says',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const description = await kit.describe();
    assert.equal(description.objectType, kit.type, 'the object type described');
    const names = description.fields.map((f) => f.name);
    assert.deepEqual(
      names.filter((name, i) => names.indexOf(name) !== i),
      [],
      'field names are unique',
    );
    for (const field of description.fields) {
      assert.ok(typeof field.name === 'string' && field.name.length > 0, `a field has a name: ${show(field)}`);
      assert.ok(Object.hasOwn(FIELD_TYPES, field.type), `'${field.name}' has a known type, not '${field.type}'`);
      for (const flag of ['readable', 'creatable', 'updatable'] as const) {
        assert.equal(typeof field[flag], 'boolean', `'${field.name}'.${flag} is a boolean`);
      }
    }
    const byName = new Map(description.fields.map((f) => [f.name, f]));
    const id = byName.get(description.idField);
    assert.ok(id, `the id field '${description.idField}' is among the fields`);
    assert.ok(id.readable && !id.updatable, `the id field is readable and not updatable: ${show(id)}`);
    assert.equal(description.emailField, object.emailField, 'the email field is the one the harness names');
    assert.ok(
      byName.get(description.emailField)?.readable,
      `the email field '${description.emailField}' is a readable field`,
    );
    for (const name of object.writableStrings) {
      const field = byName.get(name);
      assert.ok(
        field?.readable && field.creatable && field.updatable && (field.type === 'string' || field.type === 'text'),
        `the harness's writable string '${name}' is a readable, creatable, updatable string: ${show(field)}`,
      );
    }
    assert.ok(
      byName.get(object.readableField)?.readable,
      `the harness's readable field '${object.readableField}' is readable`,
    );
  },
};

/**
 * A value of `field`'s type that the field does not hold (`current`) and that the system would not set by
 * itself (unique text, a date in 2001), or `undefined` for types the suite cannot make a valid value of.
 */
function foreignValue(
  field: FieldDescription,
  token: string,
  n: number,
  current: FieldValue | undefined,
): FieldValue | undefined {
  const text = (value: string) => (field.length !== undefined ? value.slice(0, field.length) : value);
  switch (field.type) {
    case 'string':
    case 'text':
    case 'phone':
      return text(`r${token}`);
    case 'email':
      return `readonly.${token}@example.com`;
    case 'url':
      return `https://example.com/${token}`;
    case 'integer':
      return 900_001 + n;
    case 'float':
    case 'currency':
      return 900_001.25 + n;
    case 'boolean':
      return current !== true;
    case 'date':
      return '2001-02-03';
    case 'datetime':
      return '2001-02-03T04:05:06.000Z';
    default:
      return undefined;
  }
}

/** Whether a stored value is the value sent (dates compared as instants, emails as `findByEmail` does). */
function holds(field: FieldDescription, stored: FieldValue | undefined, sent: FieldValue): boolean {
  if (isBlank(stored)) return false;
  if (field.type === 'date' || field.type === 'datetime')
    return Date.parse(String(stored)) === Date.parse(String(sent));
  if (field.type === 'email') return normaliseEmail(stored) === normaliseEmail(sent);
  if (typeof sent === 'number') return Number(stored) === sent;
  return stored === sent;
}

/**
 * The access flags tell the truth about writes. For every field but the id that is described non-updatable
 * (and is of a type the suite can make a value of: not picklist, reference or other), an update of a record
 * setting it to a value it does not hold, alongside a writable string, comes back as the harness documents
 * (`ConformanceObject.readOnlyWrites`): `rejected` with a code and a message, nothing of the op written; or
 * `updated`, the writable string written. Either way the field does not take the value sent (checked in the
 * remote, so unreadable fields too). Likewise a create setting a non-creatable field: `rejected` and no
 * record, or `created` without that value (booleans excepted, whose default may be the value sent). All the
 * updates go in one `write` call, and all the creates in another.
 */
const readOnly: CheckDefinition = {
  id: 'describe.readOnly',
  scope: 'object',
  title:
    'a field described non-creatable or non-updatable is refused or ignored as the harness documents, and never takes the value written',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const description = await kit.describe();
    // The id field is left out (an update naming another id is not a write of a field), and so are types the
    // suite cannot make a value of.
    const candidates = description.fields.filter(
      (f) => f.name !== description.idField && foreignValue(f, kit.tag, 0, undefined) !== undefined,
    );

    // Updates: one record per non-updatable field, each op also writing the text field (to see whether the
    // rest of the op was written), all in one batch.
    const updates: Array<{ field: FieldDescription; id: string; label: string; sent: FieldValue; op: WriteOp }> = [];
    for (const field of candidates.filter((f) => !f.updatable)) {
      const label = `u${updates.length}`;
      const made = await kit.create(label);
      const current = (await kit.remoteRead(made.id))?.[field.name];
      const sent = foreignValue(field, `${kit.tag}${label}`, updates.length, current) as FieldValue;
      const fieldsWritten = { [kit.text]: kit.value(`${label}x`), [field.name]: sent };
      updates.push({
        field,
        id: made.id,
        label,
        sent,
        op: { kind: 'update', ref: label, id: made.id, fields: fieldsWritten },
      });
    }
    if (updates.length > 0) {
      const results = await kit.connector.write(
        kit.type,
        updates.map((u) => u.op),
      );
      assert.equal(results.length, updates.length, 'one result per op');
      for (const [i, { field, id, label, sent }] of updates.entries()) {
        const result = results[i];
        const behaviour = readOnlyBehaviour(object, field.name);
        const what = `an update writing the non-updatable '${field.name}' (documented: ${behaviour})`;
        const stored = await kit.remoteRead(id);
        if (behaviour === 'rejected') {
          assert.ok(result?.status === 'rejected' && result.code && result.message, `${what}: ${show(result)}`);
          assert.equal(stored?.[kit.text], kit.value(label), `${what}: nothing of the op is written`);
        } else {
          assert.equal(result?.status, 'updated', `${what}: ${show(result)}`);
          assert.equal(stored?.[kit.text], kit.value(`${label}x`), `${what}: the rest of the op is written`);
        }
        assert.ok(
          !holds(field, stored?.[field.name], sent),
          `${what}: the field took the value written (${show(sent)})`,
        );
      }
    }

    // Creates: one per non-creatable field, all in one batch.
    const creates: Array<{ field: FieldDescription; label: string; sent: FieldValue; op: WriteOp }> = [];
    for (const field of candidates.filter((f) => !f.creatable)) {
      const label = `c${creates.length}`;
      const sent = foreignValue(field, `${kit.tag}${label}`, creates.length, undefined) as FieldValue;
      const fieldsWritten = {
        ...object.createWith,
        [kit.emailField]: kit.emailFor(label),
        [kit.text]: kit.value(label),
        [field.name]: sent,
      };
      creates.push({ field, label, sent, op: { kind: 'create', ref: label, fields: fieldsWritten } });
    }
    if (creates.length > 0) {
      const results = await kit.connector.write(
        kit.type,
        creates.map((c) => c.op),
      );
      assert.equal(results.length, creates.length, 'one result per op');
      for (const [i, { field, label, sent }] of creates.entries()) {
        const result = results[i];
        const behaviour = readOnlyBehaviour(object, field.name);
        const what = `a create writing the non-creatable '${field.name}' (documented: ${behaviour})`;
        if (behaviour === 'rejected') {
          assert.ok(result?.status === 'rejected' && result.code && result.message, `${what}: ${show(result)}`);
          const found = await kit.connector.findByEmail(kit.type, [kit.emailFor(label)], { fields: kit.fields });
          assert.deepEqual(found, [], `${what}: no record is created`);
        } else {
          assert.ok(result?.status === 'created', `${what}: ${show(result)}`);
          const stored = await kit.remoteRead(result.id);
          assert.equal(stored?.[kit.text], kit.value(label), `${what}: the rest of the op is written`);
          // A boolean's default may be the value sent: only other types tell "ignored" from "written".
          if (field.type !== 'boolean') {
            assert.ok(
              !holds(field, stored?.[field.name], sent),
              `${what}: the field took the value written (${show(sent)})`,
            );
          }
        }
      }
    }
  },
};

export const DESCRIBE_CHECKS = [fields, readOnly];
