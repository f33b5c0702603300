/**
 * The Dynamics 365 (Dataverse) connector: wiring of the pieces (auth, client, limiter, metadata, reader,
 * writer) behind the `Connector` contract. The host's child container gives it its config, logger and metrics.
 */
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Agent } from 'undici';
import {
  ConnectorAuthError,
  isTandemError,
  OwnWrites,
  PluginTokens,
  RetryableError,
  type ChangePage,
  type CheckResult,
  type Connector,
  type ObjectDescription,
  type ReadOptions,
  type RemoteRecord,
  type WriteOp,
  type WriteGroup,
  type WriteOptions,
  type WriteResult,
  makeAgent,
} from '@tandem/core/plugin';
import { MsalTokenSource } from './auth';
import { DataverseClient } from './client';
import { authMode, DEFAULT_AUTHORITY_HOST, resolvedLimits, type DynamicsConfig } from './config';
import { RequestLimiter } from './limiter';
import { MetadataService } from './metadata';
import { DynamicsMetrics, type DynamicsStats } from './metrics';
import { entityInfo, OBJECT_TYPES } from './objects/entities';
import { RecordReader } from './objects/read';
import { RecordWriter } from './objects/write';
import { assertKnownColumns, type EntityOps } from './objects/write-fields';

/** Defaults for keys the host may not have filled (it validates; it need not apply defaults). */
function normalise(config: DynamicsConfig): DynamicsConfig {
  return {
    ...config,
    url: config.url.replace(/\/+$/, ''),
    authorityHost: (config.authorityHost ?? DEFAULT_AUTHORITY_HOST).replace(/\/+$/, ''),
    pageSize: config.pageSize ?? 5000,
    changeTracking: config.changeTracking ?? 'auto',
    watermarkOverlapMs: config.watermarkOverlapMs ?? 300_000,
    batchSize: Math.min(config.batchSize ?? 1000, 1000),
  };
}

/** Dataverse's documented default: 6,000 requests per user and web server in a 5-minute sliding window. */
const SERVICE_PROTECTION_REQUESTS = 6000;

@injectable()
export class DynamicsConnector implements Connector {
  readonly id = 'dynamics';
  readonly label = 'Dynamics';
  readonly objectTypes = OBJECT_TYPES;
  /**
   * Qualifying a lead makes a contact of the same person (the lead stays, qualified): the contact takes over the
   * person's link from the lead.
   */
  readonly supersedes = { contact: ['lead'] } as const;
  private readonly agent: Agent;
  private readonly metrics: DynamicsMetrics;
  private readonly client: DataverseClient;
  private readonly metadata: MetadataService;
  private readonly reader: RecordReader;
  private readonly writer: RecordWriter;
  /** Etags our own writes returned: a record read back with one has not changed since (the loop guard). */
  private readonly ownWrites = new OwnWrites<{ etag: string }>();

  constructor(
    @inject(PluginTokens.Config) rawConfig: DynamicsConfig,
    @inject(PluginTokens.Logger) private readonly logger: Logger,
    @inject(PluginTokens.Metrics) registry: Registry,
  ) {
    const config = normalise(rawConfig);
    authMode(config); // fail now, with a message naming the variables, rather than at the first token request
    const limits = resolvedLimits(config);
    this.metrics = new DynamicsMetrics(registry);
    this.agent = makeAgent(config.tlsCa, { connections: limits.maxConcurrent, bodyTimeoutMs: 300_000 });
    const tokens = new MsalTokenSource(config, this.agent, logger, () => this.metrics.tokenRequest());
    const limiter = new RequestLimiter(limits.maxConcurrent, limits.requestsPerWindow, limits.windowMs);
    this.client = new DataverseClient(config.url, tokens, limiter, this.metrics, logger, this.agent, limits);
    this.metadata = new MetadataService(this.client, logger);
    this.reader = new RecordReader(this.client, this.metadata, {
      pageSize: config.pageSize,
      changeTracking: config.changeTracking,
      watermarkOverlapMs: config.watermarkOverlapMs,
    });
    this.writer = new RecordWriter(this.client, this.metrics, logger, {
      batchSize: config.batchSize,
      maxRounds: limits.maxRetries + 2,
    });
  }

