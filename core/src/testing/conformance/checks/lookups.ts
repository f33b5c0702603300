/**
 * `get` and `findByEmail`: what is missing is simply missing, order does not matter, each record once, the
 * requested fields only (a blank readable field is `null`, an unreadable one absent); emails match trimmed and
 * case-insensitive.
 */
import assert from 'node:assert/strict';
import type { RemoteRecord } from '../../../plugin';
import { assertRecordShape, normaliseEmail, ObjectKit, type CheckDefinition } from '../support';

const ids = (records: readonly RemoteRecord[]): string[] => records.map((r) => r.id).sort();

function assertShapes(records: readonly RemoteRecord[], requested: readonly string[], where: string): void {
  for (const record of records) assertRecordShape(record, requested, where);
}

/**
 * `get` with the id of a record deleted in the remote and an id no record could have (`no-such-record-…`),
 * beside an existing one, answers exactly the existing record: no error, no placeholder for the others.
 */
const missing: CheckDefinition = {
  id: 'get.missing',
  scope: 'object',
  title: "ids that do not exist (a deleted record's, a malformed one) are simply missing from the result",
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const [kept, gone] = [await kit.create('a'), await kit.create('gone')];
    await started.remote.delete(kit.type, gone.id);
    const records = await kit.connector.get(kit.type, [gone.id, kept.id, `no-such-record-${kit.tag}`], {
      fields: kit.fields,
    });
    assertShapes(records, kit.fields, 'get()');
    assert.deepEqual(ids(records), [kept.id], 'only the record that exists');
  },
};

/**
 * `get` with the same ids in two orders answers the same records, each once, each with its own values. The
 * order of the answer is not part of the contract: callers match records by id.
 */
const order: CheckDefinition = {
  id: 'get.order',
  scope: 'object',
  title: 'ids in any order read the same records, once each, with their values',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const [a, b, c] = [await kit.create('a'), await kit.create('b'), await kit.create('c')];
    const forward = await kit.connector.get(kit.type, [a.id, b.id, c.id], { fields: kit.fields });
    const backward = await kit.connector.get(kit.type, [c.id, a.id, b.id], { fields: kit.fields });
    for (const [where, records] of [
      ['get(a, b, c)', forward],
      ['get(c, a, b)', backward],
    ] as const) {
      assertShapes(records, kit.fields, where);
      assert.deepEqual(ids(records), [a.id, b.id, c.id].sort(), `${where}: each record once`);
      for (const made of [a, b, c]) {
        const record = records.find((r) => r.id === made.id);
        assert.equal(
          record?.fields[kit.text],
          kit.value(made.label),
          `${where}: record ${made.id} holds its own values`,
        );
      }
    }
  },
};

/**
 * Records hold the requested fields and no others. A requested readable field is always present: `null`
 * when blank (absent would mean unknown, and the engine never treats unknown as blank). Asked for every
 * field described readable, the record holds every one of them, the id field (if readable) holding the id.
 * A requested field described unreadable (field-level security) is absent: neither `null` nor a value.
 */
const fields: CheckDefinition = {
  id: 'get.fields',
  scope: 'object',
  title:
    'the requested fields only; a blank readable field is null; every readable field comes when asked; an unreadable one is absent, never null',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const description = await kit.describe();
    const [made, blank] = [await kit.create('a'), await kit.create('blank', { blankText: true })];

    const some = [kit.emailField, object.readableField];
    const [few] = await kit.connector.get(kit.type, [made.id], { fields: some });
    assert.ok(few, 'get() reads the record');
    assertRecordShape(few, some, `get(fields: ${some.join(', ')})`);
    assert.equal(normaliseEmail(few.fields[kit.emailField]), made.email, 'its email');
    assert.ok(
      object.readableField in few.fields,
      `the readable '${object.readableField}' is present (null when blank)`,
    );

    const [empty] = await kit.connector.get(kit.type, [blank.id], { fields: kit.fields });
    assert.ok(empty, 'get() reads the record created without text');
    assert.ok(
      kit.text in empty.fields && empty.fields[kit.text] === null,
      `a blank readable field ('${kit.text}') is present as null, not absent (absent means unknown)`,
    );

    const readable = description.fields.filter((f) => f.readable).map((f) => f.name);
    const [all] = await kit.connector.get(kit.type, [made.id], { fields: readable });
    assert.ok(all, 'get() with every readable field reads the record');
    assertRecordShape(all, readable, 'get(every readable field)');
    assert.deepEqual(
      readable.filter((name) => !(name in all.fields)),
      [],
      'every readable field asked for is present (null when blank)',
    );
    if (readable.includes(description.idField)) {
      assert.equal(
        String(all.fields[description.idField]),
        made.id,
        `the id field '${description.idField}' holds the id`,
      );
    }

    const unreadable = description.fields.filter((f) => !f.readable).map((f) => f.name);
    if (unreadable.length > 0) {
      const asked = [kit.emailField, ...unreadable];
      const [hidden] = await kit.connector.get(kit.type, [made.id], { fields: asked });
      assert.ok(hidden, 'get() with unreadable fields reads the record');
      assert.deepEqual(
        unreadable.filter((name) => name in hidden.fields),
        [],
        'fields this user cannot read are absent (unknown), never null or a value',
      );
    }
  },
};

