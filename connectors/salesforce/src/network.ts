/**
 * What went wrong on the wire, in words an operator can act on. undici and Node report a failed connection as an
 * error code somewhere in a chain of causes (ECONNREFUSED, ENOTFOUND, a TLS verification code, UND_ERR_SOCKET);
 * `networkFailure` finds it, and `connectionError` turns it into a TandemError naming Salesforce, the host, what
 * failed and the variables to check. Messages carry no secrets: only a host, a code and our own words.
 */
import { ConnectorAuthError, RetryableError, type TandemError } from '@tandem/core/plugin';

export type FailureKind = 'dns' | 'refused' | 'unreachable' | 'timeout' | 'tls' | 'closed';

export interface NetworkFailure {
  kind: FailureKind;
  /** The system's code (ECONNREFUSED, SELF_SIGNED_CERT_IN_CHAIN, ...). */
  code: string;
  /** The low-level message, for TLS failures whose code alone says little. */
  detail: string;
}

const KINDS: Record<string, FailureKind> = {
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_NODATA: 'dns',
  EAI_NONAME: 'dns',
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ENETDOWN: 'unreachable',
  EADDRNOTAVAIL: 'unreachable',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  ECONNRESET: 'closed',
  EPIPE: 'closed',
  UND_ERR_SOCKET: 'closed',
  UND_ERR_CLOSED: 'closed',
};

/** OpenSSL's certificate verification codes and Node's TLS errors: a handshake that did not establish trust. */
function isTlsCode(code: string): boolean {
  return (
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL|HOSTNAME_MISMATCH|DEPTH_ZERO/.test(code) ||
    code === 'EPROTO'
  );
}

/** The network failure behind an error (walking `cause`), or undefined when it is something else. */
export function networkFailure(error: unknown): NetworkFailure | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 6; depth += 1) {
    const { code, message, cause } = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string') {
      const detail = typeof message === 'string' ? message : code;
      if (isTlsCode(code)) return { kind: 'tls', code, detail };
      const kind = KINDS[code];
      if (kind) return { kind, code, detail };
    }
    e = cause;
  }
  return undefined;
}

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

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function what(failure: NetworkFailure, host: string): string {
  switch (failure.kind) {
    case 'dns':
      return `the name ${host.replace(/:\d+$/, '')} does not resolve (${failure.code})`;
    case 'refused':
      return `nothing accepts connections at ${host}: connection refused (${failure.code})`;
    case 'unreachable':
      return `${host} is unreachable (${failure.code})`;
    case 'timeout':
      return `${host} did not answer in time (${failure.code})`;
    case 'tls':
      return `the TLS handshake with ${host} failed: ${failure.detail} (${failure.code})`;
    case 'closed':
      return `${host} closed the connection without an answer (${failure.code})`;
  }
}

/**
 * The error a failed connection means, naming the variables that configure it. TLS failures also point at
 * NODE_EXTRA_CA_CERTS: a private CA or an inspecting proxy is the usual cause, and a retry will not help until
 * someone acts (CONNECTOR_AUTH); the rest may pass (retryable).
 */
export function connectionError(url: string, failure: NetworkFailure, cause?: unknown): TandemError {
  const host = hostOf(url);
  const variables = failure.kind === 'tls' ? ['SALESFORCE_URL', 'NODE_EXTRA_CA_CERTS'] : ['SALESFORCE_URL'];
  const message = `Salesforce is not reachable: ${what(failure, host)}. Check ${variables.join(', ')}.`;
  const details = { system: 'Salesforce', host, failure: failure.kind, code: failure.code, variables };
  return failure.kind === 'tls'
    ? new ConnectorAuthError(message, { cause, details })
    : new RetryableError(message, { cause, details });
}

/** Replaces each secret that occurs in `text` (a message we do not control) with `***`. */
export function withoutSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('***');
  return out;
}
