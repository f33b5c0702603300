/**
 * Runs, the "Sync Person to Microsoft" push, links and the activity log: all answered by the sync engine.
 * An app built without one (engine not running, connectors missing) answers 501 saying why.
 */
import { Type } from '@sinclair/typebox';
import { TandemError } from '../../plugin';
import {
  ActivityEntrySchema,
  ActivityQuerySchema,
  LinkQuerySchema,
  LinkSchema,
  PushBodySchema,
  PushResultSchema,
  RunSchema,
  type SyncService,
} from '../../sync/service';
import type { ApiDeps } from '../deps';
import { ADMIN_ACTOR, requirePipeline } from '../lookups';
import { problems } from '../problem';
import type { ApiPlugin } from '../type-provider';

const IdParams = Type.Object({ id: Type.String({ minLength: 1 }) });

export const syncRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  const engine = (): SyncService => {
    if (deps.sync) return deps.sync;
    throw new TandemError(
      'NOT_IMPLEMENTED',
      deps.syncUnavailable ?? 'The sync engine is not running in this instance',
      {
        status: 501,
      },
    );
  };

  app.post(
    '/v1/pipelines/:id/runs',
    {
      schema: {
        tags: ['runs'],
        summary: 'Force a sync cycle now',
        params: IdParams,
        response: { 202: Type.Object({ runId: Type.String() }), ...problems(401, 404, 409, 501) },
      },
    },
    async (request, reply) => {
      const sync = engine();
      await requirePipeline(deps, request.params.id);
      return reply.code(202).send(await sync.forceRun(request.params.id));
    },
  );

  app.get(
    '/v1/pipelines/:id/runs',
    {
      schema: {
        tags: ['runs'],
        summary: "The pipeline's runs, newest first",
        params: IdParams,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })) }),
        response: { 200: Type.Array(RunSchema), ...problems(400, 401, 404, 501) },
      },
    },
    async (request) => {
      const sync = engine();
      await requirePipeline(deps, request.params.id);
      return sync.listRuns(request.params.id, request.query.limit ?? 50);
    },
  );

  app.get(
    '/v1/runs/:runId',
    {
      schema: {
        tags: ['runs'],
        summary: 'One run',
        params: Type.Object({ runId: Type.String({ minLength: 1 }) }),
        response: { 200: RunSchema, ...problems(401, 404, 501) },
      },
    },
    async (request) => {
      const run = await engine().getRun(request.params.runId);
      if (!run) throw new TandemError('NOT_FOUND', `No run "${request.params.runId}"`, { status: 404 });
      return run;
    },
  );

  app.post(
    '/v1/pipelines/:id/push',
    {
      schema: {
        tags: ['push'],
        summary: 'Sync Person to Microsoft: create a Marketo person in Dynamics now (no change if already there)',
        params: IdParams,
        body: PushBodySchema,
        response: { 200: PushResultSchema, ...problems(400, 401, 404, 409, 501, 502) },
      },
    },
    async (request) => {
      const sync = engine();
      await requirePipeline(deps, request.params.id);
      return sync.push(request.params.id, request.body);
    },
  );

  app.post(
    '/v1/pipelines/:id/reset',
    {
      schema: {
        tags: ['pipelines'],
        summary:
          'Start the pipeline over: forget its links, snapshots and cursors and which instances they belong to (its next cycle is an initial sync against the instances its connections answer as now)',
        params: IdParams,
        response: {
          200: Type.Object({
            pipelineId: Type.String(),
            linksRemoved: Type.Integer(),
            cursorsRemoved: Type.Integer(),
          }),
          ...problems(401, 404, 409, 501),
        },
      },
    },
    async (request) => {
      const sync = engine();
      const pipeline = await requirePipeline(deps, request.params.id);
      const removed = await sync.reset(pipeline.id);
      await deps.audit.record({
        actor: ADMIN_ACTOR,
        action: 'pipeline.reset',
        target: `pipelines/${pipeline.id}`,
        before: null,
        after: removed,
      });
      return { pipelineId: pipeline.id, linksRemoved: removed.links, cursorsRemoved: removed.cursors };
    },
  );

  app.get(
    '/v1/pipelines/:id/links',
    {
      schema: {
        tags: ['links'],
        summary: 'Id links between Marketo and Dynamics records',
        params: IdParams,
        querystring: LinkQuerySchema,
        response: { 200: Type.Array(LinkSchema), ...problems(400, 401, 404, 501) },
      },
    },
    async (request) => {
      const sync = engine();
      await requirePipeline(deps, request.params.id);
      return sync.links(request.params.id, request.query);
    },
  );

  app.get(
    '/v1/pipelines/:id/activity',
    {
      schema: {
        tags: ['activity'],
        summary: "A person's sync activity log, newest first",
        params: IdParams,
        querystring: ActivityQuerySchema,
        response: { 200: Type.Array(ActivityEntrySchema), ...problems(400, 401, 404, 501) },
      },
    },
    async (request) => {
      const sync = engine();
      await requirePipeline(deps, request.params.id);
      return sync.activity(request.params.id, request.query);
    },
  );
};
