/**
 * `activity`: each person's sync history (linked, created, updated, conflict, rejected, failed, deleted), kept
 * so operators can answer "what happened to this person" and "what went wrong this week" across both systems.
 */
import { randomUUID } from 'node:crypto';
import type { Collection, Db, Filter } from 'mongodb';
import type { SideKey } from '../sync/model';
import type { LinkSide } from './links';

export interface ActivityDoc {
  _id: string;
  pipelineId: string;
  at: Date;
  type: string;
  runId?: string;
  /** The person's records as the entry knew them. */
  left?: LinkSide;
  right?: LinkSide;
  email?: string;
  /** The side the entry is about (the one that rejected a write, the one a record was created in). */
  side?: SideKey;
  /** The system's error code, for rejections and failures. */
  code?: string;
  detail: string;
}

export interface ActivityQuery {
  side?: SideKey;
  recordId?: string;
  email?: string;
  types?: readonly string[];
  since?: Date;
  until?: Date;
}

export class ActivityRepository {
  readonly collection: Collection<ActivityDoc>;

  constructor(db: Db) {
    this.collection = db.collection<ActivityDoc>('activity');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ pipelineId: 1, 'left.id': 1, at: -1 }, { name: 'activity_left' });
    await this.collection.createIndex({ pipelineId: 1, 'right.id': 1, at: -1 }, { name: 'activity_right' });
    await this.collection.createIndex({ pipelineId: 1, email: 1, at: -1 }, { name: 'activity_email' });
    await this.collection.createIndex({ pipelineId: 1, type: 1, at: -1 }, { name: 'activity_type' });
  }

  async append(entries: ReadonlyArray<Omit<ActivityDoc, '_id'>>): Promise<void> {
    if (entries.length === 0) return;
    await this.collection.insertMany(
      entries.map((e) => ({ ...e, _id: randomUUID() })),
      { ordered: false },
    );
  }

  list(pipelineId: string, query: ActivityQuery, limit: number): Promise<ActivityDoc[]> {
    return this.collection.find(activityFilter(pipelineId, query)).sort({ at: -1 }).limit(limit).toArray();
  }

  /**
   * How many entries match (one `count` over the same index as `list`), for a view that read only the newest
   * ones to say how many it left out.
   */
  count(pipelineId: string, query: ActivityQuery): Promise<number> {
    return this.collection.countDocuments(activityFilter(pipelineId, query));
  }
}

function activityFilter(pipelineId: string, query: ActivityQuery): Filter<ActivityDoc> {
  const filter: Filter<ActivityDoc> = { pipelineId };
  if (query.side && query.recordId) filter[`${query.side}.id`] = query.recordId;
  if (query.email) filter.email = query.email;
  if (query.types) filter.type = { $in: [...query.types] };
  if (query.since || query.until) {
    filter.at = { ...(query.since ? { $gte: query.since } : {}), ...(query.until ? { $lt: query.until } : {}) };
  }
  return filter;
}
