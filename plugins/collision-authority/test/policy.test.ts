import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import type { Collision, CollisionSide } from '@tandem/core/plugin';
import {
  CollisionAuthoritySettingsSchema,
  collisionAuthorityPolicy,
  defaultCollisionAuthoritySettings,
  defaultSettings,
  mostRecentWins,
  type CollisionAuthoritySettings,
} from '../src/index';

/** A collision of the default pipeline: Marketo persons (first side) with a Dynamics object (second). */
function collision(
  crmObject = 'lead',
  fields: { first?: string; second?: string } = {},
  connectors: [string, string] = ['marketo', 'dynamics'],
): Collision {
  const side = (i: 0 | 1, over: Partial<CollisionSide>): CollisionSide => ({
    connection: connectors[i],
    connector: connectors[i],
    objectType: 'lead',
    field: 'email',
    value: 'x',
    ...over,
  });
  return {
    pipelineId: 'p1',
    sides: [
      side(0, { field: fields.first ?? 'email', value: 'm@example.com', changedAt: '2026-01-01T10:00:00Z' }),
      side(1, {
        objectType: crmObject,
        field: fields.second ?? 'emailaddress1',
        value: 'd@example.com',
        changedAt: '2026-01-01T09:00:00Z',
      }),
    ],
    base: 'old@example.com',
  };
}

const resolve = (c: Collision, s: CollisionAuthoritySettings = defaultSettings) =>
  collisionAuthorityPolicy.resolve(c, s);

describe('collision-authority policy object', () => {
  it('decides collisions and is enabled by default', () => {
    assert.equal(collisionAuthorityPolicy.decisionPoint, 'collision');
    assert.equal(collisionAuthorityPolicy.defaultEnabled, true);
    assert.equal(collisionAuthorityPolicy.settingsSchema, CollisionAuthoritySettingsSchema);
    assert.ok(collisionAuthorityPolicy.description.length > 0);
  });

  it('has empty default settings (the native defaults apply) and hands out copies', () => {
    assert.deepEqual(collisionAuthorityPolicy.defaultSettings, { objects: {} });
    const copy = defaultCollisionAuthoritySettings();
    assert.deepEqual(copy, defaultSettings);
    assert.notEqual(copy.objects, defaultSettings.objects);
  });
});

describe('resolve', () => {
  it('with the defaults, Marketo wins for leads and the CRM wins for contacts, Dynamics or Salesforce alike', () => {
    assert.equal(resolve(collision('lead')), 'marketo');
    assert.equal(resolve(collision('contact')), 'dynamics');
    assert.equal(resolve(collision('Lead', {}, ['marketo', 'salesforce'])), 'marketo');
    assert.equal(resolve(collision('Contact', {}, ['marketo', 'salesforce'])), 'salesforce');
  });

  it('has no opinion between other systems, or on object types the defaults do not know', () => {
    assert.equal(resolve(collision('contact', {}, ['salesforce', 'dynamics'])), undefined);
    assert.equal(resolve(collision('account')), undefined);
  });

  it('names winners by connection id, not connector: a connection called otherwise wins under its own name', () => {
    const c = collision('contact');
    const renamed: Collision = { ...c, sides: [c.sides[0], { ...c.sides[1], connection: 'crm-eu' }] };
    assert.equal(resolve(renamed), 'crm-eu');
  });

  it('ignores change times while enabled', () => {
    const marketoNewer = collision('contact');
    assert.equal(mostRecentWins(marketoNewer), 'marketo');
    assert.equal(resolve(marketoNewer), 'dynamics');
  });

  it("uses a per-object winner from the settings: by pair, by the second side's type, by the first's", () => {
    const settings: CollisionAuthoritySettings = {
      objects: { lead: { winner: 'dynamics' }, contact: { winner: 'marketo' }, account: { winner: 'marketo' } },
    };
    assert.equal(resolve(collision('lead'), settings), 'dynamics');
    assert.equal(resolve(collision('contact'), settings), 'marketo');
    assert.equal(resolve(collision('account'), settings), 'marketo');
    const byPair: CollisionAuthoritySettings = {
      objects: { 'lead->contact': { winner: 'marketo' }, contact: { winner: 'dynamics' } },
    };
    assert.equal(resolve(collision('contact'), byPair), 'marketo', 'the pair beats the type');
    const byFirst: CollisionAuthoritySettings = { objects: { lead: { winner: 'dynamics' } } };
    assert.equal(
      resolve(collision('contact'), byFirst),
      'dynamics',
      "the first side's type when nothing else names it",
    );
  });

  it("lets a per-field override beat the object winner, for that object only, by either side's field name", () => {
    const settings: CollisionAuthoritySettings = {
      objects: {
        lead: { winner: 'marketo', fields: { email: 'dynamics' } },
        contact: { winner: 'dynamics', fields: { leadScore: 'marketo', jobtitle: 'marketo' } },
      },
    };
    assert.equal(resolve(collision('lead', { first: 'email' }), settings), 'dynamics');
    assert.equal(resolve(collision('lead', { first: 'firstName', second: 'firstname' }), settings), 'marketo');
    assert.equal(resolve(collision('contact', { first: 'leadScore', second: 'mkt_leadscore' }), settings), 'marketo');
    assert.equal(resolve(collision('contact', { first: 'title', second: 'jobtitle' }), settings), 'marketo');
    assert.equal(resolve(collision('contact', { first: 'email' }), settings), 'dynamics');
  });

  it('does not mistake inherited property names for settings', () => {
    const settings: CollisionAuthoritySettings = { objects: { lead: { winner: 'marketo', fields: {} } } };
    assert.equal(resolve(collision('constructor'), { objects: {} }), undefined);
    assert.equal(resolve(collision('toString')), undefined);
    assert.equal(resolve(collision('lead', { first: 'toString' }), settings), 'marketo');
    assert.equal(resolve(collision('lead', { first: '__proto__' }), settings), 'marketo');
  });
});

