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

test('unknown fields, duplicates and a missing email mapping are errors', () => {
  const analysis = analyzeMappings(
    mappings([
      { marketo: 'firstName', dynamics: 'firstname', direction: 'both' },
      { marketo: 'firstName', dynamics: 'nosuchcolumn', direction: 'both' },
      { marketo: 'nosuchfield', dynamics: 'jobtitle', direction: 'toDynamics' },
    ]),
    { marketo, dynamics: { contact } },
  );
  assert.ok(analysis.errors.some((e) => e.includes('"firstName" is mapped twice')));
  assert.ok(analysis.errors.some((e) => e.includes('no column "nosuchcolumn"')));
  assert.ok(analysis.errors.some((e) => e.includes('no lead field "nosuchfield"')));
  assert.ok(analysis.errors.some((e) => e.includes('matched by email')));
});

test('an object type Dynamics does not have is an error', () => {
  const analysis = analyzeMappings(DEFAULT_MAPPINGS, { marketo, dynamics: { contact } });
  assert.ok(analysis.errors.some((e) => e.includes('no object type "lead"')));
});
