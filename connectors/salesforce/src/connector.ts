/**
 * The Salesforce connector: wiring of the pieces (session, client, describe, change feed, look-ups, writers, loop
 * guard) behind the `Connector` contract. The host's child container gives it its config, logger and metrics.
 */
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Agent } from 'undici';
import {
  isTandemError,
  PluginTokens,
  ProtocolError,
  type ChangePage,
  type CheckResult,
  type Connector,
  type FieldValues,
  type ObjectDescription,
  type ReadOptions,
  type RemoteRecord,
  type WriteGroup,
  type WriteOp,
  type WriteOptions,
  type WriteResult,
  makeAgent,
} from '@tandem/core/plugin';
import { TokenSource, type Session } from './auth';
import { SalesforceClient } from './client';
import { authMode, settingsOf, type SalesforceConfig, type Settings } from './config';
import { LoopGuard } from './loop-guard';
import { SalesforceMetrics, type SalesforceStats } from './metrics';
import { Metadata, OBJECT_TYPES, objectTypeOf, type ObjectType } from './objects';
import { ChangeReader } from './read/changes';
import { Lookups } from './read/lookups';
import { UriBudget } from './soql';
import { ApiUsage } from './usage';
import { BulkWriter } from './write/bulk';
import { CollectionsWriter } from './write/collections';
import { Writer } from './write/writer';

/** Most entries a change cursor keeps (some 50 bytes each). */
const MAX_CURSOR_ENTRIES = 20_000;

interface IdentityAnswer {
  username?: string;
  user_id?: string;
  organization_id?: string;
}

@injectable()
export class SalesforceConnector implements Connector {
  readonly id = 'salesforce';
  readonly label = 'Salesforce';
  readonly objectTypes = OBJECT_TYPES;
  /**
   * Lead conversion: Salesforce turns a qualified Lead into a Contact (the Lead stays, `IsConverted`, pointing at
   * it through `ConvertedContactId`), and the Contact carries the Lead's email. A new Contact whose email belongs
   * to a person linked through a Lead takes over that person's link, as Marketo's own sync moves the person from
   * the Lead to the Contact.
   * https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_lead.htm
   */
  readonly supersedes = { Contact: ['Lead'] } as const;
  private readonly settings: Settings;
  private readonly agent: Agent;
  private readonly metrics: SalesforceMetrics;
  private readonly client: SalesforceClient;
  private readonly metadata: Metadata;
  private readonly changes: ChangeReader;
  private readonly lookups: Lookups;
  private readonly writer: Writer;
  /**
   * The loop guard per scope (pipeline): a write is an echo only for the pipeline that made it; another one
   * sharing this org must read it as the change it is.
   */
  private readonly guards = new Map<string, LoopGuard>();
  /** The versions the org served when last asked, and the session (access token) that asked. */
  private versions: { token: string; served: string[] } | undefined;

  private guard(scope: string | undefined): LoopGuard {
    const key = scope ?? '';
    let guard = this.guards.get(key);
    if (!guard) this.guards.set(key, (guard = new LoopGuard()));
    return guard;
  }

  constructor(
    @inject(PluginTokens.Config) config: SalesforceConfig,
    @inject(PluginTokens.Logger) private readonly logger: Logger,
    @inject(PluginTokens.Metrics) registry: Registry,
  ) {
    this.settings = settingsOf(config);
    const mode = authMode(config); // fails now, naming the variables, rather than at the first call
    const { limits } = this.settings;
    this.metrics = new SalesforceMetrics(registry);
    this.agent = makeAgent(config.tlsCa, { connections: limits.maxConcurrent, bodyTimeoutMs: 600_000 });
    const tokens = new TokenSource(this.settings.url, config.clientId, mode, this.agent, this.metrics);
    const usage = new ApiUsage(this.settings.maxApiShare, limits.quotaRecheckMs, this.metrics);
    this.client = new SalesforceClient(
      this.settings.url,
      this.settings.apiVersion,
      tokens,
      usage,
      this.metrics,
      logger,
      this.agent,
      limits,
    );
    this.metadata = new Metadata(this.client);
    this.changes = new ChangeReader(this.client, this.metadata, {
      pageSize: this.settings.pageSize,
      overlapMs: this.settings.overlapMs,
      placeholder: this.settings.placeholder,
      maxEntries: MAX_CURSOR_ENTRIES,
    });
    this.lookups = new Lookups(
      this.client,
      this.metadata,
      this.metrics,
      new UriBudget(this.settings.url, limits.maxUriBytes),
      { placeholder: this.settings.placeholder, matchPaddedEmails: this.settings.matchPaddedEmails },
    );
    const collections = new CollectionsWriter(this.client, this.metrics, logger, limits, (types) => {
      for (const t of types) this.metadata.forget(t);
    });
    this.writer = new Writer(
      this.metadata,
      collections,
      new BulkWriter(this.client, this.metrics, logger, limits, collections),
      {
        placeholder: this.settings.placeholder,
        bulkThreshold: this.settings.bulkThreshold,
      },
    );
  }

