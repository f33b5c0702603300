/** Pipelines (any two connections) and their field mappings. */
import { Type, type Static } from '@sinclair/typebox';
import { TandemError } from '../../plugin';
import type { NewPipeline, Pipeline } from '../../repositories';
import { MappingsSchema, type Mappings } from '../../sync/mappings';
import { RunSchema } from '../../sync/service';
import { runView } from '../../pipelines/views';
import type { ApiDeps } from '../deps';
import { ADMIN_ACTOR, requirePipeline } from '../lookups';
import { mappingsView, MappingsViewSchema } from '../mapping-views';
import { maskSecrets } from '../masking';
import { problems } from '../problem';
import type { ApiPlugin } from '../type-provider';

const PIPELINE_ID = '^[a-z][a-z0-9]*(-[a-z0-9]+)*$';
const IdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 100, description: 'Pipeline id, e.g. `default`' }),
});
const Interval = Type.Number({
  exclusiveMinimum: 0,
  maximum: 10_080,
  description: 'Minutes between the end of a cycle and the start of the next',
});

const SideConfigSchema = Type.Object(
  {
    objects: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
      minItems: 1,
      maxItems: 20,
      uniqueItems: true,
      description: 'The object types that take part, in matching order (a new person is matched against them in turn)',
    }),
    newRecordsAs: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description: 'What a person from the other side becomes here when nobody matches',
      }),
    ),
    deletes: Type.Optional(
      Type.Union([Type.Literal('unlink'), Type.Literal('recreate')], {
        description:
          "`unlink` (default): a record deleted here marks the link deleted and is never created again by the sync; `recreate`: the other side's next change creates it again",
      }),
    ),
  },
  { additionalProperties: false },
);

const ConnectionViewSchema = Type.Object({
  connector: Type.String(),
  loaded: Type.Boolean({ description: 'Whether the connection is configured and its plugin initialised' }),
  mode: Type.Union([Type.Literal('sandbox'), Type.Literal('live')]),
  config: Type.Unknown({ description: 'The connection config, secrets masked' }),
});

const PipelineSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    sides: Type.Record(Type.String(), SideConfigSchema, { description: 'The two connections, in order' }),
    connections: Type.Record(Type.String(), ConnectionViewSchema),
    objects: Type.Array(Type.Record(Type.String(), Type.String()), {
      description: 'The object pairs the mappings sync',
    }),
    schedule: Type.Object({ intervalMinutes: Type.Number() }),
    intervalMinutes: Type.Number(),
    paused: Type.Boolean(),
    state: Type.Object({
      mode: Type.Union([Type.Literal('sandbox'), Type.Literal('live')]),
      syncEngine: Type.Union([Type.Literal('running'), Type.Literal('unavailable')]),
      message: Type.Optional(Type.String()),
      running: Type.Optional(Type.String({ description: 'The run in progress on this instance' })),
      lastRun: Type.Union([RunSchema, Type.Null()]),
      nextRunAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
        description: 'When the schedule starts the next cycle (null while paused or running)',
      }),
    }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  {
    additionalProperties: Type.String(),
    description: "The `default` pipeline also carries the first version's `newPersonAs`",
  },
);

