/**
 * `buildApp(deps)`: the REST API of CONTRACT.md. One Fastify plugin per resource; TypeBox schemas validate
 * requests and feed the OpenAPI document (`/docs/json`, Swagger UI at `/docs`). Every route but
 * `GET /health` needs the bearer token, the docs included (CONTRACT.md: "every route but /health").
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { bearerAuth } from './auth';
import type { ApiDeps } from './deps';
import { errorHandler, notFoundHandler } from './problem';
import { healthRoutes } from './routes/health';
import { connectionRoutes } from './routes/connections';
import { pipelineRoutes } from './routes/pipelines';
import { pluginRoutes } from './routes/plugins';
import { policyRoutes } from './routes/policies';
import { syncRoutes } from './routes/sync';
import type { TypeBoxProvider } from './type-provider';

const VERSION = '0.1.0';

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  // Typed as Fastify's logger interface so the instance keeps Fastify's default generics.
  const logger: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance: logger,
    // A client's unknown property is a 400 naming it, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    bodyLimit: 1024 * 1024,
  }).withTypeProvider<TypeBoxProvider>();

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onRequest', bearerAuth(deps.token));
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tandem',
        version: VERSION,
        description:
          'Keeps business systems in step: two-way sync of people between any two connections. Every route but GET /health needs ' +
          '`Authorization: Bearer <token>`. Errors are application/problem+json `{ type, title, status, detail, code }`.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes, { deps });
  await app.register(pluginRoutes, { deps });
  await app.register(connectionRoutes, { deps });
  await app.register(pipelineRoutes, { deps });
  await app.register(policyRoutes, { deps });
  await app.register(syncRoutes, { deps });
  await app.ready();
  return app;
}
