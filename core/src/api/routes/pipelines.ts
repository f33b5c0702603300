/** Pipelines and their field mappings. */
import { Type, type Static } from '@sinclair/typebox';
import { TandemError } from '../../plugin';
import type { Pipeline } from '../../repositories';
import {
  analyzeMappings,
  DirectionSchema,
  MappingsSchema,
  type MappingAnalysis,
  type Mappings,
} from '../../sync/mappings';
import { RunSchema } from '../../sync/service';
import type { ApiDeps } from '../deps';
import { ADMIN_ACTOR, describeSystems, requirePipeline } from '../lookups';
import { maskSecrets } from '../masking';
import { problems } from '../problem';
import type { ApiPlugin } from '../type-provider';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, description: 'Pipeline id, e.g. `default`' }) });

const ConnectionSchema = Type.Object({
  connector: Type.String(),
  loaded: Type.Boolean({ description: 'Whether the connector plugin is installed and initialised' }),
  config: Type.Unknown({ description: 'The connection config, secrets masked' }),
});

const PipelineSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  connections: Type.Object({ marketo: ConnectionSchema, dynamics: ConnectionSchema }),
  objects: Type.Array(Type.Object({ marketo: Type.String(), dynamics: Type.String() })),
  newPersonAs: Type.Union([Type.Literal('lead'), Type.Literal('contact')]),
  schedule: Type.Object({ intervalMinutes: Type.Number() }),
  state: Type.Object({
    mode: Type.Union([Type.Literal('sandbox'), Type.Literal('live')]),
    syncEngine: Type.Union([Type.Literal('running'), Type.Literal('unavailable')]),
    message: Type.Optional(Type.String()),
    lastRun: Type.Union([RunSchema, Type.Null()]),
  }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const FieldAnalysisSchema = Type.Object({
  marketo: Type.String(),
  dynamics: Type.String(),
  direction: DirectionSchema,
  optional: Type.Optional(Type.Boolean()),
  effective: Type.Union([DirectionSchema, Type.Literal('none')], { description: 'What really syncs for these users' }),
  problems: Type.Array(Type.String()),
});

const MappingsViewSchema = Type.Object({
  objects: MappingsSchema.properties.objects,
  analysis: Type.Union([
    Type.Object({
      objects: Type.Array(
        Type.Object({
          marketo: Type.String(),
          dynamics: Type.String(),
          fields: Type.Array(FieldAnalysisSchema),
          flags: Type.Array(
            Type.Object({
              role: Type.Union([Type.Literal('deleted'), Type.Literal('type')]),
              field: Type.String(),
              available: Type.Boolean(),
              problems: Type.Array(Type.String()),
            }),
          ),
        }),
      ),
      errors: Type.Array(Type.String()),
      missing: Type.Array(Type.String(), {
        description: 'Mapped fields (not marked optional) that a system does not have: they do not sync',
      }),
    }),
    Type.Null(),
  ]),
  unsyncable: Type.Array(
    Type.Object({
      object: Type.String({ description: 'marketo->dynamics object pair' }),
      marketo: Type.String(),
      dynamics: Type.String({ description: 'The Dynamics column; empty for a flag field the sync sets in Marketo' }),
      direction: DirectionSchema,
      effective: Type.Union([DirectionSchema, Type.Literal('none')]),
      optional: Type.Optional(Type.Boolean()),
      reasons: Type.Array(Type.String()),
    }),
    { description: 'Mapped fields that sync less than asked (or not at all), and why' },
  ),
  analysisError: Type.Optional(Type.String({ description: 'Why the fields could not be checked right now' })),
});
type MappingsView = Static<typeof MappingsViewSchema>;

function mappingsView(mappings: Mappings, analysis: MappingAnalysis | null, analysisError?: string): MappingsView {
  const unsyncable = (analysis?.objects ?? []).flatMap((o) => [
    ...o.fields
      .filter((f) => f.problems.length > 0)
      .map((f) => ({
        object: `${o.marketo}->${o.dynamics}`,
        marketo: f.marketo,
        dynamics: f.dynamics,
        direction: f.direction,
        effective: f.effective,
        ...(f.optional ? { optional: true } : {}),
        reasons: f.problems,
      })),
    ...o.flags
      .filter((f) => !f.available)
      .map((f) => ({
        object: `${o.marketo}->${o.dynamics}`,
        marketo: f.field,
        dynamics: '',
        direction: 'toMarketo' as const,
        effective: 'none' as const,
        reasons: f.problems,
      })),
  ]);
  return {
    objects: mappings.objects,
    analysis,
    unsyncable,
    ...(analysisError === undefined ? {} : { analysisError }),
  };
}

async function analyze(deps: ApiDeps, mappings: Mappings): Promise<MappingAnalysis> {
  if (deps.analyze) return deps.analyze(mappings);
  return analyzeMappings(mappings, await describeSystems(deps, mappings));
}

async function pipelineView(deps: ApiDeps, pipeline: Pipeline): Promise<Static<typeof PipelineSchema>> {
  const connection = (id: string) => ({
    connector: id,
    loaded: deps.plugins.connectors().has(id),
    config: maskSecrets(deps.connections.get(id) ?? null, deps.plugins.plugin(id)?.definition.configSchema),
  });
  const lastRun = deps.sync ? ((await deps.sync.listRuns(pipeline.id, 1))[0] ?? null) : null;
  return {
    id: pipeline.id,
    name: pipeline.name,
    connections: { marketo: connection('marketo'), dynamics: connection('dynamics') },
    objects: pipeline.mappings.objects.map((o) => ({ marketo: o.marketo, dynamics: o.dynamics })),
    newPersonAs: pipeline.newPersonAs,
    schedule: pipeline.schedule,
    state: {
      mode: deps.mode,
      syncEngine: deps.sync ? 'running' : 'unavailable',
      ...(deps.sync || !deps.syncUnavailable ? {} : { message: deps.syncUnavailable }),
      lastRun,
    },
    createdAt: pipeline.createdAt.toISOString(),
    updatedAt: pipeline.updatedAt.toISOString(),
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
        const analysis = await analyze(deps, pipeline.mappings);
        return mappingsView(pipeline.mappings, analysis);
      } catch (error) {
        // The stored mappings are still worth showing when a system cannot be asked right now.
        const message = error instanceof Error ? error.message : String(error);
        request.log.warn({ err: error }, 'could not analyse mappings');
        return mappingsView(pipeline.mappings, null, message);
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
      const mappings = request.body;
      const analysis = await analyze(deps, mappings);
      // A field no system has is most likely a typo: refused, unless the entry says it is optional.
      const refused = [...analysis.errors, ...analysis.missing];
      if (refused.length > 0) {
        throw new TandemError('BAD_REQUEST', `The mappings cannot be used: ${refused.join('; ')}`, {
          status: 400,
          details: { errors: refused },
        });
      }
      const result = await deps.pipelines.setMappings(pipeline.id, mappings);
      if (!result) throw new TandemError('NOT_FOUND', `No pipeline "${pipeline.id}"`, { status: 404 });
      await deps.audit.record({
        actor: ADMIN_ACTOR,
        action: 'mappings.replace',
        target: `pipelines/${pipeline.id}/mappings`,
        before: result.before,
        after: mappings,
      });
      return mappingsView(mappings, analysis);
    },
  );
};