  /**
   * Who we are and which org answers, without touching the daily allocation: the session (its identity URL names
   * the org and the user), the identity URL on the org's host (the username, and proof the session works) and the
   * Versions resource (that the org serves `SALESFORCE_API_VERSION`). Neither counts as an API request.
   */
  async check(signal?: AbortSignal): Promise<CheckResult> {
    try {
      signal?.throwIfAborted();
      const session = await this.client.session(signal);
      const me = await this.identity(session, signal);
      const wanted = this.settings.apiVersion.slice(1);
      // The session now in use: the identity call replaces one Salesforce ended.
      const served = await this.servedVersions(await this.client.session(signal), signal);
      if (served && !served.includes(wanted)) {
        return {
          ok: false,
          identity: me.username ?? session.userId,
          instance: session.orgId,
          message: `Salesforce does not serve REST API version ${this.settings.apiVersion} (the newest it serves is v${served.at(-1) ?? '?'}): check SALESFORCE_API_VERSION.`,
        };
      }
      const identity = me.username ?? session.userId;
      const { used, allocation } = this.client.usage;
      const usage =
        used !== undefined && allocation !== undefined
          ? ` The org has used ${used.toLocaleString('en-US')} of its ${allocation.toLocaleString('en-US')} daily API requests; Tandem stops at ${Math.round(this.settings.maxApiShare * 100)}%.`
          : '';
      return {
        ok: true,
        identity,
        instance: session.orgId,
        message: `Connected to Salesforce org ${session.orgId} as ${identity} (REST API ${this.settings.apiVersion}).${usage}`,
        // Both from answers already in hand: the usage from the last counted answer's Sforce-Limit-Info (unknown
        // until the first one, as these calls do not count), the clock from the `Date` header of the ones above.
        ...(used !== undefined && allocation !== undefined
          ? {
              quota: {
                used,
                limit: allocation,
                remaining: Math.max(0, allocation - used),
                window: 'rolling 24 hours, shared by every integration of the org',
              },
            }
          : {}),
        serverTime: new Date(this.client.serverNow()).toISOString(),
      };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      this.logger.warn({ err: error }, 'salesforce: check failed');
      return { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * The integration user, from the identity URL on the instance (the token answer's `id` may name the login host,
   * https://login.salesforce.com/id/<org>/<user>, which need not be reachable from here). An instance that does
   * not serve it (404, or an answer that is not JSON) still has the session proven, by the Limits resource
   * (one counted call): the user is then known by its id.
   */
  private async identity(session: Session, signal?: AbortSignal): Promise<IdentityAnswer> {
    try {
      return await this.client.json<IdentityAnswer>({
        method: 'GET',
        path: `/id/${session.orgId}/${session.userId}`,
        signal,
        counted: false,
      });
    } catch (error) {
      if (!unserved(error)) throw error;
      await this.client.json({ method: 'GET', path: 'limits', signal });
      return {};
    }
  }

  /**
   * The REST API versions the org serves, asked once per session: they change only with Salesforce's releases,
   * and a check runs before every cycle (the identity call above still proves the session each time). Undefined
   * when the instance does not serve the Versions resource: the version is then not checked here (a call to a
   * version the org lacks says so itself).
   */
  private async servedVersions(session: Session, signal?: AbortSignal): Promise<string[] | undefined> {
    if (this.versions?.token === session.accessToken) return this.versions.served;
    let versions;
    try {
      versions = await this.client.json<Array<{ version?: string }>>({
        method: 'GET',
        path: '/services/data/',
        signal,
        counted: false,
      });
    } catch (error) {
      if (unserved(error)) return undefined;
      throw error;
    }
    const served = (Array.isArray(versions) ? versions : []).map((v) => v.version).filter((v): v is string => !!v);
    this.versions = { token: session.accessToken, served };
    return served;
  }

  async describe(objectType: string, signal?: AbortSignal): Promise<ObjectDescription> {
    // An explicit describe reads the org again (field security may have changed) and refreshes the cache.
    return (await this.metadata.describe(objectTypeOf(objectType), signal, true)).description;
  }

  async *readChanges(objectType: string, cursor: string | null, options: ReadOptions): AsyncIterable<ChangePage> {
    const type = objectTypeOf(objectType);
    const guard = this.guard(options.scope);
    guard.reading(type, cursor);
    const fields = [...new Set(options.fields)];
    for await (const page of this.changes.read(type, cursor, options)) {
      const records = page.records.filter((r) => !guard.isEcho(type, r, fields));
      this.metrics.echoesSkipped(page.records.length - records.length);
      guard.handedOut(type, page.cursor);
      yield { ...page, records };
    }
  }

  async get(objectType: string, ids: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    const type = objectTypeOf(objectType);
    return this.dropStale(type, () => this.lookups.get(type, ids, options));
  }

  async findByEmail(objectType: string, emails: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    const type = objectTypeOf(objectType);
    return this.dropStale(type, () => this.lookups.findByEmail(type, emails, options));
  }

  async write(objectType: string, ops: readonly WriteOp[], options?: WriteOptions): Promise<WriteResult[]> {
    const [results] = await this.writeMany([{ objectType, ops }], options);
    return results ?? [];
  }

  /** Contacts and Leads in shared sObject Collections requests (one request may save both types). */
  async writeMany(groups: ReadonlyArray<WriteGroup>, options?: WriteOptions): Promise<WriteResult[][]> {
    const results = await this.writer.write(groups, options?.signal);
    const guard = this.guard(options?.scope);
    groups.forEach((g, i) => guard.wrote(g.objectType, g.ops, results[i] ?? []));
    return results;
  }

  inSync(objectType: string, ids: readonly string[], holds?: ReadonlyMap<string, FieldValues>, scope?: string): void {
    this.guard(scope).confirm(objectType, ids, holds);
  }

  stats(): SalesforceStats {
    return { ...this.metrics.stats };
  }

  /** Closes the connection pool (the plugin's shutdown calls it). */
  async close(): Promise<void> {
    await this.agent.close();
  }

  /** A read answered "no such column": the description is out of date, the next one is read afresh. */
  private async dropStale<T>(objectType: ObjectType, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (isTandemError(error) && error.code === 'UNKNOWN_FIELD') this.metadata.forget(objectType);
      throw error;
    }
  }
}

/** A resource the instance does not serve: 404, or an answer that is not JSON (a web page). */
function unserved(error: unknown): boolean {
  return isTandemError(error) && (error.details?.status === 404 || error instanceof ProtocolError);
}
