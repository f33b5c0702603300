/**
 * `audit`: an append-only record of every change made through the API (who, what, before, after), so
 * operators can answer "who turned this policy off?" long after the fact.
 */
import 'reflect-metadata';
import { inject, injectable } from 'tsyringe';
import type { Collection, Db } from 'mongodb';
import { CoreTokens } from '../di/tokens';

export interface AuditEntry {
  at: Date;
  actor: string;
  /** What was done, e.g. `policy.update`, `mappings.replace`. */
  action: string;
  /** What it was done to, e.g. `pipeline/default/policy/collision-authority`. */
  target: string;
  before: unknown;
  after: unknown;
}

@injectable()
export class AuditRepository {
  private readonly collection: Collection<AuditEntry>;

  constructor(@inject(CoreTokens.Db) db: Db) {
    this.collection = db.collection<AuditEntry>('audit');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ at: -1 }, { name: 'at_desc' });
    await this.collection.createIndex({ target: 1, at: -1 }, { name: 'target_at_desc' });
  }

  async record(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    // A spread copy: insertOne would otherwise add `_id` to the caller's object.
    await this.collection.insertOne({ at: new Date(), ...entry });
  }

  /** Newest first, optionally for one target. */
  async list(filter: { target?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    const query = filter.target === undefined ? {} : { target: filter.target };
    const docs = await this.collection
      .find(query, { projection: { _id: 0 } })
      // _id breaks ties between entries of the same millisecond (ObjectIds grow within a process).
      .sort({ at: -1, _id: -1 })
      .limit(filter.limit ?? 100)
      .toArray();
    return docs;
  }
}
