/**
 * Policies decide at one decision point of a sync cycle. They are stateless: the engine passes the
 * pipeline's stored settings (validated against `settingsSchema`) with every call, so a PATCH takes effect
 * at the next cycle without a restart.
 *
 * Plugin API 2 names a pipeline's sides by connection id (`marketo`, `dynamics`, `salesforce`, or whatever
 * an operator called a connection), so one policy serves every pipeline.
 */
import type { TSchema } from '@sinclair/typebox';
import type { FieldValue } from './connector';

/** One side of a collision: which connection, its object type and field, and what it holds now. */
export interface CollisionSide {
  /** The connection id. */
  connection: string;
  /** The connector plugin's id (what kind of system this is). */
  connector: string;
  objectType: string;
  field: string;
  value: FieldValue;
  /** When the field (or else the record) last changed, where the system says so. ISO 8601. */
  changedAt?: string;
}

/** A field changed on both sides since the last sync, to different values. */
export interface Collision {
  pipelineId: string;
  /** The pipeline's two sides, in the order its definition lists them. */
  sides: readonly [CollisionSide, CollisionSide];
  /** The value both sides last agreed on (undefined: none yet). */
  base: FieldValue | undefined;
}

/** A write a system refused (a validation rule, a plug-in, a bad format, a duplicate rule). */
export interface Rejection {
  pipelineId: string;
  /** The connection that refused the write. */
  connection: string;
  /** Its connector plugin's id. */
  connector: string;
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
  /**
   * The connection id whose value wins, or `undefined` when the policy has no opinion on this collision (the
   * engine then lets the most recent change win). Only called while the policy is enabled.
   */
  resolve(collision: Collision, settings: S): string | undefined;
}

export interface RejectionPolicy<S = unknown> extends PolicyBase<S> {
  readonly decisionPoint: 'rejection';
  /** What the cycle does after a rejected write (it is always logged). Only called while enabled. */
  onRejected(rejection: Rejection, settings: S): RejectionAction;
}

export type Policy = CollisionPolicy | RejectionPolicy;

/**
 * The engine's rule when no collision policy decides: the most recent change wins. Times are parsed (not
 * compared as strings, which gets offsets and fractions wrong); a missing time loses; a tie goes to the
 * pipeline's second side. Answers the winning connection id.
 */
export function mostRecentWins(collision: Pick<Collision, 'sides'>): string {
  const [first, second] = collision.sides;
  const a = first.changedAt ? Date.parse(first.changedAt) : Number.NaN;
  const b = second.changedAt ? Date.parse(second.changedAt) : Number.NaN;
  if (Number.isNaN(a)) return second.connection;
  if (Number.isNaN(b)) return first.connection;
  return a > b ? first.connection : second.connection;
}
