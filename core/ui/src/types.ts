/** The shapes of the REST API's answers the dashboard reads (the OpenAPI document at `/docs/json` has them all). */

export type Counts = Record<string, number>;

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted';

export interface Run {
  id: string;
  pipelineId: string;
  trigger: string;
  status: RunStatus;
  counts: Counts;
  /** Per connection: records read and written so far. */
  sides?: Record<string, { read: number; written: number }>;
  startedAt: string | null;
  finishedAt: string | null;
  error?: string;
  warnings?: string[];
  progress?: string;
}

export interface SideConfig {
  objects: string[];
  newRecordsAs?: string;
}

export interface Pipeline {
  id: string;
  name: string;
  sides: Record<string, SideConfig>;
  connections: Record<string, { connector: string; loaded: boolean; mode: string }>;
  intervalMinutes: number;
  paused: boolean;
  state: {
    mode: string;
    syncEngine: 'running' | 'unavailable';
    message?: string;
    running?: string;
    lastRun: Run | null;
    nextRunAt: string | null;
  };
}

export interface HealthPerson {
  email: string | null;
  ids: Record<string, string | null>;
  objects: Record<string, string>;
  entries: number;
  lastAt: string;
  detail: string;
  runId?: string;
}

export interface HealthGroup {
  connection: string | null;
  type: 'rejected' | 'failed';
  code: string | null;
  entries: number;
  firstAt: string;
  lastAt: string;
  people: HealthPerson[];
}

export interface HealthReport {
  pipelineId: string;
  since: string;
  until: string;
  examined: number;
  leftOut: number;
  examinedSince: string | null;
  groups: HealthGroup[];
}

export interface Link {
  ids: Record<string, string | null>;
  objects: Record<string, string>;
  email: string | null;
  state: string;
  updatedAt: string;
}

export interface ActivityEntry {
  at: string;
  type: string;
  runId?: string;
  ids?: Record<string, string | null>;
  email?: string;
  connection?: string;
  code?: string;
  detail: string;
}

export interface Policy {
  id: string;
  kind: string;
  description: string;
  enabled: boolean;
  settings: unknown;
  updatedAt: string | null;
}

export interface Connection {
  id: string;
  connector: string;
  mode: 'live' | 'sandbox';
  objectTypes: string[];
}

export interface ConnectionCheck {
  ok: boolean;
  identity?: string;
  instance?: string;
  message?: string;
  checkedAt: string;
}

export interface ConnectionDetail extends Connection {
  lastCheck: ConnectionCheck | null;
}

/** application/problem+json */
export interface Problem {
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  runId?: string;
}
