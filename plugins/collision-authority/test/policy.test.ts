import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import type { Collision } from '@tandem/core/plugin';
import {
  CollisionAuthoritySettingsSchema,
  collisionAuthorityPolicy,
  defaultCollisionAuthoritySettings,
  defaultSettings,
  mostRecentWins,
  type CollisionAuthoritySettings,
} from '../src/index';

function collision(overrides: Partial<Collision> = {}): Collision {
  return {
    pipelineId: 'p1',
    dynamicsObject: 'lead',
    marketoField: 'email',
    dynamicsField: 'emailaddress1',
    base: 'old@example.com',
    marketo: { value: 'm@example.com', changedAt: '2026-01-01T10:00:00Z' },
    dynamics: { value: 'd@example.com', changedAt: '2026-01-01T09:00:00Z' },
    ...overrides,
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

  it('has the documented default settings', () => {
    assert.deepEqual(collisionAuthorityPolicy.defaultSettings, {
      objects: { lead: { winner: 'marketo' }, contact: { winner: 'dynamics' } },
    });
    const copy = defaultCollisionAuthoritySettings();
    assert.deepEqual(copy, defaultSettings);
    assert.notEqual(copy.objects, defaultSettings.objects);
  });
});

describe('resolve', () => {
  it('with the defaults, Marketo wins for leads and Dynamics wins for contacts', () => {
    assert.equal(resolve(collision({ dynamicsObject: 'lead' })), 'marketo');
    assert.equal(resolve(collision({ dynamicsObject: 'contact' })), 'dynamics');
  });

  it('ignores change times while enabled', () => {
    const marketoNewer = collision({ dynamicsObject: 'contact' });
    assert.equal(mostRecentWins(marketoNewer), 'marketo');
    assert.equal(resolve(marketoNewer), 'dynamics');
  });

  it('uses a per-object winner from the settings', () => {
    const settings: CollisionAuthoritySettings = {
      objects: { lead: { winner: 'dynamics' }, contact: { winner: 'marketo' }, account: { winner: 'marketo' } },
    };
    assert.equal(resolve(collision({ dynamicsObject: 'lead' }), settings), 'dynamics');
    assert.equal(resolve(collision({ dynamicsObject: 'contact' }), settings), 'marketo');
    assert.equal(resolve(collision({ dynamicsObject: 'account' }), settings), 'marketo');
  });

  it('lets a per-field override beat the object winner, for that object only', () => {
    const settings: CollisionAuthoritySettings = {
      objects: {
        lead: { winner: 'marketo', fields: { email: 'dynamics' } },
        contact: { winner: 'dynamics', fields: { leadScore: 'marketo' } },
      },
    };
    assert.equal(resolve(collision({ dynamicsObject: 'lead', marketoField: 'email' }), settings), 'dynamics');
    assert.equal(resolve(collision({ dynamicsObject: 'lead', marketoField: 'firstName' }), settings), 'marketo');
    assert.equal(resolve(collision({ dynamicsObject: 'contact', marketoField: 'leadScore' }), settings), 'marketo');
    assert.equal(resolve(collision({ dynamicsObject: 'contact', marketoField: 'email' }), settings), 'dynamics');
    // Overrides are keyed by the Marketo field name, not the Dynamics one.
    assert.equal(
      resolve(collision({ dynamicsObject: 'lead', marketoField: 'x', dynamicsField: 'email' }), settings),
      'marketo',
    );
  });

  it('falls back to the defaults for objects missing from the settings, else to Dynamics', () => {
    const onlyLead: CollisionAuthoritySettings = { objects: { lead: { winner: 'dynamics' } } };
    assert.equal(resolve(collision({ dynamicsObject: 'contact' }), onlyLead), 'dynamics');
    const onlyContact: CollisionAuthoritySettings = { objects: { contact: { winner: 'marketo' } } };
    assert.equal(resolve(collision({ dynamicsObject: 'lead' }), onlyContact), 'marketo');
    const empty: CollisionAuthoritySettings = { objects: {} };
    assert.equal(resolve(collision({ dynamicsObject: 'lead' }), empty), 'marketo');
    assert.equal(resolve(collision({ dynamicsObject: 'contact' }), empty), 'dynamics');
    assert.equal(resolve(collision({ dynamicsObject: 'account' }), empty), 'dynamics');
    assert.equal(resolve(collision({ dynamicsObject: 'account' })), 'dynamics');
  });

  it('does not mistake inherited property names for settings', () => {
    const settings: CollisionAuthoritySettings = { objects: { lead: { winner: 'marketo', fields: {} } } };
    assert.equal(resolve(collision({ dynamicsObject: 'constructor' }), settings), 'dynamics');
    assert.equal(resolve(collision({ dynamicsObject: 'toString' })), 'dynamics');
    assert.equal(resolve(collision({ dynamicsObject: 'lead', marketoField: 'toString' }), settings), 'marketo');
    assert.equal(resolve(collision({ dynamicsObject: 'lead', marketoField: '__proto__' }), settings), 'marketo');
  });
});

