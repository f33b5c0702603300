/** What the REST API needs from the rest of Tandem; `buildApp` gets it all explicitly (no container lookups). */
import type { Logger } from 'pino';
import type { RunMode } from '../config';
import type { MongoInfo } from '../db';
import type { Metrics } from '../observability';
import type { PluginHost } from '../plugins';
import type { AuditRepository, PipelinesRepository, PolicySettingsRepository } from '../repositories';
import type { Mappings, MappingAnalysis } from '../sync/mappings';
import type { SyncService } from '../sync/service';

export interface ApiDeps {
  logger: Logger;
  metrics: Metrics;
  /** The admin bearer token. */
  token: string;
  mongo: { info: MongoInfo; ping(timeoutMs?: number): Promise<boolean> };
  plugins: PluginHost;
  pipelines: PipelinesRepository;
  policySettings: PolicySettingsRepository;
  audit: AuditRepository;
  mode: RunMode;
  /** Connector configs by connector id (masked before they are shown). */
  connections: ReadonlyMap<string, unknown>;
  /** The sync engine; without it the runs/push/links/activity routes answer 501. */
  sync?: SyncService;
  /**
   * Checks mappings against both systems; the sync engine's version caches field descriptions (they cost
   * API calls). Without it the API asks the connectors itself.
   */
  analyze?: (mappings: Mappings) => Promise<MappingAnalysis>;
  /** Why `sync` is missing, for the 501's detail. */
  syncUnavailable?: string;
  /** Extra reasons `/ready` must answer 503 (e.g. a plugin failed after start). */
  notReadyReasons?: () => string[];
  /** Each connection's last check, shown by `/ready` (`connections`); one not `ok` makes it a 503. */
  connectionStatus?: () => ConnectionStatus[];
  /** Whether each pipeline can run, shown by `/ready` (`pipelines`); one not `ready` makes it a 503. */
  pipelineStatus?: () => PipelineStatus[];
  /** How long `/ready` waits for each check it makes (MongoDB's ping) before it counts as failed; 1 s by default. */
  readyTimeoutMs?: number;
}

export interface ConnectionStatus {
  id: string;
  ok: boolean;
  /** When the connection was last checked (ISO 8601). */
  checkedAt?: string;
  message?: string;
  /** The remote instance the connection reaches (an org id, a munchkin id). */
  instance?: string;
}

export interface PipelineStatus {
  id: string;
  ready: boolean;
  /** Why the pipeline cannot run. */
  reason?: string;
}
