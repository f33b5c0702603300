/**
 * `cursors`: where each change feed of a pipeline was last read, per connection and object type. A cursor is
 * stored only once everything read before it is saved, so a crash re-reads at most one write set.
 */
import type { Collection, Db } from 'mongodb';

export interface CursorDoc {
  _id: string;
  pipelineId: string;
  /** The connection id (stored as `system` since the first version). */
  system: string;
  objectType: string;
  value: string;
  updatedAt: Date;
}

export class CursorsRepository {
  readonly collection: Collection<CursorDoc>;

  constructor(db: Db) {
    this.collection = db.collection<CursorDoc>('cursors');
  }

  static id(pipelineId: string, connection: string, objectType: string): string {
    return `${pipelineId}|${connection}|${objectType}`;
  }

  async load(pipelineId: string): Promise<Map<string, string>> {
    const docs = await this.collection.find({ pipelineId }).toArray();
    return new Map(docs.map((d) => [d._id, d.value]));
  }

  async save(pipelineId: string, connection: string, objectType: string, value: string): Promise<void> {
    const _id = CursorsRepository.id(pipelineId, connection, objectType);
    await this.collection.updateOne(
      { _id },
      { $set: { pipelineId, system: connection, objectType, value, updatedAt: new Date() } },
      { upsert: true },
    );
  }

  async deletePipeline(pipelineId: string): Promise<number> {
    return (await this.collection.deleteMany({ pipelineId })).deletedCount;
  }
}
