/**
 * The engine's state in MongoDB, one repository per collection: links (with their snapshots and the rewrite
 * journal), cursors, runs, the activity log and leases. Every method works in bulk and uses only operators
 * that both MongoDB and the embedded jongodb engine support.
 */
import type { Db } from 'mongodb';
import { ActivityRepository } from './activity';
import { CursorsRepository } from './cursors';
import { LeasesRepository } from './leases';
import { LinksRepository } from './links';
import { RunsRepository } from './runs';

export class SyncStore {
  readonly links: LinksRepository;
  readonly cursors: CursorsRepository;
  readonly runs: RunsRepository;
  readonly activity: ActivityRepository;
  readonly leases: LeasesRepository;

  constructor(readonly db: Db) {
    this.links = new LinksRepository(db);
    this.cursors = new CursorsRepository(db);
    this.runs = new RunsRepository(db);
    this.activity = new ActivityRepository(db);
    this.leases = new LeasesRepository(db);
  }

  async ensureIndexes(): Promise<void> {
    await this.links.ensureIndexes();
    await this.runs.ensureIndexes();
    await this.activity.ensureIndexes();
  }

  /**
   * Forgets what a pipeline synced: links with their snapshots, unfinished rewrites and cursors (runs and the
   * activity log stay, as history). Its next cycle is an initial sync.
   */
  async resetPipeline(pipelineId: string): Promise<{ links: number; cursors: number }> {
    const links = await this.links.deletePipeline(pipelineId);
    const cursors = await this.cursors.deletePipeline(pipelineId);
    return { links, cursors };
  }
}

export { normalizeEmail, type LinkDoc, type LinkSide, type LinkState } from './links';
export type { ActivityDoc } from './activity';
export type { RunDoc, SideProgress } from './runs';
export type { CursorDoc } from './cursors';
export type { LeaseDoc } from './leases';
