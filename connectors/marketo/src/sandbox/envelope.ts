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

export function failure(code: string, message: string): Record<string, unknown> {
  return { requestId: requestId(), success: false, errors: [{ code, message }] };
}

/**
 * Paging tokens are opaque to clients (real ones look like `GIYDAOBN...`); here they are the upper-case hex of
 * what they point at (a list offset or a change-log position) plus a kind, so one endpoint refuses another's.
 */
export function issueToken(kind: string, position: number): string {
  return Buffer.from(`${kind}:${position}`).toString('hex').toUpperCase();
}

export function decodeToken(kind: string, token: string): number {
  const raw = /^[0-9A-F]+$/.test(token) ? Buffer.from(token, 'hex').toString('utf8') : '';
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
