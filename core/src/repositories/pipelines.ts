/**
 * `pipelines`: one document per pipeline. The environment defines pipeline `default` at every start
 * (`upsertDefault`, idempotent); its mappings are then owned by the API (`PUT .../mappings`), so a restart
 * never overwrites what an operator saved. The schedule follows TANDEM_SYNC_INTERVAL at each start.
 */
import 'reflect-metadata';
import { inject, injectable } from 'tsyringe';
import type { Collection, Db } from 'mongodb';
import { CoreTokens } from '../di/tokens';
import type { Mappings } from '../sync/mappings';

export type NewPersonAs = 'lead' | 'contact';

export interface Pipeline {
  id: string;
  name: string;
  mappings: Mappings;
  schedule: { intervalMinutes: number };
  /** The Dynamics object type a Marketo person new to Dynamics is created as. */
  newPersonAs: NewPersonAs;
  /**
   * Which instance of each connection (by connection id) this pipeline's links, snapshots and cursors belong
   * to: recorded at its first cycle; a connection answering as another instance stops the pipeline.
   */
  instances?: Record<string, { instance: string; at: Date }>;
  createdAt: Date;
  updatedAt: Date;
}

interface PipelineDoc extends Omit<Pipeline, 'id'> {
  _id: string;
}

export interface DefaultPipeline {
  id: string;
  name: string;
  mappings: Mappings;
  intervalMinutes: number;
  newPersonAs?: NewPersonAs;
}

function toPipeline({ _id, ...rest }: PipelineDoc): Pipeline {
  return { id: _id, ...rest };
}

@injectable()
export class PipelinesRepository {
  private readonly collection: Collection<PipelineDoc>;

  constructor(@inject(CoreTokens.Db) db: Db) {
    this.collection = db.collection<PipelineDoc>('pipelines');
  }

  async ensureIndexes(): Promise<void> {
    // `_id` is the pipeline id; names are shown to people, so keep them unique too.
    await this.collection.createIndex({ name: 1 }, { unique: true, name: 'name_unique' });
  }

  async get(id: string): Promise<Pipeline | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? toPipeline(doc) : null;
  }

  async list(): Promise<Pipeline[]> {
    const docs = await this.collection.find({}).sort({ _id: 1 }).toArray();
    return docs.map(toPipeline);
  }

  /** Creates the pipeline if it is missing; refreshes only the schedule if it exists. */
  async upsertDefault(pipeline: DefaultPipeline): Promise<Pipeline> {
    const now = new Date();
    await this.collection.updateOne(
      { _id: pipeline.id },
      {
        $setOnInsert: {
          name: pipeline.name,
          mappings: pipeline.mappings,
          newPersonAs: pipeline.newPersonAs ?? 'lead',
          createdAt: now,
          updatedAt: now,
        },
        $set: { schedule: { intervalMinutes: pipeline.intervalMinutes } },
      },
      { upsert: true },
    );
    const stored = await this.get(pipeline.id);
    if (!stored) throw new Error(`pipeline ${pipeline.id} vanished right after its upsert`);
    return stored;
  }

  /** Records the instance each of `instances`' connections answered as (for those not recorded yet). */
  async bindInstances(id: string, instances: Record<string, string>): Promise<void> {
    const at = new Date();
    const set = Object.fromEntries(
      Object.entries(instances).map(([conn, instance]) => [`instances.${conn}`, { instance, at }]),
    );
    if (Object.keys(set).length > 0) await this.collection.updateOne({ _id: id }, { $set: set });
  }

  /** Forgets which instances the pipeline belongs to (a reset: its next cycle records them anew). */
  async clearInstances(id: string): Promise<void> {
    await this.collection.updateOne({ _id: id }, { $unset: { instances: '' }, $set: { updatedAt: new Date() } });
  }

  /** Replaces the mappings; returns the previous ones (for the audit log), or null for an unknown pipeline. */
  async setMappings(id: string, mappings: Mappings): Promise<{ before: Mappings; after: Pipeline } | null> {
    const before = await this.collection.findOneAndUpdate(
      { _id: id },
      { $set: { mappings, updatedAt: new Date() } },
      { returnDocument: 'before' },
    );
    if (!before) return null;
    const after = await this.get(id);
    return after ? { before: before.mappings, after } : null;
  }
}
