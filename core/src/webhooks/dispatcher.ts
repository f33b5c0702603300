/**
 * Delivers webhook notices of runs that end, from the instance that ran the cycle, in the background: a run's end
 * only starts an insert of its deliveries, and nothing the receiver does (slow, down, failing) reaches the cycle.
 *
 * Each delivery is a document (`webhook_deliveries`) before it is sent, so it outlives the process: a failed
 * attempt is retried after the next of `retryDelaysMs`, and the instance that scheduled it holds a claim until a
 * little after it is due. At shutdown the claims are released; a process that died simply lets them lapse. Every
 * instance looks for lapsed claims at start and every `sweepMs`, and takes those deliveries over, so a retry
 * pending when an instance stops is sent by the next one to start (or by another one running). A receiver may
 * see a delivery twice when an instance stops between sending it and saving the answer: `Tandem-Delivery` is the
 * same on every attempt of one delivery.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { scrubSecrets } from '../observability/errors';
import { sharedMetric } from '../plugin';
import { runView } from '../pipelines/views';
import type { RunDoc } from '../repositories/sync-store';
import type {
  DeliveriesRepository,
  DeliveryAttempt,
  DeliveryDoc,
  Webhook,
  WebhookEvent,
  WebhooksRepository,
} from '../repositories/webhooks';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign } from './signature';

/** After a failed attempt: 10 s, 1 min, 5 min, 30 min, 2 h, 6 h (seven attempts over about 8.6 hours). */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [10_000, 60_000, 300_000, 1_800_000, 7_200_000, 21_600_000];

export interface WebhookDispatcherOptions {
  webhooks: WebhooksRepository;
  deliveries: DeliveriesRepository;
  logger: Logger;
  registry?: Registry;
  /** This instance, as deliveries' claims name it. */
  instanceId: string;
  /** The wait before each retry; a delivery gets `1 + retryDelaysMs.length` attempts. */
  retryDelaysMs?: readonly number[];
  /** How long one attempt may take before it counts as failed. */
  timeoutMs?: number;
  /** How often to look for deliveries whose instance stopped. */
  sweepMs?: number;
  /** How long after a delivery is due its claim lapses if its instance has not saved an attempt by then. */
  claimGraceMs?: number;
}

/** Deliveries sent at once; more wait for the next round. */
const BATCH = 20;
/** The most of a receiver's answer that is read (it is not kept; reading lets the connection be reused). */
const MAX_ANSWER_BYTES = 64 * 1024;

