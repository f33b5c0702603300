/** Liveness, readiness and Prometheus metrics. */
import { Type } from '@sinclair/typebox';
import type { ApiPlugin } from '../type-provider';
import type { ApiDeps } from '../deps';
import { problems } from '../problem';

const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not-ready')]),
  reasons: Type.Array(Type.String(), { description: 'Why the instance is not ready (empty when ready)' }),
  warnings: Type.Array(Type.String(), {
    description: 'Worth knowing, not blocking (in-memory MongoDB, skipped plugins)',
  }),
  mode: Type.Union([Type.Literal('sandbox'), Type.Literal('live')]),
  mongo: Type.Object({ engine: Type.String(), persistent: Type.Boolean(), database: Type.String() }),
  plugins: Type.Integer(),
});

export const healthRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: 'Liveness',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: MongoDB answers and every plugin is loaded',
        response: { 200: ReadySchema, 503: ReadySchema, ...problems(401) },
      },
    },
    async (_request, reply) => {
      const reasons: string[] = [];
      if (!(await deps.mongo.ping())) reasons.push('MongoDB does not answer');
      reasons.push(...(deps.notReadyReasons?.() ?? []));
      const warnings: string[] = [];
      if (deps.mongo.info.warning) warnings.push(deps.mongo.info.warning);
      for (const skipped of deps.plugins.skipped())
        warnings.push(`plugin ${skipped.package} skipped: ${skipped.reason}`);
      for (const id of deps.absentConnectors)
        warnings.push(`connector ${id} is installed but not configured (none of its variables is set)`);
      for (const pipeline of deps.sync.pipelineStatus())
        if (!pipeline.ready) reasons.push(pipeline.reason ?? `pipeline ${pipeline.id} cannot run`);
      const { engine, persistent, database } = deps.mongo.info;
      return reply.code(reasons.length === 0 ? 200 : 503).send({
        status: reasons.length === 0 ? 'ready' : 'not-ready',
        reasons,
        warnings,
        mode: deps.mode,
        mongo: { engine, persistent, database },
        plugins: deps.plugins.list().length,
      });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
        response: { 200: Type.String(), ...problems(401) },
      },
    },
    async (_request, reply) => {
      const body = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(body);
    },
  );
};
