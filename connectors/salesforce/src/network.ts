/**
 * Salesforce's retry policy for network failures. What a failure is, and the error it means, are core's
 * (`networkFailure`, `connectionError` in `@tandem/core/plugin`); what is worth trying again is this connector's.
 */
import { type NetworkFailure } from '@tandem/core/plugin';

/**
 * Failures worth trying again: the connection was dropped or timed out (the request may or may not have got
 * through), a name server that did not answer (EAI_AGAIN), a refused or unreachable host (a restart, a blip). A
 * name that does not exist and a certificate nobody trusts will not mend by themselves.
 */
export function transient(failure: NetworkFailure): boolean {
  if (failure.kind === 'tls') return false;
  if (failure.kind === 'dns') return failure.code === 'EAI_AGAIN';
  return true;
}

/** Whether the request surely never reached Salesforce (the connection itself could not be made). */
export function neverSent(failure: NetworkFailure): boolean {
  return (
    failure.kind === 'dns' || failure.kind === 'refused' || failure.kind === 'unreachable' || failure.kind === 'tls'
  );
}
