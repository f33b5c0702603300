/**
 * `locks`: a lease per pipeline, so that with several instances on one database each cycle runs once and
 * another instance takes over when the holder dies.
 */
import type { Collection, Db, Filter } from 'mongodb';
import { isDuplicateKey } from './links';

export interface LeaseDoc {
  _id: string;
  holder: string;
  expiresAt: Date;
  /** When the last cycle under this lease ended: the shared clock for "wait N minutes, sync again". */
  lastFinishedAt?: Date;
}

export class LeasesRepository {
  readonly collection: Collection<LeaseDoc>;

  constructor(db: Db) {
    this.collection = db.collection<LeaseDoc>('locks');
  }

  /**
   * Takes the lease `name` for `ttlMs` when it is free: nobody holds it, or its holder stopped renewing it.
   * With `minGapMs`, also only when the last cycle ended at least that long ago (so several instances on one
   * database keep to one schedule). True when taken. Never re-entrant: a holder that asks again is refused
   * like anyone else, so each cycle passes its own holder name (instance and cycle) and only one cycle of a
   * pipeline can hold the lease, even among several of one instance.
   *
   * A conditional `updateOne`, then an `insertOne` for a lease that does not exist yet, rather than one
   * upserting `findOneAndUpdate`: both commands match and write as one step on MongoDB and on the embedded
   * jongodb alike, whereas jongodb runs `findAndModify` as a read followed by a write, which let two
   * instances that asked at the same moment both take a free lease (about 1 race in 10).
   */
  async acquire(name: string, holder: string, ttlMs: number, minGapMs = 0): Promise<boolean> {
    const now = new Date();
    const free: Filter<LeaseDoc> = { expiresAt: { $lt: now } };
    const filter: Filter<LeaseDoc> =
      minGapMs > 0
        ? {
            _id: name,
            $and: [
              free,
              {
                $or: [
                  { lastFinishedAt: { $exists: false } },
                  { lastFinishedAt: { $lte: new Date(now.getTime() - minGapMs) } },
                ],
              },
            ],
          }
        : { _id: name, ...free };
    const expiresAt = new Date(now.getTime() + ttlMs);
    const taken = await this.collection.updateOne(filter, { $set: { holder, expiresAt } });
    if (taken.matchedCount === 1) return true;
    try {
      await this.collection.insertOne({ _id: name, holder, expiresAt });
      return true;
    } catch (error) {
      // The lease exists and is held (or too recent): the unique _id refuses a second one.
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  async renew(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const result = await this.collection.updateOne(
      { _id: name, holder },
      { $set: { expiresAt: new Date(Date.now() + ttlMs) } },
    );
    return result.matchedCount === 1;
  }

  async release(name: string, holder: string, finished: boolean): Promise<void> {
    const now = new Date();
    await this.collection.updateOne(
      { _id: name, holder },
      { $set: { expiresAt: new Date(0), ...(finished ? { lastFinishedAt: now } : {}) } },
    );
  }

  get(name: string): Promise<LeaseDoc | null> {
    return this.collection.findOne({ _id: name });
  }

  async delete(name: string): Promise<void> {
    await this.collection.deleteOne({ _id: name });
  }
}
