/**
 * Per-pipeline runs, push, links, the activity log and reset: answered by the sync engine for every pipeline.
 * The `default` pipeline also takes and gives the first version's keys (`marketoId`, `dynamicsId`).
 */
import { Type } from '@sinclair/typebox';
import { TandemError } from '../../plugin';
import { activityView, connectionOf, linkView, recordQuery, runView, sideOf } from '../../pipelines/views';
import type { Pipeline } from '../../repositories';
import {
  ActivityEntrySchema,
  ActivityQuerySchema,
  LinkQuerySchema,
  LinkSchema,
  PushBodySchema,
  PushResultSchema,
  RunCountsSchema,
  RunSchema,
} from '../../sync/service';
import type { PushRequest } from '../../sync/push';
import type { ApiDeps } from '../deps';
import { ADMIN_ACTOR, requirePipeline } from '../lookups';
import { problems } from '../problem';
import type { ApiPlugin } from '../type-provider';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

const FieldValueSchema = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);
const PlanSchema = Type.Object({
  counts: RunCountsSchema,
  warnings: Type.Array(Type.String()),
  changes: Type.Array(
    Type.Object({
      email: Type.Optional(Type.String()),
      records: Type.Record(
        Type.String(),
        Type.Object({ type: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }),
        {
          description: "The person's records now, by connection",
        },
      ),
      action: Type.Union([
        Type.Literal('create'),
        Type.Literal('update'),
        Type.Literal('link'),
        Type.Literal('delete'),
      ]),
      connection: Type.Optional(Type.String({ description: 'Where the write or the delete is' })),
      objectType: Type.Optional(Type.String()),
      fields: Type.Optional(
        Type.Record(Type.String(), Type.Object({ from: Type.Optional(FieldValueSchema), to: FieldValueSchema }), {
          description: 'Per field written: its value now (absent for a create) and the value it would get',
        }),
      ),
      collisions: Type.Optional(Type.Array(Type.Object({ field: Type.String(), winner: Type.String() }))),
    }),
  ),
});

function badRequest(message: string): TandemError {
  return new TandemError('BAD_REQUEST', message, { status: 400 });
}

/** `{ from, id, as }`, or for a pipeline kept in the first format `{ <connection>Id, as }`. */
function pushRequest(pipeline: Pipeline, body: Record<string, unknown>): PushRequest {
  const as = typeof body['as'] === 'string' ? body['as'] : undefined;
  const extra = Object.keys(body).filter((k) => !['from', 'id', 'as'].includes(k));
  if (body['from'] !== undefined || body['id'] !== undefined) {
    if (extra.length > 0) throw badRequest(`body.${extra[0]} is not allowed`);
    if (typeof body['from'] !== 'string' || typeof body['id'] !== 'string')
      throw badRequest('Give both `from` (a connection) and `id`');
    const side = sideOf(pipeline, body['from']);
    if (!side)
      throw badRequest(
        `Pipeline "${pipeline.id}" has no connection "${body['from']}" (it has ${pipeline.order.join(', ')})`,
      );
    return { from: side, id: body['id'], ...(as ? { as } : {}) };
  }
  const legacy = pipeline.legacyFormat && extra.length === 1 ? /^(.+)Id$/.exec(extra[0] ?? '')?.[1] : undefined;
  const side = legacy === undefined ? undefined : sideOf(pipeline, legacy);
  if (!side) {
    throw badRequest(
      extra.length > 0 ? `body.${extra[0]} is not allowed` : 'Name the person: `{ from: <connection>, id, as }`',
    );
  }
  return { from: side, id: String(body[extra[0] as string]), ...(as ? { as } : {}) };
}

