/**
 * What the REST API asks of the sync engine, and the shapes it answers with (CONTRACT.md). The schemas feed
 * both request validation and the OpenAPI document. Records are named by connection id; the `default`
 * pipeline's answers also carry the first version's keys, derived from its connection ids (`<connection>Id`,
 * and `<connection>Type` for a side with several object types: `marketoId`, `dynamicsId`, `dynamicsType`).
 */
import { Type, type Static } from '@sinclair/typebox';

export const RunStatusSchema = Type.Union(
  ['queued', 'running', 'succeeded', 'partial', 'failed', 'interrupted'].map((s) => Type.Literal(s)),
);
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted';

export const RunCountsSchema = Type.Object(
  {
    read: Type.Integer(),
    created: Type.Integer(),
    updated: Type.Integer(),
    unchanged: Type.Integer(),
    conflicts: Type.Integer(),
    rejected: Type.Integer(),
    failed: Type.Integer(),
    deleted: Type.Integer(),
  },
  { additionalProperties: Type.Integer() },
);
export type RunCounts = Static<typeof RunCountsSchema>;

export function emptyCounts(): RunCounts {
  return { read: 0, created: 0, updated: 0, unchanged: 0, conflicts: 0, rejected: 0, failed: 0, deleted: 0 };
}

export const RunTriggerSchema = Type.Union([
  Type.Literal('schedule'),
  Type.Literal('manual'),
  Type.Literal('startup'),
  Type.Literal('notify'),
]);
export type RunTrigger = Static<typeof RunTriggerSchema>;

export const RunSchema = Type.Object({
  id: Type.String(),
  pipelineId: Type.String(),
  trigger: RunTriggerSchema,
  status: RunStatusSchema,
  counts: RunCountsSchema,
  /** Per connection: records read and written so far. */
  sides: Type.Optional(
    Type.Record(
      Type.String(),
      Type.Object({
        read: Type.Integer(),
        written: Type.Integer(),
        total: Type.Optional(
          Type.Integer({ description: "Records the connection's feeds expect to hand over, where it estimates them" }),
        ),
      }),
      { description: 'Records read from and written to each connection, live while the run goes on' },
    ),
  ),
  startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  error: Type.Optional(Type.String()),
  /** What the run did not do as configured (a mapped field a system lacks), while the rest synced. */
  warnings: Type.Optional(Type.Array(Type.String())),
  /** What the run is doing now, for long initial loads. */
  progress: Type.Optional(Type.String()),
});
export type Run = Static<typeof RunSchema>;

const RecordIds = Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]), {
  description: "Each side's record id, keyed by connection id (null until the record exists)",
});
const RecordTypes = Type.Record(Type.String(), Type.String(), {
  description: "Each side's object type, by connection id",
});
/** The first version's keys, kept on the `default` pipeline's answers. */
const LegacyKeys = { additionalProperties: Type.Union([Type.String(), Type.Null()]) };

export const LinkStateSchema = Type.Union(['linked', 'creating', 'deleted', 'rejected'].map((s) => Type.Literal(s)));
export const LinkSchema = Type.Object(
  {
    ids: RecordIds,
    objects: RecordTypes,
    email: Type.Union([Type.String(), Type.Null()]),
    state: LinkStateSchema,
    updatedAt: Type.String({ format: 'date-time' }),
  },
  {
    ...LegacyKeys,
    description:
      "A person's records on both sides. The `default` pipeline's links also carry `marketoId`, `dynamicsId` and `dynamicsType`.",
  },
);
export type Link = Static<typeof LinkSchema> & Record<string, unknown>;

const Limit = (max: number, fallback: number) =>
  Type.Optional(Type.Integer({ minimum: 1, maximum: max, default: fallback }));
const Id = Type.String({ minLength: 1, maxLength: 200 });

export const LinkQuerySchema = Type.Object(
  {
    connection: Type.Optional(Id),
    recordId: Type.Optional(Id),
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
    limit: Limit(1000, 100),
  },
  {
    additionalProperties: Id,
    description:
      'A record of one connection (`connection` and `recordId`), or an email. The `default` pipeline also takes `marketoId=` and `dynamicsId=`.',
  },
);
export type LinkQuery = Static<typeof LinkQuerySchema> & Record<string, unknown>;

export const ActivityEntrySchema = Type.Object(
  {
    at: Type.String({ format: 'date-time' }),
    type: Type.String(),
    runId: Type.Optional(Type.String()),
    ids: Type.Optional(RecordIds),
    objects: Type.Optional(RecordTypes),
    email: Type.Optional(Type.String()),
    /** The connection the entry is about (the one that rejected a write, the one a record was created in). */
    connection: Type.Optional(Type.String()),
    code: Type.Optional(Type.String({ description: "The system's error code, for rejections and failures" })),
    detail: Type.String(),
  },
  {
    ...LegacyKeys,
    description:
      "One entry of a person's sync activity. The `default` pipeline's also carry `marketoId`, `dynamicsId`, `dynamicsType`.",
  },
);
export type ActivityEntry = Static<typeof ActivityEntrySchema> & Record<string, unknown>;

export const ActivityQuerySchema = Type.Object(
  {
    connection: Type.Optional(Id),
    recordId: Type.Optional(Id),
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
    limit: Limit(1000, 50),
  },
  {
    additionalProperties: Id,
    description: 'As for links; the `default` pipeline also takes `marketoId=` and `dynamicsId=`.',
  },
);
export type ActivityQuery = Static<typeof ActivityQuerySchema> & Record<string, unknown>;

export const PushBodySchema = Type.Object(
  {
    from: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'The connection the person is in' })),
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "The person's record id there" })),
    as: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'The object type to create on the other side' }),
    ),
  },
  {
    additionalProperties: Type.String({ minLength: 1, maxLength: 200 }),
    description:
      'Creates one person on the other side now. `{ from, id, as }`; the `default` pipeline also takes `{ marketoId, as }` (`as`: `lead` or `contact`, `lead` by default).',
  },
);
export type PushBody = Static<typeof PushBodySchema> & Record<string, unknown>;

export const PushResultSchema = Type.Object(
  {
    connection: Type.String({ description: 'Where the person was created (or found)' }),
    id: Type.String(),
    objectType: Type.String(),
    created: Type.Boolean(),
    message: Type.Optional(Type.String()),
  },
  { ...LegacyKeys, description: "The `default` pipeline's answer also carries `dynamicsId`." },
);
export type PushResult = Static<typeof PushResultSchema> & Record<string, unknown>;