describe('settings schema', () => {
  const check = (value: unknown) => Value.Check(CollisionAuthoritySettingsSchema, value);

  it('accepts the defaults and well-formed settings', () => {
    assert.ok(check(defaultSettings));
    assert.ok(check({ objects: {} }));
    assert.ok(check({ objects: { lead: { winner: 'dynamics', fields: { email: 'marketo', phone: 'dynamics' } } } }));
    assert.ok(check({ objects: { account: { winner: 'marketo', fields: {} } } }));
  });

  it('rejects malformed settings', () => {
    assert.ok(!check({}));
    assert.ok(!check(null));
    assert.ok(!check({ objects: { lead: {} } }));
    assert.ok(!check({ objects: { lead: { winner: 'salesforce' } } }));
    assert.ok(!check({ objects: { lead: { winner: 'Marketo' } } }));
    assert.ok(!check({ objects: { lead: { winner: 'marketo', fields: { email: 'both' } } } }));
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
  const at = (marketo?: string, dynamics?: string) =>
    mostRecentWins({
      marketo: { value: 'm', ...(marketo === undefined ? {} : { changedAt: marketo }) },
      dynamics: { value: 'd', ...(dynamics === undefined ? {} : { changedAt: dynamics }) },
    });

  it('lets the later change win', () => {
    assert.equal(at('2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z'), 'marketo');
    assert.equal(at('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'), 'dynamics');
    assert.equal(mostRecentWins(collision()), 'marketo');
  });

  it('gives a tie to Dynamics', () => {
    assert.equal(at('2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), 'dynamics');
    assert.equal(at('2026-01-01T00:00:00Z', '2026-01-01T00:00:00.000Z'), 'dynamics');
  });

  it('lets a missing (or unparseable) time lose; both missing go to Dynamics', () => {
    assert.equal(at(undefined, '2026-01-01T00:00:00Z'), 'dynamics');
    assert.equal(at('2026-01-01T00:00:00Z', undefined), 'marketo');
    assert.equal(at(undefined, undefined), 'dynamics');
    assert.equal(at('not a date', '2000-01-01T00:00:00Z'), 'dynamics');
    assert.equal(at('2000-01-01T00:00:00Z', ''), 'marketo');
  });

  it('compares instants, not strings', () => {
    // Lexically '...00Z' > '...00.500Z', but 00.500 is later.
    assert.equal(at('2026-01-01T00:00:00.500Z', '2026-01-01T00:00:00Z'), 'marketo');
    // 10:00+02:00 is 08:00Z, earlier than 09:00Z.
    assert.equal(at('2026-01-01T10:00:00+02:00', '2026-01-01T09:00:00Z'), 'dynamics');
  });
});
