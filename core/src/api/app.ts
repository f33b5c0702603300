/**
 * `buildApp(deps)`: the REST API of CONTRACT.md. One Fastify plugin per resource; TypeBox schemas validate
 * requests and feed the OpenAPI document (`/docs/json`, Swagger UI at `/docs`). Every route needs the bearer
 * token but the public ones, which hold no data: `GET /health` and the API documentation (CONTRACT.md).
 *
 * Input is strict: path and query parameters are coerced from their strings only into exactly what their
 * schema names, JSON bodies are never coerced, are refused past a depth, a size and with keys no document
 * can hold, and every error, the router's and the HTTP parser's included, is application/problem+json.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { bearerAuth } from './auth';
import type { ApiDeps } from './deps';
import { useStrictJson } from './json-body';
import { errorHandler } from './problem';
import { clientErrorHandler, frameworkErrors, notFoundHandler } from './router-errors';
import { RouteIndex } from './routing';
import { healthRoutes } from './routes/health';
import { connectionRoutes } from './routes/connections';
import { pipelineRoutes } from './routes/pipelines';
import { pluginRoutes } from './routes/plugins';
import { policyRoutes } from './routes/policies';
import { syncRoutes } from './routes/sync';
import { webhookRoutes } from './routes/webhooks';
import { notifyRoutes } from './routes/notify';
import { syncHealthRoutes } from './routes/sync-health';
import { dashboardRoutes } from './routes/dashboard';
import type { TypeBoxProvider } from './type-provider';
import { strictValidatorCompiler } from './validation';

const VERSION = '0.1.0';
/** The largest body the API reads; a mapping of every field of both systems is far smaller. */
export const BODY_LIMIT = 1024 * 1024;
/** The longest id a path may carry (Fastify's default); a longer one is a 414. */
export const MAX_ID_LENGTH = 100;

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  // Typed as Fastify's logger interface so the instance keeps Fastify's default generics.
  const logger: FastifyBaseLogger = deps.logger;
  const auth = bearerAuth(deps.token);
  const routes = new RouteIndex();
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: MAX_ID_LENGTH },
    frameworkErrors: frameworkErrors(auth, MAX_ID_LENGTH),
    clientErrorHandler,
    // While closing, requests in flight on kept-alive connections are still answered in full (every
    // dependency stays up until the API has closed) rather than with Fastify's own non-problem 503.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxProvider>();

  app.setValidatorCompiler(strictValidatorCompiler());
  useStrictJson(app);
  app.setErrorHandler(errorHandler(BODY_LIMIT));
  app.setNotFoundHandler(notFoundHandler(routes));
  app.addHook('onRoute', routes.onRoute);
  app.addHook('onRequest', auth.hook);
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
          'Keeps business systems in step: two-way sync of people between any two connections. Every route but ' +
          'GET /health and this documentation needs `Authorization: Bearer <token>`. Errors are ' +
          'application/problem+json `{ type, title, status, detail, code }`.',
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
  await app.register(webhookRoutes, { deps });
  await app.register(notifyRoutes, { deps });
  await app.register(syncHealthRoutes, { deps });
  await app.register(dashboardRoutes, {});
  await app.ready();
  return app;
}