export class WebhookDispatcher {
  private readonly pending = new Map<string, DeliveryDoc>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly controller = new AbortController();
  private readonly retryDelaysMs: readonly number[];
  private readonly timeoutMs: number;
  private readonly sweepMs: number;
  private readonly claimGraceMs: number;
  private readonly delivered?: Counter<'outcome'>;
  private timer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private sending = false;
  private stopped = false;

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.retryDelaysMs = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.sweepMs = options.sweepMs ?? 30_000;
    this.claimGraceMs = options.claimGraceMs ?? 60_000;
    const registry = options.registry;
    if (registry) {
      this.delivered = sharedMetric(
        registry,
        'tandem_webhook_attempts_total',
        () =>
          new Counter({
            name: 'tandem_webhook_attempts_total',
            help: 'Webhook delivery attempts by outcome (delivered, retry: failed and to be tried again, failed: given up)',
            labelNames: ['outcome'],
            registers: [registry],
          }),
      );
    }
  }

  /** Takes over deliveries left by stopped instances now and every `sweepMs`. */
  start(): void {
    this.track(this.sweep());
    this.sweeper = setInterval(() => this.track(this.sweep()), this.sweepMs);
    this.sweeper.unref();
  }

  /** A run-end listener: stores the run's deliveries and sends them, in the background. */
  readonly runEnded = (run: RunDoc): void => {
    if (this.stopped) return;
    this.track(this.enqueue(run));
  };

  /**
   * Stops sending: waits for deliveries being stored, cuts attempts under way short (they stay pending, not
   * counted) and releases this instance's claims, so the next instance to look sends them.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.sweeper);
    this.controller.abort(new Error('Tandem is shutting down'));
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    await this.options.deliveries.release(this.options.instanceId);
  }

  private track(work: Promise<unknown>): void {
    const tracked = work
      .catch((error: unknown) => this.options.logger.warn({ err: error }, 'webhook deliveries: store failed'))
      .finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  private async enqueue(run: RunDoc): Promise<void> {
    const status = run.status as WebhookEvent;
    const hooks = (await this.options.webhooks.get(run.pipelineId)).filter((h) => h.events.includes(status));
    if (hooks.length === 0) return;
    const now = new Date();
    const docs = hooks.map((hook): DeliveryDoc => {
      const id = randomUUID();
      const event = `run.${status}`;
      const body = JSON.stringify({
        id,
        event,
        createdAt: now.toISOString(),
        pipelineId: run.pipelineId,
        run: runView(run),
      });
      return {
        _id: id,
        pipelineId: run.pipelineId,
        webhookId: hook.id,
        url: hook.url,
        event,
        runId: run._id,
        body,
        status: 'pending',
        attempts: 0,
        history: [],
        nextAttemptAt: now,
        owner: this.options.instanceId,
        ownerUntil: new Date(now.getTime() + this.claimGraceMs),
        createdAt: now,
        updatedAt: now,
      };
    });
    await this.options.deliveries.insert(docs);
    this.schedule(docs);
  }

  /** Takes over up to a batch of deliveries whose claim lapsed. */
  private async sweep(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    const claimed = await this.options.deliveries.claimLapsed(
      this.options.instanceId,
      new Date(now + this.claimGraceMs),
      100,
    );
    if (claimed.length === 0) return;
    // The claim lasts until a little after each is due, as for the deliveries this instance scheduled itself.
    await this.options.deliveries.saveAttempts(
      claimed.map((d) => ({
        id: d._id,
        owner: this.options.instanceId,
        set: { ownerUntil: new Date(Math.max(now, d.nextAttemptAt?.getTime() ?? now) + this.claimGraceMs) },
      })),
    );
    this.options.logger.info({ deliveries: claimed.length }, 'webhook deliveries of a stopped instance taken over');
    this.schedule(claimed);
  }

  private schedule(docs: readonly DeliveryDoc[]): void {
    if (this.stopped) return;
    for (const doc of docs) this.pending.set(doc._id, doc);
    this.arm();
  }

  /** Sets the timer for the earliest pending delivery. */
  private arm(): void {
    clearTimeout(this.timer);
    if (this.stopped || this.sending || this.pending.size === 0) return;
    const next = Math.min(...[...this.pending.values()].map((d) => d.nextAttemptAt?.getTime() ?? 0));
    this.timer = setTimeout(() => this.track(this.sendDue()), Math.max(0, next - Date.now()));
    this.timer.unref();
  }

  /** Sends every delivery due now (a batch at a time) and saves the outcomes in one command per batch. */
  private async sendDue(): Promise<void> {
    if (this.sending || this.stopped) return;
    this.sending = true;
    try {
      const now = Date.now();
      const due = [...this.pending.values()].filter((d) => (d.nextAttemptAt?.getTime() ?? 0) <= now).slice(0, BATCH);
      for (const d of due) this.pending.delete(d._id);
      const hooks = new Map<string, Webhook[]>();
      for (const pipelineId of new Set(due.map((d) => d.pipelineId)))
        hooks.set(pipelineId, await this.options.webhooks.get(pipelineId));
      const outcomes = await Promise.all(
        due.map((d) =>
          this.attempt(
            d,
            hooks.get(d.pipelineId)?.find((h) => h.id === d.webhookId),
          ),
        ),
      );
      const done = outcomes.filter((o): o is DeliveryDoc => o !== undefined);
      await this.options.deliveries.saveAttempts(
        done.map((d) => ({
          id: d._id,
          owner: this.options.instanceId,
          set: {
            status: d.status,
            attempts: d.attempts,
            history: d.history,
            nextAttemptAt: d.nextAttemptAt,
            ownerUntil: d.ownerUntil,
            ...(d.deliveredAt ? { deliveredAt: d.deliveredAt } : {}),
          },
        })),
      );
      for (const d of done) if (d.status === 'pending') this.pending.set(d._id, d);
    } finally {
      this.sending = false;
      this.arm();
    }
  }

  /** One attempt; the delivery as it stands after it, or undefined when shutdown cut it short (not counted). */
  private async attempt(delivery: DeliveryDoc, hook: Webhook | undefined): Promise<DeliveryDoc | undefined> {
    const started = Date.now();
    const record = (attempt: Omit<DeliveryAttempt, 'at' | 'ms'>, delivered: boolean): DeliveryDoc => {
      const attempts = delivery.attempts + 1;
      const history = [...delivery.history, { at: new Date(started), ms: Date.now() - started, ...attempt }];
      const wait = this.retryDelaysMs[attempts - 1];
      const outcome = delivered ? 'delivered' : wait === undefined || !hook ? 'failed' : 'retry';
      this.delivered?.inc({ outcome });
      const log = {
        delivery: delivery._id,
        pipelineId: delivery.pipelineId,
        url: scrubSecrets(delivery.url),
        attempts,
      };
      if (outcome === 'retry')
        this.options.logger.warn({ ...log, ...attempt, retryInMs: wait }, 'webhook delivery failed; will retry');
      else if (outcome === 'failed')
        this.options.logger.error({ ...log, ...attempt }, 'webhook delivery failed; giving up');
      const nextAttemptAt = outcome === 'retry' ? new Date(Date.now() + (wait ?? 0)) : null;
      return {
        ...delivery,
        attempts,
        history,
        status: outcome === 'retry' ? 'pending' : outcome,
        nextAttemptAt,
        ownerUntil: new Date((nextAttemptAt?.getTime() ?? Date.now()) + this.claimGraceMs),
        ...(delivered ? { deliveredAt: new Date() } : {}),
      };
    };
    if (!hook) return record({ error: 'The webhook was removed before this delivery was sent' }, false);
    const timestamp = Math.floor(started / 1000);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const response = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Tandem-Webhooks/1',
          [DELIVERY_HEADER]: delivery._id,
          [EVENT_HEADER]: delivery.event,
          [SIGNATURE_HEADER]: sign(hook.secret, timestamp, delivery.body),
        },
        body: delivery.body,
        // A redirect is an answer, not a delivery: the signed body is not sent on to another address.
        redirect: 'manual',
        signal: AbortSignal.any([this.controller.signal, timeout]),
      });
      await drain(response);
      if (response.status >= 200 && response.status < 300) return record({ responseCode: response.status }, true);
      return record({ responseCode: response.status, error: `The receiver answered HTTP ${response.status}` }, false);
    } catch (error) {
      if (this.controller.signal.aborted) return undefined;
      const why = timeout.aborted ? `no answer within ${this.timeoutMs / 1000} s` : failureOf(error);
      return record({ error: scrubSecrets(why) }, false);
    }
  }
}

/** Reads and drops what the receiver answered, up to a bound. */
async function drain(response: Response): Promise<void> {
  const reader = response.body?.getReader();
  if (!reader) return;
  let read = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
      if (read > MAX_ANSWER_BYTES) return void (await reader.cancel());
    }
  } catch {
    // The answer's status is what counts; a body cut short says nothing more.
  }
}

/** What went wrong with a request that got no answer, as `fetch` words it in its cause. */
function failureOf(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${cause.message}` : cause.message;
  }
  return error instanceof Error ? error.message : String(error);
}
