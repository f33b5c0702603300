/**
 * Bearer-token auth for every route but the ones marked `config.public`. It runs first (an `onRequest`
 * hook, and before the router's own complaints about a URL), so that a caller without the token learns
 * nothing about the API: not which routes exist, which methods they take, nor what they validate.
 * Both tokens are hashed first so that `timingSafeEqual` compares equal-length buffers and the comparison
 * time says nothing about the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from './problem';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function tokenMatches(expected: Buffer, presented: string): boolean {
  return timingSafeEqual(expected, digest(presented));
}

export interface Authenticator {
  /** Whether the request carries the admin token. */
  carriesToken(request: FastifyRequest): boolean;
  /** Answers the 401. */
  refuse(request: FastifyRequest, reply: FastifyReply): FastifyReply;
  /** The `onRequest` hook: lets public routes and callers with the token through, answers 401 otherwise. */
  hook(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

export function bearerAuth(token: string): Authenticator {
  const expected = digest(token);
  const carriesToken = (request: FastifyRequest): boolean => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    return match?.[1] !== undefined && tokenMatches(expected, match[1]);
  };
  const refuse = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    reply.header('www-authenticate', 'Bearer realm="tandem"');
    return sendProblem(reply, {
      status: 401,
      code: 'UNAUTHORIZED',
      detail: request.headers.authorization
        ? 'The bearer token is not valid'
        : 'Send Authorization: Bearer <TANDEM_API_TOKEN>',
    });
  };
  return {
    carriesToken,
    refuse,
    async hook(request, reply) {
      if (request.routeOptions.config?.public === true || carriesToken(request)) return;
      await refuse(request, reply);
    },
  };
}