/**
 * Emails match trimmed and case-insensitive, both ways: a record stored (out of band) as
 * `"  Conformance.<tag>.Messy@Example.COM "` is found by `conformance.<tag>.messy@example.com`, and one stored
 * lower-case is found by a padded, upper-case email.
 */
const normalised: CheckDefinition = {
  id: 'findByEmail.normalised',
  scope: 'object',
  title:
    'emails match trimmed and case-insensitive, both ways: a messy stored email by a clean one, a clean one by a messy one',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const messyEmail = `  Conformance.${kit.tag}.Messy@Example.COM `;
    const messy = await kit.create('messy', { fields: { [kit.emailField]: messyEmail } });
    const clean = await kit.create('clean');

    const byClean = await kit.connector.findByEmail(kit.type, [normaliseEmail(messyEmail)], { fields: kit.fields });
    assertShapes(byClean, kit.fields, 'findByEmail(clean)');
    assert.deepEqual(ids(byClean), [messy.id], `a record stored with "${messyEmail}" is found by the clean email`);

    const byMessy = await kit.connector.findByEmail(kit.type, [`  ${clean.email.toUpperCase()} `], {
      fields: kit.fields,
    });
    assertShapes(byMessy, kit.fields, 'findByEmail(messy)');
    assert.deepEqual(
      ids(byMessy),
      [clean.id],
      'a record stored with a clean email is found by a padded, upper-case one',
    );
  },
};

/** `findByEmail` with an email no record has answers an empty list (not an error, not other records). */
const nobody: CheckDefinition = {
  id: 'findByEmail.nobody',
  scope: 'object',
  title: 'an email nobody has finds nothing',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    await kit.create('a');
    const found = await kit.connector.findByEmail(kit.type, [kit.emailFor('nobody')], { fields: kit.fields });
    assert.deepEqual(found, [], 'nothing found');
  },
};

/**
 * One `findByEmail` call with several emails (upper-case, padded, unknown ones among them, one email given
 * twice) answers every record holding one of them, each once, with the requested fields (a blank one `null`).
 */
const many: CheckDefinition = {
  id: 'findByEmail.many',
  scope: 'object',
  title:
    'many emails in one call: every record holding one, once each (an email asked twice included), with the requested fields',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const [a, b, c] = [await kit.create('a'), await kit.create('b'), await kit.create('c', { blankText: true })];
    const emails = [
      a.email,
      b.email.toUpperCase(),
      kit.emailFor('nobody1'),
      c.email,
      kit.emailFor('nobody2'),
      ` ${a.email}`,
    ];
    const found = await kit.connector.findByEmail(kit.type, emails, { fields: kit.fields });
    assertShapes(found, kit.fields, 'findByEmail(many)');
    assert.deepEqual(ids(found), [a.id, b.id, c.id].sort(), 'each record holding one of the emails, once');
    for (const made of [a, b]) {
      const record = found.find((r) => r.id === made.id);
      assert.equal(normaliseEmail(record?.fields[kit.emailField]), made.email, `record ${made.id}: its email`);
      assert.equal(record?.fields[kit.text], kit.value(made.label), `record ${made.id}: its '${kit.text}'`);
    }
    const blank = found.find((r) => r.id === c.id);
    assert.ok(blank && kit.text in blank.fields && blank.fields[kit.text] === null, `a blank '${kit.text}' is null`);
  },
};

/** Two records holding the same email are both found: `findByEmail` answers records, not one per email. */
const duplicates: CheckDefinition = {
  id: 'findByEmail.duplicates',
  scope: 'object',
  title: 'two records holding one email are both found',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    const first = await kit.create('a');
    const twin = await kit.create('twin', { fields: { [kit.emailField]: first.email } });
    const found = await kit.connector.findByEmail(kit.type, [first.email], { fields: kit.fields });
    assert.deepEqual(ids(found), [first.id, twin.id].sort(), 'both records');
  },
};

/** `get([])`, `findByEmail([])` and `write([])` each resolve to an empty list. */
const emptyLists: CheckDefinition = {
  id: 'lists.empty',
  scope: 'object',
  title: 'no ids, no emails, no ops: each call answers an empty list',
  async run({ started, object }) {
    const kit = new ObjectKit(started, object);
    assert.deepEqual(await kit.connector.get(kit.type, [], { fields: kit.fields }), [], 'get([])');
    assert.deepEqual(await kit.connector.findByEmail(kit.type, [], { fields: kit.fields }), [], 'findByEmail([])');
    assert.deepEqual(await kit.connector.write(kit.type, []), [], 'write([])');
  },
};

export const LOOKUP_CHECKS = [missing, order, fields, normalised, nobody, many, duplicates, emptyLists];
