/**
 * The policies in force for one cycle: each installed policy plugin with the pipeline's stored toggle and
 * settings (or the plugin's defaults). Read at the start of every cycle, so a PATCH applies at the next one.
 */
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import {
  mostRecentWins,
  type Collision,
  type CollisionPolicy,
  type Policy,
  type Rejection,
  type RejectionAction,
  type RejectionPolicy,
} from '../plugin';

export interface StoredPolicySetting {
  policyId: string;
  enabled: boolean;
  settings: unknown;
}

export interface ActivePolicies {
  /** The winning connection id: the enabled collision policy's answer, else the most recent change. */
  resolveCollision(collision: Collision): string;
  onRejected(rejection: Rejection): RejectionAction;
}

interface Active<P> {
  id: string;
  policy: P;
  settings: unknown;
}

export function activePolicies(
  installed: ReadonlyMap<string, Policy>,
  stored: readonly StoredPolicySetting[],
  logger: Logger,
): ActivePolicies {
  const collision: Array<Active<CollisionPolicy>> = [];
  const rejection: Array<Active<RejectionPolicy>> = [];
  for (const [id, policy] of installed) {
    const setting = stored.find((s) => s.policyId === id);
    const enabled = setting ? setting.enabled : policy.defaultEnabled;
    if (!enabled) continue;
    let settings = setting?.settings ?? policy.defaultSettings;
    if (!Value.Check(policy.settingsSchema, settings)) {
      // Stored settings are validated on PATCH; this only guards against a plugin upgrade changing its schema.
      logger.warn({ policy: id }, 'stored policy settings no longer match the plugin schema; using its defaults');
      settings = policy.defaultSettings;
    }
    if (policy.decisionPoint === 'collision') collision.push({ id, policy, settings });
    else rejection.push({ id, policy, settings });
  }
  const authority = collision[0];
  const warned = new Set<string>();
  return {
    resolveCollision: (c) => {
      const answer = authority?.policy.resolve(c, authority.settings);
      if (answer === undefined) return mostRecentWins(c);
      if (c.sides.some((s) => s.connection === answer)) return answer;
      // Settings naming a connection this pipeline does not have (a copy from another pipeline): said once.
      if (!warned.has(answer)) {
        warned.add(answer);
        logger.warn(
          { policy: authority?.id, winner: answer },
          `policy ${authority?.id ?? ''} names connection "${answer}", which this pipeline does not have; the most recent change wins`,
        );
      }
      return mostRecentWins(c);
    },
    onRejected: (r) => (rejection.some((p) => p.policy.onRejected(r, p.settings) === 'halt') ? 'halt' : 'continue'),
  };
}
