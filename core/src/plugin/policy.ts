/**
 * Policies decide at one decision point of a sync cycle. They are stateless: the engine passes the
 * pipeline's stored settings (validated against `settingsSchema`) with every call, so a PATCH takes effect
 * at the next cycle without a restart.
 */
import type { TSchema } from '@sinclair/typebox';
import type { FieldValue } from './connector';

export type Side = 'marketo' | 'dynamics';

export interface Collision {
  pipelineId: string;
  /** The Dynamics object type of the pair (`contact` or `lead`). */
  dynamicsObject: string;
  /** The Marketo field name and the Dynamics field name of the mapping. */
  marketoField: string;
  dynamicsField: string;
  base: FieldValue | undefined;
  marketo: { value: FieldValue; changedAt?: string };
  dynamics: { value: FieldValue; changedAt?: string };
}

export interface Rejection {
  pipelineId: string;
  /** The system that refused the write. */
  system: Side;
  objectType: string;
  recordId?: string;
  code: string;
  message: string;
}

export type RejectionAction = 'continue' | 'halt';

interface PolicyBase<S> {
  readonly settingsSchema: TSchema;
  readonly defaultSettings: S;
  readonly defaultEnabled: boolean;
  readonly description: string;
}

export interface CollisionPolicy<S = unknown> extends PolicyBase<S> {
  readonly decisionPoint: 'collision';
  /** Which side's value wins. Only called while the policy is enabled. */
  resolve(collision: Collision, settings: S): Side;
}

export interface RejectionPolicy<S = unknown> extends PolicyBase<S> {
  readonly decisionPoint: 'rejection';
  /** What the cycle does after a rejected write (it is always logged). Only called while enabled. */
  onRejected(rejection: Rejection, settings: S): RejectionAction;
}

export type Policy = CollisionPolicy | RejectionPolicy;

/**
 * The engine's rule when no collision policy is enabled: the most recent change wins. Times are parsed (not
 * compared as strings, which gets offsets and fractions wrong); a missing time loses; a tie goes to Dynamics.
 */
export function mostRecentWins(collision: Pick<Collision, 'marketo' | 'dynamics'>): Side {
  const m = collision.marketo.changedAt ? Date.parse(collision.marketo.changedAt) : Number.NaN;
  const d = collision.dynamics.changedAt ? Date.parse(collision.dynamics.changedAt) : Number.NaN;
  if (Number.isNaN(m)) return 'dynamics';
  if (Number.isNaN(d)) return 'marketo';
  return m > d ? 'marketo' : 'dynamics';
}
