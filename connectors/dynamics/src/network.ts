/**
 * Dataverse's retry policy for network failures. What a failure is, and the error it means, are core's
 * (`networkFailure`, `connectionError` in `@tandem/core/plugin`); what is worth trying again is this connector's.
 */
import { networkFailure, type NetworkFailure } from '@tandem/core/plugin';

/** A connection that was established and then closed before any answer (a gateway dropping a request it refuses). */
export function closedWithoutAnswer(error: unknown): boolean {
  return networkFailure(error)?.kind === 'closed';
}

/** Failures worth trying again on the same connection at once: the request got through, the answer did not. */
export function transient(failure: NetworkFailure): boolean {
  return failure.kind === 'closed' || failure.kind === 'timeout';
}
