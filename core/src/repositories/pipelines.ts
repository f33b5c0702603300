/**
 * `pipelines`: one document per pipeline: its two sides (connections with their object types, in order), field
 * mappings, schedule, pause switch, and which instances of its connections its synced state belongs to.
 * Pipelines are created over the API (or preset at start, like `default`), and their mappings and settings
 * are then owned by the API, so a restart never overwrites what an operator saved.
 */
import 'reflect-metadata';
import { inject, injectable } from 'tsyringe';
import type { Collection, Db } from 'mongodb';
import { CoreTokens } from '../di/tokens';
import { isDuplicateKey } from './links';
import type { Mappings } from '../sync/mappings';
import type { DeleteRule } from '../sync/model';

export interface PipelineSideConfig {
  /** The object types that take part, in matching order. */
  objects: string[];
  /** What a person from the other side becomes here when nobody matches. */
  newRecordsAs?: string;
  /** What the deletion of a record here means for its link (see `DeleteRule`); `unlink` by default. */
  deletes?: DeleteRule;
}

export interface Pipeline {
  id: string;
  name: string;
  /** Keyed by connection id; exactly two. */
  sides: Record<string, PipelineSideConfig>;
  /** The two connection ids in order: the first is the pipeline's left side, the second its right. */
  order: [string, string];
  mappings: Mappings;
  schedule: { intervalMinutes: number };
  paused: boolean;
  /**
   * Formats of the first version kept for this pipeline's API answers (`marketoId`, `toDynamics`, …): set for
   * the preset `default` pipeline, so every existing route and format keeps working unchanged.
   */
  legacyFormat?: boolean;
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

/** What a new pipeline is made of. */
export type NewPipeline = Omit<Pipeline, 'createdAt' | 'updatedAt' | 'instances'>;

function toPipeline({ _id, ...rest }: PipelineDoc): Pipeline {
  return { id: _id, ...rest, paused: rest.paused ?? false };
}

@injectable()
export class PipelinesRepository {
  readonly collection: Collection<PipelineDoc>;

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

  /** Creates a pipeline; false when the id (or the name) is taken. */
  async create(pipeline: NewPipeline): Promise<boolean> {
    const now = new Date();
    const { id, ...rest } = pipeline;
    try {
      await this.collection.insertOne({ _id: id, ...rest, createdAt: now, updatedAt: now });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  /**
   * Creates a preset pipeline if it is missing; if it exists, refreshes only its schedule and fills in what a
   * document of an earlier version lacks (its sides), keeping everything an operator changed.
   */
  async upsertPreset(pipeline: NewPipeline): Promise<Pipeline> {
    const now = new Date();
    const { id, schedule, ...rest } = pipeline;
    await this.collection.updateOne(
      { _id: id },
      { $setOnInsert: { ...rest, createdAt: now, updatedAt: now }, $set: { schedule } },
      { upsert: true },
    );
    await this.collection.updateOne(
      { _id: id, sides: { $exists: false } },
      {
        $set: {
          sides: rest.sides,
          order: rest.order,
          paused: false,
          ...(rest.legacyFormat ? { legacyFormat: true } : {}),
        },
      },
    );
    const stored = await this.get(id);
    if (!stored) throw new Error(`pipeline ${id} vanished right after its upsert`);
    return stored;
  }

  /** Changes the schedule or the pause switch; the pipeline as it is now, or null when unknown. */
  async update(id: string, change: { intervalMinutes?: number; paused?: boolean }): Promise<Pipeline | null> {
    const set: Record<string, unknown> = { updatedAt: new Date() };
    if (change.intervalMinutes !== undefined) set['schedule'] = { intervalMinutes: change.intervalMinutes };
    if (change.paused !== undefined) set['paused'] = change.paused;
    const result = await this.collection.updateOne({ _id: id }, { $set: set });
    return result.matchedCount === 1 ? this.get(id) : null;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.collection.deleteOne({ _id: id })).deletedCount === 1;
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
    const before = await this.get(id);
    if (!before) return null;
    await this.collection.updateOne({ _id: id }, { $set: { mappings, updatedAt: new Date() } });
    const after = await this.get(id);
    return after ? { before: before.mappings, after } : null;
  }
}
