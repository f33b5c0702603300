import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeMappings, directionTarget, normalizeMappings, type Mappings } from '../src/sync/mappings';
import { DEFAULT_MAPPINGS } from '../src/pipelines/presets';
import type { FieldDescription, ObjectDescription } from '../src/plugin';
import type { DescribedSide } from '../src/sync/mappings';

const f = (name: string, over: Partial<FieldDescription> = {}): FieldDescription => ({
  name,
  type: 'string',
  readable: true,
  creatable: true,
  updatable: true,
  ...over,
});

const crm = (objectType: string, fields: FieldDescription[]): ObjectDescription => ({
  objectType,
  idField: `${objectType}id`,
  emailField: 'emailaddress1',
  fields,
});

const people: ObjectDescription = {
  objectType: 'lead',
  idField: 'id',
  emailField: 'email',
  fields: ['email', 'firstName', 'title', 'leadScore', 'createdAt'].map((n) =>
    f(n, n === 'createdAt' ? { updatable: false, creatable: false } : {}),
  ),
};
const contact = crm('contact', [
  f('emailaddress1'),
  f('firstname'),
  f('jobtitle', { updatable: false, creatable: false, note: 'not valid for update' }),
  f('mkt_leadscore', { readable: false, updatable: false, secured: true, note: 'secured column' }),
  f('createdon', { updatable: false, creatable: false }),
]);

const SIDES = { left: 'mkt', right: 'crm' };
const described = (left: ObjectDescription[], right: ObjectDescription[]) => ({
  left: { label: 'Mkt', objects: new Map(left.map((d) => [d.objectType, d])) } as DescribedSide,
  right: { label: 'Crm', objects: new Map(right.map((d) => [d.objectType, d])) } as DescribedSide,
});
const one = (fields: Mappings['objects'][number]['fields'], extra: Record<string, unknown> = {}): Mappings => ({
  objects: [{ mkt: 'lead', crm: 'contact', fields, ...extra }],
});
const analyze = (mappings: Mappings, left = [people], right = [contact]) =>
  analyzeMappings(normalizeMappings(mappings, SIDES), described(left, right));
const field = (mkt: string, crm: string, direction = 'both', optional?: boolean) => ({
  mkt,
  crm,
  direction,
  ...(optional === undefined ? {} : { optional }),
});

test('directions: both, to:<connection>, and the first version camel names', () => {
  assert.equal(directionTarget('both'), undefined);
  assert.equal(directionTarget('to:dynamics'), 'dynamics');
  assert.equal(directionTarget('toDynamics'), 'dynamics');
  assert.equal(directionTarget('toMarketo'), 'marketo');
});

test('unreadable and read-only fields are reported with the reason and reduced', () => {
  const analysis = analyze(
    one([
      field('email', 'emailaddress1'),
      field('title', 'jobtitle'),
      field('leadScore', 'mkt_leadscore'),
      field('createdAt', 'createdon', 'to:mkt'),
    ]),
  );
  assert.deepEqual(analysis.errors, []);
  const byName = new Map(analysis.objects[0]?.fields.map((x) => [x.names.left, x]));
  assert.deepEqual(byName.get('email')?.to, { left: true, right: true });
  assert.deepEqual(byName.get('title')?.to, { left: true, right: false });
  assert.match(byName.get('title')?.problems[0] ?? '', /Crm contact\.jobtitle cannot be written by the Crm sync user/);
  assert.deepEqual(byName.get('leadScore')?.to, { left: false, right: false });
  assert.match(byName.get('leadScore')?.problems[0] ?? '', /not readable.*secured column/);
  assert.deepEqual(byName.get('createdAt')?.to, { left: false, right: false });
});

test('a field a side lacks does not sync, says why, and is listed as missing; the rest still syncs', () => {
  const analysis = analyze(
    one([
      field('email', 'emailaddress1'),
      field('firstName', 'nosuchcolumn'),
      field('nosuchfield', 'jobtitle', 'to:crm'),
    ]),
  );
  assert.deepEqual(analysis.errors, [], 'nothing that stops a cycle');
  const byName = new Map(analysis.objects[0]?.fields.map((x) => [x.names.left, x]));
  assert.deepEqual(byName.get('email')?.to, { left: true, right: true });
  assert.deepEqual(byName.get('firstName')?.to, { left: false, right: false });
  assert.match(byName.get('firstName')?.problems[0] ?? '', /Crm contact has no field "nosuchcolumn"/);
  assert.deepEqual(analysis.missing, [
    'objects[lead->contact]: Crm contact has no field "nosuchcolumn"',
    'objects[lead->contact]: Mkt lead has no field "nosuchfield"',
  ]);
});

