/**
 * Answers given before any route runs: no route for the path or the method, a URL the router cannot decode
 * or whose id is too long, and requests Node's HTTP parser rejects. Each is problem+json like every other
 * error, and (but for the parser's, which come before there is a request to speak of) only after the token
 * is checked: a caller without it learns nothing about which routes exist.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from './auth';
import { codeFor, problemBody, sendProblem } from './problem';
import type { RouteIndex } from './routing';

/**
 * `setNotFoundHandler`: a 405 with `Allow` when the path exists with other methods, else a 404 (also when a
 * route of this method matched but found nothing to serve, like the documentation's static files).
 */
export function notFoundHandler(routes: RouteIndex) {
  return function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const path = request.url.split('?')[0] ?? '';
    const allowed = routes.allowed(request.url);
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      reply.header('allow', allowed.join(', '));
      return sendProblem(reply, {
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
        detail: `${path} does not take ${request.method}; it takes ${allowed.join(', ')}`,
      });
    }
    return sendProblem(reply, { status: 404, code: 'NOT_FOUND', detail: `No route ${request.method} ${path}` });
  };
}

/**
 * Fastify's `frameworkErrors`: the router could not decode the URL (`FST_ERR_BAD_URL`) or a path parameter is
 * longer than `maxParamLength` (`FST_ERR_MAX_PARAM_LENGTH`). No hook has run, so the token is checked here.
 */
export function frameworkErrors(auth: Authenticator, maxParamLength: number) {
  return function onFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
    if (!auth.carriesToken(request)) {
      auth.refuse(request, reply);
      return;
    }
    if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
      sendProblem(reply, {
        status: 414,
        code: 'URI_TOO_LONG',
        detail: `A path segment is longer than ${maxParamLength} characters, the limit for an id`,
      });
      return;
    }
    if (error.code === 'FST_ERR_BAD_URL') {
      sendProblem(reply, {
        status: 400,
        code: 'BAD_REQUEST',
        detail: 'The path holds a percent-encoded sequence that is not valid UTF-8',
      });
      return;
    }
    request.log.error({ err: error }, 'router error');
    sendProblem(reply, { status: 500, code: 'INTERNAL', detail: `Internal error (request id ${request.id})` });
  };
}

/**
 * Fastify's `clientErrorHandler`: Node's HTTP parser refused the request (headers too large, a malformed
 * request line, a timeout). There is no request to answer, only a socket to write to.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const detail =
    status === 431
      ? 'The request line and headers are larger than the server accepts'
      : status === 408
        ? 'The request took too long to arrive'
        : 'The request is not valid HTTP';
  const body = problemBody({ status, code: codeFor(status), detail });
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  } else socket.destroy();
}
