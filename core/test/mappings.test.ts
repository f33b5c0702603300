import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeMappings, DEFAULT_MAPPINGS, type Mappings } from '../src/sync/mappings';
import type { FieldDescription, ObjectDescription } from '../src/plugin';

const f = (name: string, over: Partial<FieldDescription> = {}): FieldDescription => ({
  name,
  type: 'string',
  readable: true,
  creatable: true,
  updatable: true,
  ...over,
});

const marketo: ObjectDescription = {
  objectType: 'lead',
  idField: 'id',
  emailField: 'email',
  fields: ['email', 'firstName', 'title', 'leadScore', 'createdAt'].map((n) =>
    f(n, n === 'createdAt' ? { updatable: false, creatable: false } : {}),
  ),
};
const contact: ObjectDescription = {
  objectType: 'contact',
  idField: 'contactid',
  emailField: 'emailaddress1',
  fields: [
    f('emailaddress1'),
    f('firstname'),
    f('jobtitle', { updatable: false, creatable: false, note: 'not valid for update' }),
    f('mkt_leadscore', { readable: false, updatable: false, secured: true, note: 'secured column' }),
    f('createdon', { updatable: false, creatable: false }),
  ],
};

const mappings = (fields: Mappings['objects'][number]['fields']): Mappings => ({
  objects: [{ marketo: 'lead', dynamics: 'contact', fields }],
});

test('unreadable and read-only fields are reported with the reason and reduced', () => {
  const analysis = analyzeMappings(
    mappings([
      { marketo: 'email', dynamics: 'emailaddress1', direction: 'both' },
      { marketo: 'title', dynamics: 'jobtitle', direction: 'both' },
      { marketo: 'leadScore', dynamics: 'mkt_leadscore', direction: 'both' },
      { marketo: 'createdAt', dynamics: 'createdon', direction: 'toMarketo' },
    ]),
    { marketo, dynamics: { contact } },
  );
  assert.deepEqual(analysis.errors, []);
  const byName = new Map(analysis.objects[0]?.fields.map((x) => [x.marketo, x]));
  assert.equal(byName.get('email')?.effective, 'both');
  assert.equal(byName.get('title')?.effective, 'toMarketo');
  assert.match(byName.get('title')?.problems[0] ?? '', /cannot be written/);
  assert.equal(byName.get('leadScore')?.effective, 'none');
  assert.match(byName.get('leadScore')?.problems[0] ?? '', /not readable.*secured column/);
  assert.equal(byName.get('createdAt')?.effective, 'none');
});

test('a field a system lacks does not sync, says why, and is listed as missing; the rest still syncs', () => {
  const analysis = analyzeMappings(
    mappings([
      { marketo: 'email', dynamics: 'emailaddress1', direction: 'both' },
      { marketo: 'firstName', dynamics: 'nosuchcolumn', direction: 'both' },
      { marketo: 'nosuchfield', dynamics: 'jobtitle', direction: 'toDynamics' },
    ]),
    { marketo, dynamics: { contact } },
  );
  assert.deepEqual(analysis.errors, [], 'nothing that stops a cycle');
  const byName = new Map(analysis.objects[0]?.fields.map((x) => [x.marketo, x]));
  assert.equal(byName.get('email')?.effective, 'both');
  assert.equal(byName.get('firstName')?.effective, 'none');
  assert.match(byName.get('firstName')?.problems[0] ?? '', /Dynamics contact has no column "nosuchcolumn"/);
  assert.equal(byName.get('nosuchfield')?.effective, 'none');
  assert.deepEqual(analysis.missing, [
    'objects[lead->contact]: Dynamics contact has no column "nosuchcolumn"',
    'objects[lead->contact]: Marketo has no lead field "nosuchfield"',
  ]);
});