test('an optional field or flag a side lacks is reported but not listed as missing', () => {
  const analysis = analyze(
    one([field('email', 'emailaddress1'), field('leadScore', 'mkt_extra', 'both', true)], {
      typeField: { field: 'microsoftType', optional: true },
      deletedFlagField: 'microsoftIsDeleted',
    }),
  );
  assert.deepEqual(analysis.errors, []);
  const object = analysis.objects[0];
  assert.deepEqual(object?.fields[1]?.to, { left: false, right: false });
  assert.match(object?.fields[1]?.problems[0] ?? '', /optional field, synced only where both systems have it/);
  assert.deepEqual(
    object?.flags.map((x) => [x.role, x.side, x.available]),
    [
      ['deleted', 'left', false],
      ['type', 'left', false],
    ],
  );
  assert.deepEqual(analysis.missing, ['objects[lead->contact]: Mkt lead has no field "microsoftIsDeleted"']);
});

test('a flag keyed by connection belongs to that side', () => {
  const analysis = analyze(one([field('email', 'emailaddress1')], { typeField: { crm: 'firstname' } }));
  assert.deepEqual(
    analysis.objects[0]?.flags.map((x) => [x.side, x.field, x.available]),
    [['right', 'firstname', true]],
  );
});

test('duplicates and a missing or one-way email pair are errors that say what to map', () => {
  const duplicate = analyze(one([field('firstName', 'firstname'), field('firstName', 'jobtitle')]));
  assert.ok(duplicate.errors.some((e) => e.includes('Mkt field "firstName" is mapped twice')));
  assert.ok(duplicate.errors.some((e) => e.includes('map Mkt "email" to Crm "emailaddress1" with direction "both"')));
  const oneWay = analyze(one([field('email', 'emailaddress1', 'to:mkt')]));
  assert.ok(oneWay.errors.some((e) => e.includes('matched by email')));
  const gone = analyze(
    one([field('email', 'emailaddress1')]),
    [people],
    [{ ...contact, fields: contact.fields.filter((x) => x.name !== 'emailaddress1') }],
  );
  assert.ok(
    gone.errors.some((e) => e.includes('matched by email')),
    'an email column that vanished stops the cycle',
  );
});

test("names that are not the pipeline's connections, and object types a side lacks, are errors", () => {
  const stray = normalizeMappings(
    { objects: [{ mkt: 'lead', other: 'contact', fields: [field('email', 'x')] }] },
    SIDES,
  );
  assert.ok(stray.errors.some((e) => e.includes('"other" is not a connection of this pipeline')));
  const direction = normalizeMappings(one([field('email', 'emailaddress1', 'to:nowhere')]), SIDES);
  assert.ok(direction.errors.some((e) => e.includes('direction "to:nowhere" names no connection')));
  const noType = analyze({ objects: [{ mkt: 'lead', crm: 'lead', fields: [field('email', 'emailaddress1')] }] });
  assert.ok(noType.errors.some((e) => e.includes('Crm has no object type "lead"')));
});

test('the default mapping on vanilla orgs: standard fields sync, the extras are listed as optional and absent', () => {
  const standard = ['email', 'firstName', 'lastName', 'title', 'phone', 'mobilePhone', 'address', 'city', 'state'];
  const vanillaMarketo: ObjectDescription = {
    ...people,
    fields: [...standard, 'country', 'postalCode', 'unsubscribed', 'doNotCall', 'company', 'leadScore'].map((n) =>
      f(n),
    ),
  };
  const columns = [
    'emailaddress1',
    'firstname',
    'lastname',
    'jobtitle',
    'telephone1',
    'mobilephone',
    'address1_line1',
    'address1_city',
    'address1_stateorprovince',
    'address1_country',
    'address1_postalcode',
    'donotbulkemail',
    'donotphone',
  ];
  const table = (objectType: string, extra: string[]) =>
    crm(
      objectType,
      [...columns, ...extra].map((n) => f(n)),
    );
  const analysis = analyzeMappings(normalizeMappings(DEFAULT_MAPPINGS, { left: 'marketo', right: 'dynamics' }), {
    left: { label: 'Marketo', objects: new Map([['lead', vanillaMarketo]]) },
    right: {
      label: 'Dynamics',
      objects: new Map([
        ['contact', table('contact', [])],
        ['lead', table('lead', ['companyname'])],
      ]),
    },
  });
  assert.deepEqual(analysis.errors, []);
  assert.deepEqual(analysis.missing, [], 'only optional extras are absent');
  const notSyncing = analysis.objects.flatMap((o) => [
    ...o.fields.filter((x) => !x.to.left && !x.to.right).map((x) => `${o.types.right}:${x.names.left}`),
    ...o.flags.filter((x) => !x.available).map((x) => `${o.types.right}:${x.field}`),
  ]);
  assert.deepEqual(notSyncing, [
    'contact:leadScore',
    'contact:microsoftIsDeleted',
    'contact:microsoftType',
    'lead:microsoftIsDeleted',
    'lead:microsoftType',
  ]);
});