export const syncRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.post(
    '/v1/pipelines/:id/runs',
    {
      schema: {
        tags: ['runs'],
        summary: 'Force a sync cycle now (409 naming the run in progress if one is)',
        params: IdParams,
        response: { 202: Type.Object({ runId: Type.String() }), ...problems(401, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      return reply.code(202).send(await deps.sync.forceRun(pipeline.id));
    },
  );

  app.get(
    '/v1/pipelines/:id/runs',
    {
      schema: {
        tags: ['runs'],
        summary: "The pipeline's runs, newest first",
        params: IdParams,
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(RunSchema), ...problems(400, 401, 404) },
      },
    },
    async (request) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      return (await deps.sync.listRuns(pipeline.id, request.query.limit ?? 50)).map(runView);
    },
  );

  app.get(
    '/v1/runs/:runId',
    {
      schema: {
        tags: ['runs'],
        summary: 'One run',
        params: Type.Object({ runId: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 200: RunSchema, ...problems(401, 404) },
      },
    },
    async (request) => {
      const run = await deps.sync.getRun(request.params.runId);
      if (!run) throw new TandemError('NOT_FOUND', `No run "${request.params.runId}"`, { status: 404 });
      return runView(run);
    },
  );

  app.post(
    '/v1/pipelines/:id/push',
    {
      schema: {
        tags: ['push'],
        summary: 'Create one person on the other side now ("Sync Person to Microsoft"); no change if already there',
        params: IdParams,
        body: PushBodySchema,
        response: { 200: PushResultSchema, ...problems(400, 401, 404, 409, 422, 502, 503) },
      },
    },
    async (request) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      const outcome = await deps.sync.push(pipeline.id, pushRequest(pipeline, request.body));
      const connection = connectionOf(pipeline, outcome.side);
      return {
        ...(pipeline.legacyFormat ? { [`${connection}Id`]: outcome.id } : {}),
        connection,
        id: outcome.id,
        objectType: outcome.objectType,
        created: outcome.created,
        ...(outcome.message ? { message: outcome.message } : {}),
      };
    },
  );

  app.get(
    '/v1/pipelines/:id/links',
    {
      schema: {
        tags: ['links'],
        summary: "A person's records on both sides: by connection and record id, or by email",
        params: IdParams,
        querystring: LinkQuerySchema,
        response: { 200: Type.Array(LinkSchema), ...problems(400, 401, 404) },
      },
    },
    async (request) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      const query = recordQuery(pipeline, request.query, ['connection', 'recordId', 'email', 'limit']);
      return (await deps.sync.links(pipeline.id, query, request.query.limit ?? 100)).map((l) => linkView(pipeline, l));
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
        response: { 200: Type.Array(ActivityEntrySchema), ...problems(400, 401, 404) },
      },
    },
    async (request) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      const query = recordQuery(pipeline, request.query, ['connection', 'recordId', 'email', 'limit']);
      const email = query.email?.trim().toLowerCase();
      return (
        await deps.sync.activity(pipeline.id, { ...query, ...(email ? { email } : {}) }, request.query.limit ?? 50)
      ).map((a) => activityView(pipeline, a));
    },
  );

  app.post(
    '/v1/pipelines/:id/resync',
    {
      schema: {
        tags: ['links'],
        summary: 'Resync people: their next cycle reads them on both sides and compares and writes them again',
        params: IdParams,
        body: Type.Union([
          Type.Object(
            {
              connection: Type.String({ minLength: 1, maxLength: 100 }),
              recordIds: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 1000 }),
            },
            { additionalProperties: false },
          ),
          Type.Object(
            { emails: Type.Array(Type.String({ minLength: 1, maxLength: 320 }), { minItems: 1, maxItems: 1000 }) },
            { additionalProperties: false },
          ),
        ]),
        response: {
          202: Type.Object({ flagged: Type.Integer({ description: 'People found and flagged' }) }),
          ...problems(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      const body = request.body;
      let flagged: number;
      if ('emails' in body) flagged = await deps.sync.resync(pipeline.id, { emails: body.emails });
      else {
        const side = sideOf(pipeline, body.connection);
        if (!side)
          throw badRequest(
            `Pipeline "${pipeline.id}" has no connection "${body.connection}" (it has ${pipeline.order.join(', ')})`,
          );
        flagged = await deps.sync.resync(pipeline.id, { side, recordIds: body.recordIds });
      }
      await deps.audit.record({
        actor: ADMIN_ACTOR,
        action: 'people.resync',
        target: `pipelines/${pipeline.id}`,
        before: null,
        after: { ...body, flagged },
      });
      return reply.code(202).send({ flagged });
    },
  );

  app.get(
    '/v1/pipelines/:id/plan',
    {
      schema: {
        tags: ['runs'],
        summary:
          'A dry run: what the next cycle would create, update, link and delete, per person and field; nothing is written and no cursor moves',
        params: IdParams,
        response: { 200: PlanSchema, ...problems(401, 404, 409, 502, 503) },
      },
    },
    async (request) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      const plan = await deps.sync.plan(pipeline.id);
      return {
        counts: plan.counts,
        warnings: plan.warnings,
        changes: plan.changes.map((c) => ({
          ...(c.email ? { email: c.email } : {}),
          records: Object.fromEntries(
            (['left', 'right'] as const).map((side) => [
              connectionOf(pipeline, side),
              { type: c.records[side].type, id: c.records[side].id ?? null },
            ]),
          ),
          action: c.action,
          ...(c.side ? { connection: connectionOf(pipeline, c.side) } : {}),
          ...(c.objectType ? { objectType: c.objectType } : {}),
          ...(c.fields ? { fields: c.fields } : {}),
          ...(c.collisions ? { collisions: c.collisions } : {}),
        })),
      };
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
          200: Type.Object({ pipelineId: Type.String(), linksRemoved: Type.Integer(), cursorsRemoved: Type.Integer() }),
          ...problems(401, 404, 409),
        },
      },
    },
    async (request) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      const removed = await deps.sync.reset(pipeline.id);
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
};
