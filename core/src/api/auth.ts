/**
 * Bearer-token auth for every route but the ones marked `config.public`. Both tokens are hashed first so
 * that `timingSafeEqual` compares equal-length buffers and the comparison time says nothing about the token.
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

export function bearerAuth(token: string) {
  const expected = digest(token);
  return async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (request.routeOptions.config?.public === true) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match?.[1] && tokenMatches(expected, match[1])) return;
    reply.header('www-authenticate', 'Bearer realm="tandem"');
    await sendProblem(reply, {
      status: 401,
      code: 'UNAUTHORIZED',
      detail: header ? 'The bearer token is not valid' : 'Send Authorization: Bearer <TANDEM_API_TOKEN>',
    });
  };
}