const CreateBodySchema = Type.Object(
  {
    id: Type.String({ pattern: PIPELINE_ID, maxLength: 64, description: 'Lower-case words joined by dashes' }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    sides: Type.Record(Type.String({ minLength: 1, maxLength: 100 }), SideConfigSchema, {
      minProperties: 2,
      maxProperties: 2,
      description: 'Exactly two connections, keyed by connection id, in the order the pipeline names them',
    }),
    mappings: MappingsSchema,
    intervalMinutes: Type.Optional(Interval),
    paused: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
type CreateBody = Static<typeof CreateBodySchema>;

const PatchBodySchema = Type.Object(
  { intervalMinutes: Type.Optional(Interval), paused: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);

function badRequest(message: string): TandemError {
  return new TandemError('BAD_REQUEST', message, { status: 400 });
}

async function pipelineView(deps: ApiDeps, pipeline: Pipeline): Promise<Static<typeof PipelineSchema>> {
  const connections: Static<typeof PipelineSchema>['connections'] = {};
  const missing: string[] = [];
  for (const id of pipeline.order) {
    const connector = deps.connections.get(id);
    if (!connector) missing.push(id);
    const schema = deps.plugins.plugin(connector?.id ?? id)?.definition.configSchema;
    connections[id] = {
      connector: connector?.id ?? id,
      loaded: connector !== undefined,
      mode: deps.mode,
      config: maskSecrets(deps.connectionConfigs.get(id) ?? null, schema),
    };
  }
  const [lastRun] = await deps.sync.listRuns(pipeline.id, 1);
  const running = deps.sync.runningRunId(pipeline.id);
  const lease = await deps.store.leases.get(`cycle:${pipeline.id}`);
  const intervalMs = pipeline.schedule.intervalMinutes * 60_000;
  const nextRunAt =
    pipeline.paused || running || lastRun?.status === 'running'
      ? null
      : new Date(Math.max(Date.now(), (lease?.lastFinishedAt?.getTime() ?? 0) + intervalMs)).toISOString();
  const [left, right] = pipeline.order;
  return {
    id: pipeline.id,
    name: pipeline.name,
    sides: pipeline.sides,
    connections,
    objects: pipeline.mappings.objects.map((o) => ({ [left]: String(o[left]), [right]: String(o[right]) })),
    schedule: pipeline.schedule,
    intervalMinutes: pipeline.schedule.intervalMinutes,
    paused: pipeline.paused,
    state: {
      mode: deps.mode,
      syncEngine: missing.length === 0 ? 'running' : 'unavailable',
      ...(missing.length > 0
        ? { message: `Connection(s) ${missing.join(', ')} not configured: the pipeline cannot run` }
        : {}),
      ...(running ? { running } : {}),
      lastRun: lastRun ? runView(lastRun) : null,
      nextRunAt,
    },
    createdAt: pipeline.createdAt.toISOString(),
    updatedAt: pipeline.updatedAt.toISOString(),
    // The first version's key: what a person of the first side becomes on the second.
    ...(pipeline.legacyFormat && pipeline.sides[right]?.newRecordsAs
      ? { newPersonAs: pipeline.sides[right].newRecordsAs }
      : {}),
  };
}

/** Mappings checked against the systems: errors and fields nobody has are a 400 naming each. */
async function checkedMappings(deps: ApiDeps, pipeline: Pipeline, mappings: Mappings) {
  const { analysis } = await deps.sync.analyze(pipeline, mappings);
  // A field no system has is most likely a typo: refused, unless the entry says it is optional.
  const refused = [...analysis.errors, ...analysis.missing];
  if (refused.length > 0) {
    throw new TandemError('BAD_REQUEST', `The mappings cannot be used: ${refused.join('; ')}`, {
      status: 400,
      details: { errors: refused },
    });
  }
  return analysis;
}

/** A pipeline definition checked against the configured connections; every problem named at once. */
function definitionOf(deps: ApiDeps, body: CreateBody): NewPipeline {
  const problemsFound: string[] = [];
  const order = Object.keys(body.sides) as [string, string];
  for (const [connection, side] of Object.entries(body.sides)) {
    const connector = deps.connections.get(connection);
    if (!connector) {
      const known = deps.connections.list().map((c) => c.id);
      problemsFound.push(`sides.${connection}: no such connection (configured: ${known.join(', ') || 'none'})`);
      continue;
    }
    for (const type of side.objects) {
      if (!connector.objectTypes.includes(type)) {
        problemsFound.push(
          `sides.${connection}.objects: ${connection} has no object type "${type}" (it has ${connector.objectTypes.join(', ')})`,
        );
      }
    }
    if (side.newRecordsAs !== undefined && !side.objects.includes(side.newRecordsAs)) {
      problemsFound.push(`sides.${connection}.newRecordsAs: "${side.newRecordsAs}" is not one of its objects`);
    }
    if (side.objects.length > 1 && side.newRecordsAs === undefined) {
      problemsFound.push(
        `sides.${connection}.newRecordsAs: required with several objects (what a new person becomes there)`,
      );
    }
  }
  if (order[0] === order[1]) problemsFound.push('sides: name two different connections');
  if (problemsFound.length > 0) throw badRequest(`The pipeline cannot be created: ${problemsFound.join('; ')}`);
  return {
    id: body.id,
    name: body.name ?? body.id,
    sides: body.sides,
    order,
    mappings: body.mappings,
    schedule: { intervalMinutes: body.intervalMinutes ?? deps.sync.defaultIntervalMinutes },
    paused: body.paused ?? false,
  };
}

export const pipelineRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/v1/pipelines',
    {
      schema: {
        tags: ['pipelines'],
        summary: 'Pipelines with their connections (secrets masked), schedule and state',
        response: { 200: Type.Array(PipelineSchema), ...problems(401) },
      },
    },
    async () => Promise.all((await deps.pipelines.list()).map((p) => pipelineView(deps, p))),
  );

  app.post(
    '/v1/pipelines',
    {
      schema: {
        tags: ['pipelines'],
        summary: 'Create a pipeline between two connections; its schedule starts at once with an initial sync',
        body: CreateBodySchema,
        response: { 201: PipelineSchema, ...problems(400, 401, 409, 502, 503) },
      },
    },
    async (request, reply) => {
      const definition = definitionOf(deps, request.body);
      if (await deps.pipelines.get(definition.id)) {
        throw new TandemError('CONFLICT', `A pipeline "${definition.id}" exists already`, { status: 409 });
      }
      await checkedMappings(deps, { ...definition, createdAt: new Date(), updatedAt: new Date() }, definition.mappings);
      if (!(await deps.pipelines.create(definition))) {
        throw new TandemError(
          'CONFLICT',
          `A pipeline "${definition.id}" (or one named "${definition.name}") exists already`,
          { status: 409 },
        );
      }
      await deps.audit.record({
        actor: ADMIN_ACTOR,
        action: 'pipeline.create',
        target: `pipelines/${definition.id}`,
        before: null,
        after: definition,
      });
      deps.sync.schedule(definition.id);
      return reply.code(201).send(await pipelineView(deps, await requirePipeline(deps, definition.id)));
    },
  );

  app.get(
    '/v1/pipelines/:id',
    {
      schema: {
        tags: ['pipelines'],
        summary: 'One pipeline',
        params: IdParams,
        response: { 200: PipelineSchema, ...problems(401, 404) },
      },
    },
    async (request) => pipelineView(deps, await requirePipeline(deps, request.params.id)),
  );

  app.patch(
    '/v1/pipelines/:id',
    {
      schema: {
        tags: ['pipelines'],
        summary: 'Change the schedule or pause and resume the pipeline (from its next tick)',
        params: IdParams,
        body: PatchBodySchema,
        response: { 200: PipelineSchema, ...problems(400, 401, 404) },
      },
    },
    async (request) => {
      const before = await requirePipeline(deps, request.params.id);
      const after = await deps.pipelines.update(before.id, request.body);
      if (!after) throw new TandemError('NOT_FOUND', `No pipeline "${before.id}"`, { status: 404 });
      await deps.audit.record({
        actor: ADMIN_ACTOR,
        action: 'pipeline.update',
        target: `pipelines/${before.id}`,
        before: { intervalMinutes: before.schedule.intervalMinutes, paused: before.paused },
        after: request.body,
      });
      return pipelineView(deps, after);
    },
  );

  app.delete(
    '/v1/pipelines/:id',
    {
      schema: {
        tags: ['pipelines'],
        summary: 'Stop a pipeline and remove its links, snapshots and cursors (its runs and audit remain)',
        params: IdParams,
        response: { 204: Type.Null(), ...problems(401, 404) },
      },
    },
    async (request, reply) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      await deps.sync.unschedule(pipeline.id);
      const removed = await deps.store.resetPipeline(pipeline.id);
      await deps.store.leases.delete(`cycle:${pipeline.id}`);
      await deps.policySettings.deletePipeline(pipeline.id);
      await deps.pipelines.delete(pipeline.id);
      await deps.audit.record({
        actor: ADMIN_ACTOR,
        action: 'pipeline.delete',
        target: `pipelines/${pipeline.id}`,
        before: { name: pipeline.name, sides: pipeline.sides },
        after: removed,
      });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/pipelines/:id/mappings',
    {
      schema: {
        tags: ['mappings'],
        summary: 'Field mappings, with each field that cannot sync (fully) and why',
        params: IdParams,
        response: { 200: MappingsViewSchema, ...problems(401, 404) },
      },
    },
    async (request) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      try {
        const { analysis } = await deps.sync.analyze(pipeline);
        return mappingsView(pipeline, pipeline.mappings, analysis);
      } catch (error) {
        // The stored mappings are still worth showing when a system cannot be asked right now.
        const message = error instanceof Error ? error.message : String(error);
        request.log.warn({ err: error }, 'could not analyse mappings');
        return mappingsView(pipeline, pipeline.mappings, null, message);
      }
    },
  );

  app.put(
    '/v1/pipelines/:id/mappings',
    {
      schema: {
        tags: ['mappings'],
        summary: "Replace the field mappings (checked against both systems' field descriptions)",
        params: IdParams,
        body: MappingsSchema,
        response: { 200: MappingsViewSchema, ...problems(400, 401, 404, 502, 503) },
      },
    },
    async (request) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      const mappings = request.body as Mappings;
      const analysis = await checkedMappings(deps, pipeline, mappings);
      const result = await deps.pipelines.setMappings(pipeline.id, mappings);
      if (!result) throw new TandemError('NOT_FOUND', `No pipeline "${pipeline.id}"`, { status: 404 });
      await deps.audit.record({
        actor: ADMIN_ACTOR,
        action: 'mappings.replace',
        target: `pipelines/${pipeline.id}/mappings`,
        before: result.before,
        after: mappings,
      });
      return mappingsView(result.after, mappings, analysis);
    },
  );
};
