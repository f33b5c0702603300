/**
 * Sync health: a period's rejected and failed writes grouped by connection, type and error code, each group
 * with its people, as JSON (`/health`) or a CSV download (`/health.csv`). The entries are read newest first,
 * at most `limit` of them, over the activity collection's type index; when the period holds more, the answer
 * says how many were left out and from when on the groups are complete.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { TandemError } from '../../plugin';
import type { Pipeline } from '../../repositories';
import type { ApiDeps } from '../deps';
import { requirePipeline } from '../lookups';
import { problems } from '../problem';
import type { ApiPlugin } from '../type-provider';
import { HEALTH_TYPES, healthCsv, healthReport, HealthReportSchema, type HealthReport } from './sync-health-report';

/** The period shown when none is given. */
const DEFAULT_PERIOD_MS = 7 * 24 * 60 * 60 * 1000;
export const HEALTH_LIMIT_DEFAULT = 5000;
export const HEALTH_LIMIT_MAX = 20_000;

const IdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 100, description: 'Pipeline id, e.g. `default`' }),
});

const HealthQuerySchema = Type.Object(
  {
    since: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'Start of the period (inclusive); default: 7 days before `until`',
      }),
    ),
    until: Type.Optional(
      Type.String({ format: 'date-time', description: 'End of the period (exclusive); default: now' }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: HEALTH_LIMIT_MAX,
        default: HEALTH_LIMIT_DEFAULT,
        description: 'At most this many entries are examined, the newest first',
      }),
    ),
  },
  { additionalProperties: false },
);
type HealthQuery = Static<typeof HealthQuerySchema>;

function period(query: HealthQuery): { since: Date; until: Date } {
  const until = query.until ? new Date(query.until) : new Date();
  const since = query.since ? new Date(query.since) : new Date(until.getTime() - DEFAULT_PERIOD_MS);
  if (since.getTime() >= until.getTime()) {
    throw new TandemError('BAD_REQUEST', 'querystring.since must be before querystring.until', {
      status: 400,
      details: { errors: [{ field: 'querystring.since', message: 'must be before until' }] },
    });
  }
  return { since, until };
}

/** One bounded read of the newest entries, and a count only when the period holds more than were read. */
async function report(deps: ApiDeps, pipeline: Pipeline, query: HealthQuery): Promise<HealthReport> {
  const { since, until } = period(query);
  const limit = query.limit ?? HEALTH_LIMIT_DEFAULT;
  const filter = { types: HEALTH_TYPES, since, until };
  const read = await deps.store.activity.list(pipeline.id, filter, limit + 1);
  const entries = read.slice(0, limit);
  const total = read.length > limit ? await deps.store.activity.count(pipeline.id, filter) : entries.length;
  return healthReport(pipeline, entries, { since, until, total });
}

function leftOutHeader(reply: FastifyReply, value: HealthReport): void {
  reply.header('tandem-entries-left-out', String(value.leftOut));
}

export const syncHealthRoutes: ApiPlugin<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get(
    '/v1/pipelines/:id/health',
    {
      schema: {
        tags: ['sync-health'],
        summary:
          "Sync health: a period's rejected and failed writes grouped by connection, type and error code, each group with its people",
        params: IdParams,
        querystring: HealthQuerySchema,
        response: { 200: HealthReportSchema, ...problems(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      const value = await report(deps, pipeline, request.query);
      leftOutHeader(reply, value);
      return value;
    },
  );

  app.get(
    '/v1/pipelines/:id/health.csv',
    {
      schema: {
        tags: ['sync-health'],
        summary:
          'Sync health as a CSV download: one line per group and person (the header `Tandem-Entries-Left-Out` tells how many entries of the period were not examined)',
        params: IdParams,
        querystring: HealthQuerySchema,
        produces: ['text/csv'],
        response: { 200: Type.String({ description: 'text/csv' }), ...problems(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const pipeline = await requirePipeline(deps, request.params.id);
      const value = await report(deps, pipeline, request.query);
      leftOutHeader(reply, value);
      const day = value.until.slice(0, 10);
      const name = pipeline.id.replace(/[^a-z0-9-]/gi, '-');
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="tandem-health-${name}-${day}.csv"`)
        .send(healthCsv(pipeline, value));
    },
  );
};
