/**
 * Every error leaves the API as `application/problem+json` (RFC 9457) `{ type, title, status, detail, code }`.
 * A client's mistake is a 4xx with what was wrong; anything else is a 500 that says nothing about internals
 * (no stack, no message) and points at the log by request id.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isStoreUnavailable } from '../db/errors';
import { isTandemError } from '../plugin';

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'A URI naming the kind of problem' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable machine-readable code (TandemError code)' }),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), {
        description: 'Validation failures, one per field',
      }),
    ),
    runId: Type.Optional(Type.String({ description: 'A 409 for a cycle already running: that run' })),
  },
  { $id: 'Problem', description: 'application/problem+json error' },
);

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** The code of a 4xx that carries none of its own (Fastify's and its plugins' client errors). */
const CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  411: 'LENGTH_REQUIRED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  416: 'RANGE_NOT_SATISFIABLE',
  429: 'TOO_MANY_REQUESTS',
  431: 'HEADERS_TOO_LARGE',
  501: 'NOT_IMPLEMENTED',
};

export function codeFor(status: number): string {
  return CODES[status] ?? (status >= 500 ? 'INTERNAL' : 'BAD_REQUEST');
}

export function titleFor(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/** The problem body as text, for `sendProblem` and for answers written straight to a socket. */
export function problemBody(problem: Problem): string {
  return JSON.stringify({
    type: `urn:tandem:problem:${problem.code.toLowerCase().replace(/_/g, '-')}`,
    title: titleFor(problem.status),
    status: problem.status,
    detail: problem.detail,
    code: problem.code,
    ...(problem.errors ? { errors: problem.errors } : {}),
    ...problem.extensions,
  });
}

export interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: { field: string; message: string }[];
  /** Extension members (RFC 9457), e.g. the `runId` of the cycle a 409 refers to. */
  extensions?: Record<string, string>;
}

/** Extension members an error offers for its problem body (`details.problem`, string values only). */
function extensionsOf(details: Record<string, unknown> | undefined): Record<string, string> | undefined {
  const problem = details?.['problem'];
  if (typeof problem !== 'object' || problem === null) return undefined;
  const entries = Object.entries(problem).filter((e): e is [string, string] => typeof e[1] === 'string');
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  // Sent as a string so that no route's response schema reshapes it.
  return reply.code(problem.status).type('application/problem+json').send(problemBody(problem));
}

function validationProblem(error: FastifyError): Problem {
  const context = error.validationContext ?? 'request';
  const errors = (error.validation ?? []).map((v) => {
    const params = v.params as { missingProperty?: string; additionalProperty?: string } | undefined;
    // Name the property itself, not its parent object, for missing and unexpected properties.
    const child = params?.missingProperty ?? params?.additionalProperty;
    const parent = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const path = [parent, child].filter((p) => p).join('.');
    const field = path === '' ? context : `${context}.${path}`;
    const message = params?.missingProperty
      ? 'is required'
      : params?.additionalProperty
        ? 'is not allowed'
        : (v.message ?? 'is invalid');
    return { field, message };
  });
  const detail = errors.map((e) => `${e.field} ${e.message}`).join('; ') || error.message;
  return { status: 400, code: 'BAD_REQUEST', detail, errors };
}

/** Fastify's and its plugins' client errors that deserve their own words (the rest keep their message). */
function clientErrorDetail(error: FastifyError, bodyLimit: number): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `The body is larger than ${bodyLimit} bytes, the limit`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Send the body as application/json';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'The body is empty but its content type is application/json';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'The Content-Length header does not match the body';
    default:
      return error.message;
  }
}

export function errorHandler(bodyLimit: number) {
  return function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    if (error.validation) return sendProblem(reply, validationProblem(error));
    if (isTandemError(error) && error.status < 500) {
      const extensions = extensionsOf(error.details);
      return sendProblem(reply, {
        status: error.status,
        code: error.code,
        detail: error.message,
        ...(extensions ? { extensions } : {}),
      });
    }
    if (isTandemError(error) && (error.status === 501 || error.status === 502 || error.status === 503)) {
      // Not the client's fault and not a bug: the message is written for operators and holds no secrets.
      request.log.warn({ code: error.code, status: error.status }, error.message);
      return sendProblem(reply, { status: error.status, code: error.code, detail: error.message });
    }
    if (isStoreUnavailable(error)) {
      request.log.warn({ err: error }, 'MongoDB is not answering');
      reply.header('retry-after', '10');
      return sendProblem(reply, {
        status: 503,
        code: 'STORE_UNAVAILABLE',
        detail: 'The database is not answering right now; try again shortly',
      });
    }
    const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status >= 400 && status < 500) {
      return sendProblem(reply, { status, code: codeFor(status), detail: clientErrorDetail(error, bodyLimit) });
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, {
      status: 500,
      code: 'INTERNAL',
      detail: `Internal error; the server log has the details under request id ${request.id}`,
    });
  };
}

/** Response schemas for the error statuses a route can answer, for the OpenAPI document. */
export function problems(...statuses: number[]): Record<number, typeof ProblemSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ProblemSchema]));
}