  /**
   * WhoAmI: who we are (`identity`) and which org answered (`instance`, its OrganizationId); from the same
   * answer's headers, the server's clock (`Date`) and, when Dataverse sends it, the service protection allowance
   * left in the current 5-minute window (`x-ms-ratelimit-burst-remaining-xrm-requests`, out of 6,000 requests per
   * user and web server: https://learn.microsoft.com/power-apps/developer/data-platform/api-limits).
   */
  async check(signal?: AbortSignal): Promise<CheckResult> {
    try {
      const me = await this.metadata.whoAmI(signal);
      const { date, requestsRemaining } = this.client.lastAnswer;
      const serverTime = date ? Date.parse(date) : Number.NaN;
      return {
        ok: true,
        identity: me.UserId,
        ...(me.OrganizationId ? { instance: me.OrganizationId } : {}),
        ...(Number.isNaN(serverTime) ? {} : { serverTime: new Date(serverTime).toISOString() }),
        ...(requestsRemaining === undefined
          ? {}
          : {
              quota: {
                remaining: requestsRemaining,
                limit: SERVICE_PROTECTION_REQUESTS,
                window: '5 minutes (service protection, per user and web server)',
              },
            }),
        message: `Connected to Dataverse as user ${me.UserId} (organization ${me.OrganizationId}).`,
      };
    } catch (error) {
      if (signal?.aborted) throw error;
      this.logger.warn({ err: error }, 'dynamics: check failed');
      return { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
  }

  async describe(objectType: string, signal?: AbortSignal): Promise<ObjectDescription> {
    // An explicit describe reads fresh metadata (field security may have changed) and refreshes the cache.
    return this.metadata.describe(entityInfo(objectType), signal, true);
  }

  async *readChanges(objectType: string, cursor: string | null, options: ReadOptions): AsyncIterable<ChangePage> {
    for await (const page of this.reader.readChanges(entityInfo(objectType), cursor, options)) {
      // Our own confirmed write, read back with the etag that write returned: not a change.
      const isEcho = (r: RemoteRecord) =>
        r.etag !== undefined && this.ownWrites.take(ownKey(options.scope, objectType, r.id))?.etag === r.etag;
      const records = page.records.filter((r) => !isEcho(r));
      this.metrics.echoesSkipped(page.records.length - records.length);
      yield { ...page, records };
    }
  }

  async get(objectType: string, ids: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    return this.reader.get(entityInfo(objectType), ids, options);
  }

  async findByEmail(objectType: string, emails: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    return this.reader.findByEmail(entityInfo(objectType), emails, options);
  }

  async write(objectType: string, ops: readonly WriteOp[], options?: WriteOptions): Promise<WriteResult[]> {
    const entity = entityInfo(objectType);
    const refused = await this.checkColumns([{ entity, ops }], options?.signal);
    if (refused) return refused.flat();
    const results = await this.writer.write(entity, ops, options?.signal);
    this.noteWrites(options?.scope, objectType, results);
    return results;
  }

  /** Contacts and leads in shared `$batch` requests (a batch may address any entity sets). */
  async writeMany(groups: ReadonlyArray<WriteGroup>, options?: WriteOptions): Promise<WriteResult[][]> {
    const resolved = groups.map((g) => ({ entity: entityInfo(g.objectType), ops: g.ops }));
    const refused = await this.checkColumns(resolved, options?.signal);
    if (refused) return refused;
    const items = resolved.flatMap(({ entity, ops }) => ops.map((op) => ({ entity, op })));
    const results = await this.writer.writeMixed(items, options?.signal);
    let next = 0;
    return groups.map((g) => {
      const part = results.slice(next, (next += g.ops.length));
      this.noteWrites(options?.scope, g.objectType, part);
      return part;
    });
  }

  /**
   * Throws `UNKNOWN_FIELD` when an op names a column its table does not have (see `assertKnownColumns`). When the
   * description cannot be read (Dataverse failing), nothing is sent and every op is a failure, as a batch that
   * failed would make it; an aborted signal and refused credentials stop the call.
   */
  private async checkColumns(groups: readonly EntityOps[], signal?: AbortSignal): Promise<WriteResult[][] | undefined> {
    try {
      await assertKnownColumns(this.metadata, groups, signal);
      return undefined;
    } catch (error) {
      if (signal?.aborted || error instanceof ConnectorAuthError) throw error;
      if (isTandemError(error) && error.code === 'UNKNOWN_FIELD') throw error;
      const message = `The table's description could not be read, so nothing was sent: ${(error as Error).message}`;
      const code = isTandemError(error) ? error.code : 'INTERNAL';
      const retryable = error instanceof RetryableError;
      return groups.map(({ ops }) =>
        ops.map((op): WriteResult => ({ ref: op.ref, status: 'failed', code, message, retryable })),
      );
    }
  }

  inSync(objectType: string, ids: readonly string[], _holds?: unknown, scope?: string): void {
    this.ownWrites.confirm(ids.map((id) => ownKey(scope, objectType, id)));
  }

  private noteWrites(scope: string | undefined, objectType: string, results: readonly WriteResult[]): void {
    for (const r of results) {
      if ((r.status === 'created' || r.status === 'updated') && r.etag) {
        this.ownWrites.wrote(ownKey(scope, objectType, r.id), { etag: r.etag });
      }
    }
    // A write refused because a column does not exist: the cached description is out of date.
    if (results.some((r) => r.status === 'rejected' && /property '[^']+' does not exist on type/i.test(r.message))) {
      this.metadata.forget(entityInfo(objectType));
    }
  }

  stats(): DynamicsStats {
    return { ...this.metrics.stats };
  }

  /** Closes the connection pool (the plugin's shutdown calls it). */
  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** A write is an echo only for the pipeline (scope) that made it: another one sharing the org must see it. */
function ownKey(scope: string | undefined, objectType: string, id: string): string {
  return `${scope ?? ''}|${objectType}:${id.toLowerCase()}`;
}
