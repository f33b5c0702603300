/**
 * `runs`: one document per cycle (forced, scheduled, at start-up), with its counts while it runs and its
 * outcome when it ends. Runs of a dead instance stop sending heartbeats and are marked `interrupted`.
 */
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { RunCounts, RunStatus, RunTrigger } from '../sync/service';

/** Records read and written on one side during a run (keyed by connection id in `RunDoc.sides`). */
export interface SideProgress {
  read: number;
  written: number;
  /** Records the connection's feeds expect to hand over in this run, where its connector estimates them. */
  total?: number;
}

export interface RunDoc {
  _id: string;
  pipelineId: string;
  trigger: RunTrigger;
  status: RunStatus;
  counts: RunCounts;
  /** Per connection: records read and written so far (live while the run goes on). */
  sides?: Record<string, SideProgress>;
  startedAt: Date | null;
  finishedAt: Date | null;
  error?: string;
  warnings?: string[];
  /** What the run is doing now, for long initial loads. */
  progress?: string;
  instanceId: string;
  heartbeatAt: Date;
  queuedAt: Date;
}

const INTERRUPTED = 'The instance running this cycle stopped before it ended.';

export class RunsRepository {
  readonly collection: Collection<RunDoc>;

  constructor(db: Db) {
    this.collection = db.collection<RunDoc>('runs');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ pipelineId: 1, queuedAt: -1 }, { name: 'runs_by_pipeline' });
    await this.collection.createIndex({ status: 1 }, { name: 'runs_by_status' });
  }

  async create(pipelineId: string, trigger: RunTrigger, instanceId: string, counts: RunCounts): Promise<RunDoc> {
    const now = new Date();
    const doc: RunDoc = {
      _id: randomUUID(),
      pipelineId,
      trigger,
      status: 'running',
      counts,
      startedAt: now,
      finishedAt: null,
      instanceId,
      heartbeatAt: now,
      queuedAt: now,
    };
    await this.collection.insertOne(doc);
    return doc;
  }

  async update(id: string, set: Partial<Omit<RunDoc, '_id'>>): Promise<void> {
    await this.collection.updateOne({ _id: id }, { $set: { ...set, heartbeatAt: new Date() } });
  }

  /**
   * Ends a run, unless someone declared it interrupted meanwhile (its lease was lost to another instance):
   * then only its counts are kept, and false says so.
   */
  async finish(
    id: string,
    end: {
      status: RunStatus;
      counts: RunCounts;
      sides?: Record<string, SideProgress>;
      warnings?: string[];
      error?: string | undefined;
    },
  ): Promise<boolean> {
    const now = new Date();
    const { error, ...rest } = end;
    const finished = await this.collection.updateOne(
      { _id: id, status: 'running' },
      {
        $set: { ...rest, finishedAt: now, heartbeatAt: now, ...(error ? { error } : {}) },
        ...(error ? {} : { $unset: { error: '' } }),
      },
    );
    if (finished.matchedCount === 1) return true;
    await this.collection.updateOne({ _id: id }, { $set: { counts: end.counts, heartbeatAt: now } });
    return false;
  }

  /** The pipeline's newest run still marked running, if any. */
  running(pipelineId: string): Promise<RunDoc | null> {
    return this.collection.findOne({ pipelineId, status: 'running' }, { sort: { queuedAt: -1 } });
  }

  get(id: string): Promise<RunDoc | null> {
    return this.collection.findOne({ _id: id });
  }

  list(pipelineId: string, limit: number): Promise<RunDoc[]> {
    return this.collection.find({ pipelineId }).sort({ queuedAt: -1 }).limit(limit).toArray();
  }

  /** Runs whose instance stopped sending heartbeats (killed, crashed) become `interrupted`. */
  async markInterrupted(staleBefore: Date): Promise<number> {
    const result = await this.collection.updateMany(
      { status: { $in: ['running', 'queued'] }, heartbeatAt: { $lt: staleBefore } },
      { $set: { status: 'interrupted', finishedAt: new Date(), error: INTERRUPTED } },
    );
    return result.modifiedCount;
  }

  /**
   * Runs of `pipelineId` still marked running while the caller holds the pipeline's lease: their instance
   * lost the lease, so it died or was cut off. They become `interrupted`.
   */
  async interruptOrphans(pipelineId: string, exceptRunId?: string): Promise<number> {
    const result = await this.collection.updateMany(
      { pipelineId, status: { $in: ['running', 'queued'] }, ...(exceptRunId ? { _id: { $ne: exceptRunId } } : {}) },
      { $set: { status: 'interrupted', finishedAt: new Date(), error: INTERRUPTED } },
    );
    return result.modifiedCount;
  }
}