describe('settings schema', () => {
  const check = (value: unknown) => Value.Check(CollisionAuthoritySettingsSchema, value);

  it('accepts the defaults and well-formed settings', () => {
    assert.ok(check(defaultSettings));
    assert.ok(check({ objects: { lead: { winner: 'dynamics', fields: { email: 'marketo', phone: 'dynamics' } } } }));
    assert.ok(check({ objects: { 'lead->Contact': { winner: 'salesforce', fields: {} } } }));
  });

  it('rejects malformed settings', () => {
    assert.ok(!check({}));
    assert.ok(!check(null));
    assert.ok(!check({ objects: { lead: {} } }));
    assert.ok(!check({ objects: { lead: { winner: '' } } }));
    assert.ok(!check({ objects: { lead: { winner: 'marketo', fields: { email: null } } } }));
    assert.ok(!check({ objects: { lead: { winner: 'marketo', extra: true } } }));
    assert.ok(!check({ objects: { lead: 'marketo' } }));
    assert.ok(!check({ objects: {}, extra: 1 }));
    assert.ok(!check({ objects: [] }));
  });

  it('describes itself for the OpenAPI document', () => {
    const schema = JSON.parse(JSON.stringify(CollisionAuthoritySettingsSchema)) as Record<string, unknown>;
    assert.equal(schema['additionalProperties'], false);
    assert.equal(typeof schema['description'], 'string');
    const objects = (schema['properties'] as Record<string, Record<string, unknown>>)['objects'];
    assert.equal(typeof objects?.['description'], 'string');
    const entry = objects?.['additionalProperties'] as Record<string, unknown>;
    assert.equal(entry['additionalProperties'], false);
    assert.deepEqual(entry['required'], ['winner']);
  });
});

describe('mostRecentWins', () => {
  const at = (first?: string, second?: string) =>
    mostRecentWins({
      sides: [
        {
          connection: 'a',
          connector: 'a',
          objectType: 't',
          field: 'f',
          value: 'x',
          ...(first === undefined ? {} : { changedAt: first }),
        },
        {
          connection: 'b',
          connector: 'b',
          objectType: 't',
          field: 'f',
          value: 'y',
          ...(second === undefined ? {} : { changedAt: second }),
        },
      ],
    });

  it('lets the later change win', () => {
    assert.equal(at('2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z'), 'a');
    assert.equal(at('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'), 'b');
    assert.equal(mostRecentWins(collision()), 'marketo');
  });

  it('gives a tie to the second side', () => {
    assert.equal(at('2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), 'b');
    assert.equal(at('2026-01-01T00:00:00Z', '2026-01-01T00:00:00.000Z'), 'b');
  });

  it('lets a missing (or unparseable) time lose; both missing go to the second side', () => {
    assert.equal(at(undefined, '2026-01-01T00:00:00Z'), 'b');
    assert.equal(at('2026-01-01T00:00:00Z', undefined), 'a');
    assert.equal(at(undefined, undefined), 'b');
    assert.equal(at('not a date', '2000-01-01T00:00:00Z'), 'b');
    assert.equal(at('2000-01-01T00:00:00Z', ''), 'a');
  });

  it('compares instants, not strings', () => {
    // Lexically '...00Z' > '...00.500Z', but 00.500 is later.
    assert.equal(at('2026-01-01T00:00:00.500Z', '2026-01-01T00:00:00Z'), 'a');
    // 10:00+02:00 is 08:00Z, earlier than 09:00Z.
    assert.equal(at('2026-01-01T10:00:00+02:00', '2026-01-01T09:00:00Z'), 'b');
  });
});
