/**
 * What the REST API asks of the sync engine, and the shapes it answers with (CONTRACT.md). The schemas
 * feed both request validation and the OpenAPI document.
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

export const RunTriggerSchema = Type.Union([Type.Literal('schedule'), Type.Literal('manual'), Type.Literal('startup')]);
export type RunTrigger = Static<typeof RunTriggerSchema>;

export const RunSchema = Type.Object({
  id: Type.String(),
  pipelineId: Type.String(),
  trigger: RunTriggerSchema,
  status: RunStatusSchema,
  counts: RunCountsSchema,
  startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  error: Type.Optional(Type.String()),
  /** What the run did not do as configured (a mapped field a system lacks), while the rest synced. */
  warnings: Type.Optional(Type.Array(Type.String())),
  /** What the run is doing now, for long initial loads. */
  progress: Type.Optional(Type.String()),
});
export type Run = Static<typeof RunSchema>;

export const LinkStateSchema = Type.Union(['linked', 'creating', 'deleted', 'rejected'].map((s) => Type.Literal(s)));
export const LinkSchema = Type.Object({
  marketoId: Type.Union([Type.String(), Type.Null()]),
  dynamicsId: Type.Union([Type.String(), Type.Null()]),
  dynamicsType: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  state: LinkStateSchema,
  updatedAt: Type.String({ format: 'date-time' }),
});
export type Link = Static<typeof LinkSchema>;

export const LinkQuerySchema = Type.Object({
  marketoId: Type.Optional(Type.String({ minLength: 1 })),
  dynamicsId: Type.Optional(Type.String({ minLength: 1 })),
  email: Type.Optional(Type.String({ minLength: 1 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});
export type LinkQuery = Static<typeof LinkQuerySchema>;

export const ActivityEntrySchema = Type.Object({
  at: Type.String({ format: 'date-time' }),
  type: Type.String(),
  runId: Type.Optional(Type.String()),
  marketoId: Type.Optional(Type.String()),
  dynamicsId: Type.Optional(Type.String()),
  dynamicsType: Type.Optional(Type.String()),
  detail: Type.String(),
});
export type ActivityEntry = Static<typeof ActivityEntrySchema>;

export const ActivityQuerySchema = Type.Object({
  marketoId: Type.Optional(Type.String({ minLength: 1 })),
  dynamicsId: Type.Optional(Type.String({ minLength: 1 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
});
export type ActivityQuery = Static<typeof ActivityQuerySchema>;

export const PushBodySchema = Type.Object(
  {
    marketoId: Type.String({ minLength: 1, pattern: '^[0-9]+$', description: 'The Marketo person id.' }),
    as: Type.Union([Type.Literal('lead'), Type.Literal('contact')], { default: 'lead' }),
  },
  { additionalProperties: false },
);
export type PushBody = Static<typeof PushBodySchema>;

export const PushResultSchema = Type.Object({
  dynamicsId: Type.String(),
  objectType: Type.Union([Type.Literal('lead'), Type.Literal('contact')]),
  created: Type.Boolean(),
  message: Type.Optional(Type.String()),
});
export type PushResult = Static<typeof PushResultSchema>;

export interface SyncService {
  /** Starts a cycle now. Throws TandemError CONFLICT (409) if one is running, NOT_FOUND for an unknown pipeline. */
  forceRun(pipelineId: string): Promise<{ runId: string }>;
  listRuns(pipelineId: string, limit: number): Promise<Run[]>;
  /** null when unknown. */
  getRun(runId: string): Promise<Run | null>;
  /** The "Sync Person to Microsoft" flow action. NOT_FOUND when the Marketo person does not exist. */
  push(pipelineId: string, body: PushBody): Promise<PushResult>;
  links(pipelineId: string, query: LinkQuery): Promise<Link[]>;
  /** Forgets the pipeline's links, snapshots, cursors and recorded instances. CONFLICT while a cycle runs. */
  reset(pipelineId: string): Promise<{ links: number; cursors: number }>;
  activity(pipelineId: string, query: ActivityQuery): Promise<ActivityEntry[]>;
}
