/** The parts of the REST API's answers the CLI reads (the OpenAPI document at /docs/json has them whole). */
export interface RunView {
  id: string;
  pipelineId: string;
  trigger: string;
  status: string;
  counts: Record<string, number>;
  /** Per connection: records read and written so far; `total` where a connector estimates what it will read. */
  sides?: Record<string, { read: number; written: number; total?: number }>;
  startedAt: string | null;
  finishedAt: string | null;
  error?: string;
  warnings?: string[];
  progress?: string;
}

export interface PipelineView {
  id: string;
  name: string;
  sides: Record<string, { objects: string[]; newRecordsAs?: string }>;
  paused: boolean;
  intervalMinutes: number;
  state: {
    mode: string;
    syncEngine: 'running' | 'unavailable';
    message?: string;
    running?: string;
    lastRun: RunView | null;
    nextRunAt: string | null;
  };
}

export interface PlannedChange {
  email?: string;
  records: Record<string, { type: string; id: string | null }>;
  action: 'create' | 'update' | 'link' | 'delete';
  connection?: string;
  objectType?: string;
  fields?: Record<string, { from?: unknown; to: unknown }>;
  collisions?: Array<{ field: string; winner: string }>;
}

export interface PlanView {
  counts: Record<string, number>;
  warnings: string[];
  changes: PlannedChange[];
}

export interface ReadyView {
  status: 'ready' | 'not-ready';
  reasons: string[];
  warnings: string[];
  mode: string;
  mongo: { engine: string; persistent: boolean; database: string };
  plugins: number;
  connections: Array<{ id: string; ok: boolean; message?: string }>;
  pipelines: Array<{ id: string; ready: boolean; reason?: string }>;
}

export interface CheckView {
  ok: boolean;
  identity?: string;
  instance?: string;
  message?: string;
  quota?: { used?: number; limit?: number; remaining?: number; resetsAt?: string; window?: string };
  serverTime?: string;
  checkedAt: string;
}

export interface MappingsView {
  unsyncable: Array<{
    object: string;
    direction: string;
    effective: string;
    optional?: boolean;
    reasons: string[];
    [connection: string]: unknown;
  }>;
  analysisError?: string;
}

export interface LinkView {
  ids: Record<string, string | null>;
  objects: Record<string, string>;
  email: string | null;
  state: string;
  updatedAt: string;
}

export interface ActivityView {
  at: string;
  type: string;
  runId?: string;
  ids?: Record<string, string | null>;
  objects?: Record<string, string>;
  email?: string;
  connection?: string;
  code?: string;
  detail: string;
}
