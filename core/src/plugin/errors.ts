/**
 * One error family with stable codes. Connectors throw these so the engine and the API can react to the
 * kind of failure (retry, stop the cycle, report) without parsing messages.
 */
export type ErrorCode =
  | 'BAD_CONFIG'
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAUTHORIZED'
  | 'NOT_IMPLEMENTED'
  | 'PLUGIN_LOAD_FAILED'
  | 'CONNECTOR_AUTH'
  | 'CONNECTOR_RETRYABLE'
  | 'CONNECTOR_QUOTA'
  | 'CONNECTOR_PROTOCOL'
  | 'CONNECTOR_REQUEST'
  | 'UNKNOWN_FIELD'
  | 'CURSOR_EXPIRED'
  | 'REMOTE_REJECTED'
  | 'INTERNAL';

export class TandemError extends Error {
  readonly code: ErrorCode;
  /** HTTP status to use when this error reaches the REST API. */
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { status?: number; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? 500;
    this.details = options.details;
  }
}

/** A failure worth retrying later (throttling, timeouts, 5xx). `retryAfterMs` is the server's hint, if any. */
export class RetryableError extends TandemError {
  readonly retryAfterMs: number | undefined;
  constructor(
    message: string,
    options: { retryAfterMs?: number; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('CONNECTOR_RETRYABLE', message, { status: 503, ...options });
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The remote system's daily quota is spent: stop the cycle; `resetsAt` says when it comes back. */
export class QuotaExhaustedError extends TandemError {
  readonly resetsAt: Date | undefined;
  constructor(message: string, options: { resetsAt?: Date; cause?: unknown } = {}) {
    super('CONNECTOR_QUOTA', message, { status: 503, cause: options.cause });
    this.resetsAt = options.resetsAt;
  }
}

/** Credentials are wrong or were revoked; retrying will not help until an operator acts. */
export class ConnectorAuthError extends TandemError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('CONNECTOR_AUTH', message, { status: 502, ...options });
  }
}

/** The remote system answered something that does not follow its documented protocol (HTML, bad JSON, ...). */
export class ProtocolError extends TandemError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('CONNECTOR_PROTOCOL', message, { status: 502, ...options });
  }
}

/** The remote system refused the request as a whole (not retryable, not a per-record rejection). */
export class ConnectorRequestError extends TandemError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('CONNECTOR_REQUEST', message, { status: 502, ...options });
  }
}

/** A stored cursor the remote system no longer accepts (expired delta token, purged paging token). */
export class CursorExpiredError extends TandemError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CURSOR_EXPIRED', message, { status: 409, ...options });
  }
}

export function isTandemError(error: unknown): error is TandemError {
  return error instanceof TandemError;
}