test('an optional field or flag a system lacks is reported but not listed as missing', () => {
  const analysis = analyzeMappings(
    {
      objects: [
        {
          marketo: 'lead',
          dynamics: 'contact',
          fields: [
            { marketo: 'email', dynamics: 'emailaddress1', direction: 'both' },
            { marketo: 'leadScore', dynamics: 'mkt_extra', direction: 'both', optional: true },
          ],
          typeField: { field: 'microsoftType', optional: true },
          deletedFlagField: 'microsoftIsDeleted',
        },
      ],
    },
    { marketo, dynamics: { contact } },
  );
  assert.deepEqual(analysis.errors, []);
  const object = analysis.objects[0];
  assert.equal(object?.fields[1]?.effective, 'none');
  assert.match(object?.fields[1]?.problems[0] ?? '', /optional field, synced only where both systems have it/);
  assert.deepEqual(
    object?.flags.map((f) => [f.role, f.available]),
    [
      ['deleted', false],
      ['type', false],
    ],
  );
  assert.deepEqual(analysis.missing, ['objects[lead->contact]: Marketo has no lead field "microsoftIsDeleted"']);
});

test('duplicates and a missing or one-way email pair are errors that say what to map', () => {
  const duplicate = analyzeMappings(
    mappings([
      { marketo: 'firstName', dynamics: 'firstname', direction: 'both' },
      { marketo: 'firstName', dynamics: 'jobtitle', direction: 'both' },
    ]),
    { marketo, dynamics: { contact } },
  );
  assert.ok(duplicate.errors.some((e) => e.includes('"firstName" is mapped twice')));
  assert.ok(
    duplicate.errors.some((e) => e.includes('map Marketo "email" to Dynamics "emailaddress1" with direction "both"')),
  );
  const oneWay = analyzeMappings(mappings([{ marketo: 'email', dynamics: 'emailaddress1', direction: 'toMarketo' }]), {
    marketo,
    dynamics: { contact },
  });
  assert.ok(oneWay.errors.some((e) => e.includes('matched by email')));
  const gone = analyzeMappings(mappings([{ marketo: 'email', dynamics: 'emailaddress1', direction: 'both' }]), {
    marketo,
    dynamics: { contact: { ...contact, fields: contact.fields.filter((x) => x.name !== 'emailaddress1') } },
  });
  assert.ok(
    gone.errors.some((e) => e.includes('matched by email')),
    'an email column that vanished stops the cycle',
  );
});

test('an object type Dynamics does not have is an error', () => {
  const analysis = analyzeMappings(DEFAULT_MAPPINGS, { marketo, dynamics: { contact } });
  assert.ok(analysis.errors.some((e) => e.includes('no object type "lead"')));
});

test('the default mapping on vanilla orgs: standard fields sync, the extras are listed as optional and absent', () => {
  const standard = ['email', 'firstName', 'lastName', 'title', 'phone', 'mobilePhone', 'address', 'city', 'state'];
  const vanillaMarketo: ObjectDescription = {
    ...marketo,
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
  const table = (objectType: string, extra: string[]): ObjectDescription => ({
    objectType,
    idField: `${objectType}id`,
    emailField: 'emailaddress1',
    fields: [...columns, ...extra].map((n) => f(n)),
  });
  const analysis = analyzeMappings(DEFAULT_MAPPINGS, {
    marketo: vanillaMarketo,
    dynamics: { contact: table('contact', []), lead: table('lead', ['companyname']) },
  });
  assert.deepEqual(analysis.errors, []);
  assert.deepEqual(analysis.missing, [], 'only optional extras are absent');
  const notSyncing = analysis.objects.flatMap((o) => [
    ...o.fields.filter((x) => x.effective === 'none').map((x) => `${o.dynamics}:${x.marketo}`),
    ...o.flags.filter((x) => !x.available).map((x) => `${o.dynamics}:${x.field}`),
  ]);
  assert.deepEqual(notSyncing, [
    'contact:leadScore',
    'contact:microsoftIsDeleted',
    'contact:microsoftType',
    'lead:microsoftIsDeleted',
    'lead:microsoftType',
  ]);
});
