/**
 * `webhooks`: each pipeline's webhooks (one document per pipeline: where to post, the signing secret, which run
 * outcomes), and `webhook_deliveries`: one document per notice to send, with its attempts, so that retries
 * survive a restart and operators can see what was sent and what the receiver answered. Every method is one
 * command whatever the number of deliveries (insertMany, updateMany, bulkWrite), and uses only operators the
 * embedded jongodb engine supports.
 */
import type { Collection, Db } from 'mongodb';

/** The run outcomes a webhook can be told of. */
export const WEBHOOK_EVENTS = ['failed', 'partial', 'succeeded', 'interrupted'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface Webhook {
  id: string;
  url: string;
  /** The HMAC-SHA256 key; never shown after it is set. */
  secret: string;
  events: WebhookEvent[];
  createdAt: Date;
}

export interface WebhooksDoc {
  _id: string;
  hooks: Webhook[];
  updatedAt: Date;
}

/** One attempt to deliver, as the delivery log keeps it. */
export interface DeliveryAttempt {
  at: Date;
  /** The receiver's HTTP status, when it answered. */
  responseCode?: number;
  /** Why the attempt failed without an answer (refused, timed out), or what a non-2xx answer was. */
  error?: string;
  ms: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryDoc {
  _id: string;
  pipelineId: string;
  webhookId: string;
  url: string;
  /** `run.failed`, `run.partial`, … */
  event: string;
  runId: string;
  /** The JSON body, exactly as signed and sent on every attempt. */
  body: string;
  status: DeliveryStatus;
  attempts: number;
  history: DeliveryAttempt[];
  /** When the next attempt is due (pending deliveries). */
  nextAttemptAt: Date | null;
  /** The instance sending it, and until when that claim holds; past it, any instance takes it over. */
  owner: string;
  ownerUntil: Date;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt?: Date;
}

export class WebhooksRepository {
  readonly collection: Collection<WebhooksDoc>;

  constructor(db: Db) {
    this.collection = db.collection<WebhooksDoc>('webhooks');
  }

  async get(pipelineId: string): Promise<Webhook[]> {
    return (await this.collection.findOne({ _id: pipelineId }))?.hooks ?? [];
  }

  /** Replaces the pipeline's webhooks; answers the ones it had. */
  async replace(pipelineId: string, hooks: readonly Webhook[]): Promise<Webhook[]> {
    const before = await this.collection.findOneAndUpdate(
      { _id: pipelineId },
      { $set: { hooks: [...hooks], updatedAt: new Date() } },
      { upsert: true, returnDocument: 'before' },
    );
    return before?.hooks ?? [];
  }
}

export class DeliveriesRepository {
  readonly collection: Collection<DeliveryDoc>;

  constructor(db: Db) {
    this.collection = db.collection<DeliveryDoc>('webhook_deliveries');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ pipelineId: 1, createdAt: -1 }, { name: 'deliveries_by_pipeline' });
    await this.collection.createIndex({ status: 1, ownerUntil: 1 }, { name: 'deliveries_pending' });
  }

  async insert(docs: readonly DeliveryDoc[]): Promise<void> {
    if (docs.length > 0) await this.collection.insertMany([...docs], { ordered: false });
  }

  /** Each delivery's outcome after an attempt, in one command. */
  async saveAttempts(
    updates: ReadonlyArray<{ id: string; owner: string; set: Partial<Omit<DeliveryDoc, '_id'>> }>,
  ): Promise<void> {
    if (updates.length === 0) return;
    await this.collection.bulkWrite(
      updates.map((u) => ({
        // Only while the claim is ours: another instance that took the delivery over has the say.
        updateOne: { filter: { _id: u.id, owner: u.owner }, update: { $set: { ...u.set, updatedAt: new Date() } } },
      })),
      { ordered: false },
    );
  }

  /**
   * Takes over up to `limit` pending deliveries whose claim has lapsed (their instance stopped, or released
   * them at shutdown) and answers them: three commands whatever their number.
   */
  async claimLapsed(owner: string, claimUntil: Date, limit: number): Promise<DeliveryDoc[]> {
    const now = new Date();
    const lapsed = await this.collection
      .find({ status: 'pending', ownerUntil: { $lt: now } }, { projection: { _id: 1 } })
      .limit(limit)
      .toArray();
    if (lapsed.length === 0) return [];
    const ids = lapsed.map((d) => d._id);
    await this.collection.updateMany(
      { _id: { $in: ids }, status: 'pending', ownerUntil: { $lt: now } },
      { $set: { owner, ownerUntil: claimUntil } },
    );
    return this.collection.find({ _id: { $in: ids }, owner, status: 'pending' }).toArray();
  }

  /** Gives up this instance's claims (at shutdown), so that the next instance to look takes them at once. */
  async release(owner: string): Promise<void> {
    await this.collection.updateMany({ owner, status: 'pending' }, { $set: { ownerUntil: new Date(0) } });
  }

  list(pipelineId: string, limit: number): Promise<DeliveryDoc[]> {
    return this.collection.find({ pipelineId }).sort({ createdAt: -1 }).limit(limit).toArray();
  }
}
