/**
 * The Marketo connector: the `Connector` the engine talks to. It only routes calls to the modules that do
 * the work (client, describe, lead object, activity log) and checks the object type.
 */
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import {
  PluginTokens,
  sharedMetric,
  TandemError,
  type ActivityEvent,
  type ChangePage,
  type CheckResult,
  type Connector,
  type ConnectorStats,
  type FieldValues,
  type ObjectDescription,
  type ReadOptions,
  type RemoteRecord,
  type WriteOp,
  type WriteOptions,
  type WriteResult,
} from '@tandem/core/plugin';
import { ActivityLog, type ActivityStats } from './activity';
import { MarketoClient, type ClientStats } from './client';
import type { MarketoConfig } from './config';
import { LeadDescriber } from './objects/describe';
import { LeadObject } from './objects/lead';

@injectable()
export class MarketoConnector implements Connector {
  readonly id = 'marketo';
  readonly label = 'Marketo';
  readonly objectTypes = ['lead'] as const;
  /** Lead ids count up as leads are created: of several leads sharing an email, the lowest is the oldest. */
  readonly idOrder = 'numeric' as const;
  readonly client: MarketoClient;
  private readonly describer: LeadDescriber;
  private readonly leads: LeadObject;
  private readonly activities: ActivityLog;

  constructor(
    @inject(PluginTokens.Config) config: MarketoConfig,
    @inject(PluginTokens.Logger) private readonly logger: Logger,
    @inject(PluginTokens.Metrics) metrics: Registry,
  ) {
    this.client = new MarketoClient(config, logger, metrics);
    this.describer = new LeadDescriber(this.client);
    const echoes = sharedMetric(
      metrics,
      'tandem_marketo_echoes_skipped_total',
      () =>
        new Counter({
          name: 'tandem_marketo_echoes_skipped_total',
          help: 'Changed persons that were our own writes coming back, not read again (the loop guard)',
          registers: [metrics],
        }),
    );
    this.leads = new LeadObject(
      this.client,
      this.describer,
      { maxIdGap: config.initialLoad?.maxIdGap ?? 3000, lookahead: config.initialLoad?.lookahead ?? 4 },
      () => echoes.inc(),
    );
    this.activities = new ActivityLog(this.client, logger, config.activityTypeApiName ?? 'tandemSync');
  }

  /**
   * Reads the lead description (the first time a token and one REST call: credentials, network and the Read Lead
   * permission; later from the cache, until Marketo says a field is gone).
   * `instance` is the munchkin id of a `https://<munchkin>.mktorest.com` base URL, else the base URL's origin:
   * Marketo's REST API has no call that says which instance answers, and the munchkin id is what names one.
   * `quota` is the daily quota as this process counted its calls (`limits.dailyQuota`, 50,000 by default);
   * `serverTime` Marketo's clock now, as the `Date` header of the last REST answer placed it.
   */
  async check(signal?: AbortSignal): Promise<CheckResult> {
    try {
      await this.describer.describe(signal);
      const usage = this.client.dailyUsage();
      const offset = this.client.clockOffsetMs;
      return {
        ok: true,
        ...(this.client.identity ? { identity: this.client.identity } : {}),
        instance: this.client.instance,
        quota: {
          used: usage.used,
          limit: usage.limit,
          remaining: Math.max(0, usage.limit - usage.used),
          resetsAt: usage.resetsAt.toISOString(),
          window: 'day (US Central), calls counted by this Tandem process',
        },
        ...(offset === undefined ? {} : { serverTime: new Date(Date.now() + offset).toISOString() }),
      };
    } catch (error) {
      signal?.throwIfAborted();
      this.logger.warn({ err: error }, 'marketo: check failed');
      return { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
  }

  // Every call is async so that what it refuses (an object type, an aborted signal) is a rejected promise, never a
  // synchronous throw: callers chain on the promise.
  async describe(objectType: string, signal?: AbortSignal): Promise<ObjectDescription> {
    this.assertObject(objectType);
    return this.describer.describe(signal);
  }

  readChanges(objectType: string, cursor: string | null, options: ReadOptions): AsyncIterable<ChangePage> {
    this.assertObject(objectType);
    return this.leads.readChanges(cursor, options.fields, options.signal, options.scope);
  }

  async get(objectType: string, ids: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    this.assertObject(objectType);
    return this.leads.get(ids, options.fields, options.signal);
  }

  async findByEmail(objectType: string, emails: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    this.assertObject(objectType);
    return this.leads.findByEmail(emails, options.fields, options.signal);
  }

  async write(objectType: string, ops: readonly WriteOp[], options?: WriteOptions): Promise<WriteResult[]> {
    this.assertObject(objectType);
    return this.leads.write(ops, options?.signal, options?.scope);
  }

  inSync(objectType: string, ids: readonly string[], holds?: ReadonlyMap<string, FieldValues>, scope?: string): void {
    this.assertObject(objectType);
    this.leads.inSync(ids, holds, scope);
  }

  async logActivity(objectType: string, events: readonly ActivityEvent[], signal?: AbortSignal): Promise<void> {
    this.assertObject(objectType);
    return this.activities.log(events, signal);
  }

  stats(): ClientStats & ActivityStats & ConnectorStats {
    return { ...this.client.stats(), ...this.activities.stats, ...this.leads.stats };
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private assertObject(objectType: string): void {
    if (objectType !== 'lead') {
      throw new TandemError('BAD_REQUEST', `The Marketo connector syncs 'lead' only, not '${objectType}'`, {
        status: 400,
      });
    }
  }
}
