/**
 * What went wrong on the wire, in words an operator can act on. undici and Node report a failed connection as an
 * error code somewhere in a chain of causes (ECONNREFUSED, ENOTFOUND, a TLS verification code, UND_ERR_SOCKET);
 * `networkFailure` finds it, and `connectionError` turns it into a TandemError naming the system, the host, what
 * failed and the variables to check. Messages carry no secrets: only a host, a code and our own words.
 *
 * Whether a failure is worth retrying is each connector's own policy (what a dropped connection means depends on
 * the API behind it), so it is not decided here.
 */
import { ConnectorAuthError, RetryableError, type TandemError } from './errors';

export type NetworkFailureKind = 'dns' | 'refused' | 'unreachable' | 'timeout' | 'tls' | 'closed';

export interface NetworkFailure {
  kind: NetworkFailureKind;
  /** The system's code (ECONNREFUSED, SELF_SIGNED_CERT_IN_CHAIN, ...). */
  code: string;
  /** The low-level message, for TLS failures whose code alone says little. */
  detail: string;
}

const KINDS: Record<string, NetworkFailureKind> = {
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
 * The error a failed connection means. `system` names who we tried to reach ("Entra ID", "Salesforce"), `variables`
 * what configures it. TLS failures also point at NODE_EXTRA_CA_CERTS: a private CA or an inspecting proxy is the
 * usual cause, and a retry will not help until someone acts (CONNECTOR_AUTH); the rest may pass (retryable).
 */
export function connectionError(
  system: string,
  url: string,
  failure: NetworkFailure,
  variables: readonly string[],
  cause?: unknown,
): TandemError {
  const host = hostOf(url);
  const check = failure.kind === 'tls' ? [...variables, 'NODE_EXTRA_CA_CERTS'] : variables;
  const message = `${system} is not reachable: ${what(failure, host)}. Check ${check.join(', ')}.`;
  const details = { system, host, failure: failure.kind, code: failure.code, variables: check };
  return failure.kind === 'tls'
    ? new ConnectorAuthError(message, { cause, details })
    : new RetryableError(message, { cause, details });
}
