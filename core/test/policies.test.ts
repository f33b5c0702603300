import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import pino from 'pino';
import { activePolicies } from '../src/sync/policies';
import type { Collision, CollisionPolicy, Policy, RejectionPolicy } from '../src/plugin';

const authority: CollisionPolicy<{ winner: 'marketo' | 'dynamics' }> = {
  decisionPoint: 'collision',
  description: 'test authority',
  settingsSchema: Type.Object({ winner: Type.Union([Type.Literal('marketo'), Type.Literal('dynamics')]) }),
  defaultSettings: { winner: 'marketo' },
  defaultEnabled: true,
  resolve: (_c, s) => s.winner,
};
const halting: RejectionPolicy<{ mode: string }> = {
  decisionPoint: 'rejection',
  description: 'test rejection',
  settingsSchema: Type.Object({ mode: Type.String() }),
  defaultSettings: { mode: 'continue' },
  defaultEnabled: true,
  onRejected: (_r, s) => (s.mode === 'halt' ? 'halt' : 'continue'),
};
const installed = new Map<string, Policy>([
  ['authority', authority as CollisionPolicy],
  ['validation', halting as RejectionPolicy],
]);
const side = (connection: string, value: string, changedAt: string) => ({
  connection,
  connector: connection,
  objectType: 'contact',
  field: 'title',
  value,
  changedAt,
});
const collision: Collision = {
  pipelineId: 'p',
  sides: [side('marketo', 'b', '2026-01-01T10:00:00Z'), side('dynamics', 'c', '2026-01-01T09:00:00Z')],
  base: 'a',
};
const rejection = {
  pipelineId: 'p',
  connection: 'dynamics',
  connector: 'dynamics',
  objectType: 'contact',
  code: 'x',
  message: 'y',
};
const logger = pino({ level: 'silent' });

test('defaults apply when nothing is stored', () => {
  const active = activePolicies(installed, [], logger);
  assert.equal(active.resolveCollision(collision), 'marketo');
  assert.equal(active.onRejected(rejection), 'continue');
});

test('stored settings and toggles win; disabled authority means the most recent change wins', () => {
  const stored = activePolicies(
    installed,
    [{ policyId: 'authority', enabled: true, settings: { winner: 'dynamics' } }],
    logger,
  );
  assert.equal(stored.resolveCollision(collision), 'dynamics');
  const disabled = activePolicies(
    installed,
    [{ policyId: 'authority', enabled: false, settings: { winner: 'dynamics' } }],
    logger,
  );
  assert.equal(disabled.resolveCollision(collision), 'marketo');
  assert.equal(
    disabled.resolveCollision({
      ...collision,
      sides: [side('marketo', 'b', '2026-01-01T08:00:00Z'), collision.sides[1]],
    }),
    'dynamics',
  );
  const halt = activePolicies(
    installed,
    [{ policyId: 'validation', enabled: true, settings: { mode: 'halt' } }],
    logger,
  );
  assert.equal(halt.onRejected(rejection), 'halt');
});

test('settings that no longer match the schema fall back to the defaults', () => {
  const active = activePolicies(
    installed,
    [{ policyId: 'authority', enabled: true, settings: { winner: 42 } }],
    logger,
  );
  assert.equal(active.resolveCollision(collision), 'marketo');
});

test('a policy naming a connection the pipeline lacks, or none, lets the most recent change win', () => {
  const naming = (answer: string | undefined): Map<string, Policy> =>
    new Map([['authority', { ...authority, resolve: () => answer } as CollisionPolicy]]);
  assert.equal(activePolicies(naming('salesforce'), [], logger).resolveCollision(collision), 'marketo');
  assert.equal(activePolicies(naming(undefined), [], logger).resolveCollision(collision), 'marketo');
  assert.equal(activePolicies(naming('dynamics'), [], logger).resolveCollision(collision), 'dynamics');
});
