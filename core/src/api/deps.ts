/** What the REST API needs from the rest of Tandem; `buildApp` gets it all explicitly (no container lookups). */
import type { Logger } from 'pino';
import type { RunMode } from '../config';
import type { Connections } from '../connections/connections';
import type { MongoInfo } from '../db';
import type { Metrics } from '../observability';
import type { SyncRuntime } from '../pipelines/runtime';
import type { PluginHost } from '../plugins';
import type { AuditRepository, PipelinesRepository, PolicySettingsRepository } from '../repositories';
import type { SyncStore } from '../repositories/sync-store';
import type { DeliveriesRepository, WebhooksRepository } from '../repositories/webhooks';
import type { Notices } from '../pipelines/notices';

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
  store: SyncStore;
  mode: RunMode;
  /** The connections, with their last checks. */
  connections: Connections;
  /** Each connection's config by connection id (masked before it is shown). */
  connectionConfigs: ReadonlyMap<string, unknown>;
  /** Live mode: installed connectors with none of their variables set. */
  absentConnectors: readonly string[];
  /** The sync engine: every pipeline's cycles, runs, links, activity, pushes, resets. */
  sync: SyncRuntime;
  /** Webhooks and their delivery log (the routes answer 501 without them). */
  webhooks?: { webhooks: WebhooksRepository; deliveries: DeliveriesRepository };
  /** Change notices (`POST …/notify`; 501 without them). */
  notices?: Notices;
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
