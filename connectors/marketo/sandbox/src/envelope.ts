/**
 * Marketo's response envelope and the pieces of protocol the sandbox's routes share: request ids, errors
 * raised as response-level codes, and opaque paging tokens.
 */
import { randomBytes } from 'node:crypto';

/** A response-level failure (HTTP 200, `success:false`); routes throw it, the wrapper renders it. */
export class MarketoApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function requestId(): string {
  return `${randomBytes(2).toString('hex')}#${Date.now().toString(16)}`;
}

export interface SuccessBody {
  result?: unknown[];
  moreResult?: boolean;
  nextPageToken?: string;
  warnings?: string[];
}

export function success(body: SuccessBody): Record<string, unknown> {
  return { requestId: requestId(), success: true, ...body };
}

/** Error codes are strings holding integers (error-codes.md, "Response-Level errors"). */
export function failure(code: string, message: string): Record<string, unknown> {
  return { requestId: requestId(), success: false, errors: [{ code, message }] };
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 with `=` padding: what Marketo's tokens look like (`GIYDAOBN...GA3TQ===`, activities.md). */
function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out.padEnd(Math.ceil(out.length / 8) * 8, '=');
}

function unbase32(text: string): Buffer | undefined {
  const body = text.replace(/=+$/, '');
  if (!/^[A-Z2-7]*$/.test(body)) return undefined;
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of body) {
    value = (value << 5) | BASE32.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/**
 * Paging tokens are opaque to clients; here they are the base32 of what they point at (a list offset or a
 * change-log position) plus a kind, so one endpoint refuses another's. Their `=` padding has to be URL-encoded
 * ("URL-encode nextPageToken in the request", activities.md).
 */
export function issueToken(kind: string, position: number): string {
  return base32(Buffer.from(`${kind}:${position}`));
}

export function decodeToken(kind: string, token: string): number {
  const raw = unbase32(token)?.toString('utf8') ?? '';
  const position = raw.startsWith(`${kind}:`) ? Number(raw.slice(kind.length + 1)) : NaN;
  if (!Number.isInteger(position) || position < 0) throw new MarketoApiError('1003', 'Invalid next page token');
  return position;
}

/** Parses a comma-separated query parameter into trimmed non-empty parts. */
export function csv(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}
