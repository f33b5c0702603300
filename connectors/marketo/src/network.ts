/**
 * What a failed connection to Marketo means to an operator: which step failed, in words, and which settings to
 * check. The codes are Node's and undici's (a DNS failure, a refused or timed-out connection, a socket closed
 * before an answer, an untrusted certificate).
 */

export interface NetworkFailure {
  /**
   * `tls` will not fix itself; the others may (a DNS blip, a restart). `timeout` is a connection that could not
   * be made; `late` an answer that did not come in time (the request may have been applied).
   */
  kind: 'dns' | 'refused' | 'timeout' | 'late' | 'closed' | 'tls' | 'other';
  code: string;
  /** What failed, in words. */
  what: string;
  /** The settings that decide it. */
  check: string[];
}

const BASE_URL = 'MARKETO_BASE_URL';
const EXTRA_CA = 'NODE_EXTRA_CA_CERTS';

function codeOf(error: unknown): string {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : '';
}

/** The first error code found on the error, its cause, or (Node's happy eyeballs) one of its aggregated errors. */
function codes(error: unknown): string[] {
  const out: string[] = [];
  const visit = (e: unknown, depth: number) => {
    if (depth > 3 || !(e instanceof Error)) return;
    const code = codeOf(e);
    if (code) out.push(code);
    if (e instanceof AggregateError) for (const inner of e.errors) visit(inner, depth + 1);
    visit(e.cause, depth + 1);
  };
  visit(error, 0);
  return out;
}

export function networkFailure(error: unknown): NetworkFailure {
  const all = codes(error);
  const tls = all.find((c) => /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL/.test(c));
  if (tls) {
    return { kind: 'tls', code: tls, what: 'its TLS certificate is not trusted', check: [BASE_URL, EXTRA_CA] };
  }
  const has = (...wanted: string[]) => all.find((c) => wanted.includes(c));
  const dns = has('ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME');
  if (dns) return { kind: 'dns', code: dns, what: 'the host name does not resolve', check: [BASE_URL] };
  const refused = has('ECONNREFUSED');
  if (refused) return { kind: 'refused', code: refused, what: 'the connection was refused', check: [BASE_URL] };
  const timeout = has('ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH');
  if (timeout) return { kind: 'timeout', code: timeout, what: 'the host could not be reached', check: [BASE_URL] };
  const late =
    has('UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT') ?? (isTimeoutSignal(error) ? 'TIMEOUT' : undefined);
  if (late) return { kind: 'late', code: late, what: 'it did not answer in time', check: [BASE_URL] };
  const closed = has('UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE');
  if (closed)
    return { kind: 'closed', code: closed, what: 'the connection was closed before an answer', check: [BASE_URL] };
  return { kind: 'other', code: all[0] ?? 'unknown', what: 'the request failed', check: [BASE_URL] };
}

/** The request's own timeout (`AbortSignal.timeout`) fired. */
function isTimeoutSignal(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'TimeoutError' || (error.cause instanceof Error && error.cause.name === 'TimeoutError'))
  );
}
