/**
 * The engine's state in MongoDB: links (with their last-synced snapshot), cursors, runs, the per-person
 * activity log and leases. Every method works in bulk (one command per page of records, never one per
 * person) and uses only operators that both MongoDB and the embedded jongodb engine support.
 *
 * A snapshot lives inside its link document on purpose: link and snapshot then change in one atomic write,
 * so after a crash they can never disagree about what was last synced.
 */
import { randomUUID } from 'node:crypto';
import type { AnyBulkWriteOperation, Collection, Db, Filter } from 'mongodb';
import type { FieldValues } from '../plugin';
import type { ActivityEntry, Link, Run, RunCounts, RunStatus, RunTrigger } from '../sync/service';

export type LinkState = 'linked' | 'creating' | 'deleted' | 'rejected';

export interface LinkDoc {
  _id: string;
  pipelineId: string;
  /** Absent until the person exists in Marketo. */
  marketoId?: string;
  /** Absent until the record exists in Dynamics. */
  dynamicsId?: string;
  dynamicsType: string;
  /** Trimmed, lower-cased email: how new people are matched. */
  email?: string;
  state: LinkState;
  /** The values both sides agreed on at the last sync, keyed by Marketo field name. */
  snapshot: FieldValues;
  dynamicsEtag?: string;
  /** Set before a remote create is sent: which side is being created, so a retry looks it up first. */
  createIntent?: { side: 'marketo' | 'dynamics'; at: Date; runId?: string };
  /** The last rejected write, kept until the source changes again. */
  rejection?: { side: 'marketo' | 'dynamics'; code: string; message: string; at: Date };
  createdAt: Date;
  updatedAt: Date;
}

export interface CursorDoc {
  _id: string;
  pipelineId: string;
  system: string;
  objectType: string;
  value: string;
  updatedAt: Date;
}

export interface RunDoc {
  _id: string;
  pipelineId: string;
  trigger: RunTrigger;
  status: RunStatus;
  counts: RunCounts;
  startedAt: Date | null;
  finishedAt: Date | null;
  error?: string;
  warnings?: string[];
  progress?: string;
  instanceId: string;
  heartbeatAt: Date;
  queuedAt: Date;
}

export interface ActivityDoc {
  _id: string;
  pipelineId: string;
  at: Date;
  type: string;
  runId?: string;
  marketoId?: string;
  dynamicsId?: string;
  dynamicsType?: string;
  detail: string;
}

/**
 * Links about to be rewritten (deleted and inserted again with their new content), saved first so that a crash
 * between the delete and the insert loses nothing: the next cycle finishes the rewrite from here.
 */
export interface LinkJournalDoc {
  _id: string;
  pipelineId: string;
  at: Date;
  links: LinkDoc[];
}

export interface LeaseDoc {
  _id: string;
  holder: string;
  expiresAt: Date;
  /** When the last cycle under this lease ended: the shared clock for "wait N minutes, sync again". */
  lastFinishedAt?: Date;
}

const DUPLICATE_KEY = 11000;
/** Links per journal entry: a few hundred KB of BSON, far below MongoDB's 16 MB document limit. */
const REWRITE_BATCH = 500;

function isDuplicateKey(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === DUPLICATE_KEY;
}

export function normalizeEmail(email: unknown): string | undefined {
  if (typeof email !== 'string') return undefined;
  const trimmed = email.trim().toLowerCase();
  return trimmed === '' ? undefined : trimmed;
}

export function toLink(doc: LinkDoc): Link {
  return {
    marketoId: doc.marketoId ?? null,
    dynamicsId: doc.dynamicsId ?? null,
    dynamicsType: doc.dynamicsType,
    email: doc.email ?? null,
    state: doc.state,
    updatedAt: doc.updatedAt.toISOString(),
  };
}

export function toRun(doc: RunDoc): Run {
  return {
    id: doc._id,
    pipelineId: doc.pipelineId,
    trigger: doc.trigger,
    status: doc.status,
    counts: doc.counts,
    startedAt: doc.startedAt ? doc.startedAt.toISOString() : null,
    finishedAt: doc.finishedAt ? doc.finishedAt.toISOString() : null,
    ...(doc.error ? { error: doc.error } : {}),
    ...(doc.warnings?.length ? { warnings: doc.warnings } : {}),
    ...(doc.progress ? { progress: doc.progress } : {}),
  };
}

export function toActivity(doc: ActivityDoc): ActivityEntry {
  return {
    at: doc.at.toISOString(),
    type: doc.type,
    detail: doc.detail,
    ...(doc.runId ? { runId: doc.runId } : {}),
    ...(doc.marketoId ? { marketoId: doc.marketoId } : {}),
    ...(doc.dynamicsId ? { dynamicsId: doc.dynamicsId } : {}),
    ...(doc.dynamicsType ? { dynamicsType: doc.dynamicsType } : {}),
  };
}

export class SyncStore {
  readonly links: Collection<LinkDoc>;
  readonly cursors: Collection<CursorDoc>;
  readonly runs: Collection<RunDoc>;
  readonly activity: Collection<ActivityDoc>;
  readonly leases: Collection<LeaseDoc>;
  readonly linkJournal: Collection<LinkJournalDoc>;

  constructor(db: Db) {
    this.linkJournal = db.collection<LinkJournalDoc>('link_journal');
    this.links = db.collection<LinkDoc>('links');
    this.cursors = db.collection<CursorDoc>('cursors');
    this.runs = db.collection<RunDoc>('runs');
    this.activity = db.collection<ActivityDoc>('activity');
    this.leases = db.collection<LeaseDoc>('locks');
  }

  async ensureIndexes(): Promise<void> {
    // Partial (not sparse) unique indexes: a compound sparse index would still index documents lacking the id.
    await this.links.createIndex(
      { pipelineId: 1, marketoId: 1 },
      { unique: true, name: 'marketo_link', partialFilterExpression: { marketoId: { $type: 'string' } } },
    );
    await this.links.createIndex(
      { pipelineId: 1, dynamicsType: 1, dynamicsId: 1 },
      { unique: true, name: 'dynamics_link', partialFilterExpression: { dynamicsId: { $type: 'string' } } },
    );
    await this.links.createIndex({ pipelineId: 1, email: 1 }, { name: 'link_email' });
    await this.links.createIndex({ pipelineId: 1, state: 1 }, { name: 'link_state' });
    await this.linkJournal.createIndex({ pipelineId: 1 }, { name: 'journal_by_pipeline' });
    await this.runs.createIndex({ pipelineId: 1, queuedAt: -1 }, { name: 'runs_by_pipeline' });
    await this.runs.createIndex({ status: 1 }, { name: 'runs_by_status' });
    await this.activity.createIndex({ pipelineId: 1, marketoId: 1, at: -1 }, { name: 'activity_marketo' });
    await this.activity.createIndex({ pipelineId: 1, dynamicsId: 1, at: -1 }, { name: 'activity_dynamics' });
  }

  // ---- links ---------------------------------------------------------------------------------------

  linksByMarketoIds(pipelineId: string, ids: readonly string[]): Promise<LinkDoc[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.links.find({ pipelineId, marketoId: { $in: [...ids] } }).toArray();
  }

  linksByDynamicsIds(pipelineId: string, dynamicsType: string, ids: readonly string[]): Promise<LinkDoc[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.links.find({ pipelineId, dynamicsType, dynamicsId: { $in: [...ids] } }).toArray();
  }

  linksByEmails(pipelineId: string, emails: readonly string[]): Promise<LinkDoc[]> {
    if (emails.length === 0) return Promise.resolve([]);
    return this.links.find({ pipelineId, email: { $in: [...emails] } }).toArray();
  }

  /** Links whose remote create was started but not confirmed: a crash happened between intent and result. */
  pendingCreates(pipelineId: string): Promise<LinkDoc[]> {
    return this.links.find({ pipelineId, state: 'creating' }).toArray();
  }

  /**
   * Inserts new link documents; when someone (a push) linked one of these people meanwhile, the others are
   * still inserted and the ones whose person is taken come back, not inserted. A constant number of commands
   * and statements however many documents, also when some collide: after a duplicate-key refusal, one query
   * says which documents went in (not every engine inserts the rest of an unordered batch after a duplicate)
   * and one which of the rest collide with a link already there; the remainder goes in again.
   */
  async insertLinksExceptTaken(docs: readonly LinkDoc[]): Promise<LinkDoc[]> {
    const taken: LinkDoc[] = [];
    let remaining = [...docs];
    // Each round either inserts everything left or sets aside what collides; two rounds settle a lost race.
    for (let round = 0; remaining.length > 0; round++) {
      try {
        await this.links.insertMany(remaining, { ordered: false });
        return taken;
      } catch (error) {
        const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
        const duplicate = isDuplicateKey(error) || (Array.isArray(writeErrors) && writeErrors.every(isDuplicateKey));
        if (!duplicate || round >= 3) throw error;
      }
      const ids = remaining.map((d) => d._id);
      const present = new Set(
        (await this.links.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id),
      );
      remaining = remaining.filter((d) => !present.has(d._id));
      const holders = await this.linkHolders(remaining);
      const next: LinkDoc[] = [];
      for (const doc of remaining) {
        const held =
          (doc.marketoId !== undefined && holders.marketo.has(`${doc.pipelineId}|${doc.marketoId}`)) ||
          (doc.dynamicsId !== undefined &&
            holders.dynamics.has(`${doc.pipelineId}|${doc.dynamicsType}|${doc.dynamicsId}`));
        if (held) taken.push(doc);
        else next.push(doc);
      }
      remaining = next;
    }
    return taken;
  }

  /** Which of `docs`' Marketo and Dynamics ids other link documents already hold (one query). */
  private async linkHolders(docs: readonly LinkDoc[]): Promise<{ marketo: Set<string>; dynamics: Set<string> }> {
    const marketo = new Set<string>();
    const dynamics = new Set<string>();
    if (docs.length === 0) return { marketo, dynamics };
    const ids = docs.map((d) => d._id);
    const marketoIds = docs.flatMap((d) => (d.marketoId === undefined ? [] : [d.marketoId]));
    const dynamicsIds = docs.flatMap((d) => (d.dynamicsId === undefined ? [] : [d.dynamicsId]));
    const pipelines = [...new Set(docs.map((d) => d.pipelineId))];
    const found = await this.links
      .find(
        {
          pipelineId: { $in: pipelines },
          _id: { $nin: ids },
          $or: [{ marketoId: { $in: marketoIds } }, { dynamicsId: { $in: dynamicsIds } }],
        },
        { projection: { pipelineId: 1, marketoId: 1, dynamicsType: 1, dynamicsId: 1 } },
      )
      .toArray();
    for (const l of found) {
      if (l.marketoId !== undefined) marketo.add(`${l.pipelineId}|${l.marketoId}`);
      if (l.dynamicsId !== undefined) dynamics.add(`${l.pipelineId}|${l.dynamicsType}|${l.dynamicsId}`);
    }
    return { marketo, dynamics };
  }

  /** Inserts one link, or answers false when its marketo/dynamics id is already linked. */
  async tryInsertLink(doc: LinkDoc): Promise<boolean> {
    try {
      await this.links.insertOne(doc);
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  /**
   * The same change to many links in one statement (`updateMany`): a state for a whole page of people costs
   * what one person's does.
   */
  async setLinks(ids: readonly string[], set: Partial<LinkDoc>, unset: Array<keyof LinkDoc> = []): Promise<void> {
    if (ids.length === 0) return;
    await this.links.updateMany(
      { _id: { $in: [...ids] } },
      {
        $set: { ...set, updatedAt: new Date() },
        ...(unset.length > 0 ? { $unset: Object.fromEntries(unset.map((k) => [k, ''])) } : {}),
      },
    );
  }

  /**
   * Different changes to a few links (a push: one person). One statement per link, and some engines (jongodb)
   * pay a scan of the collection per statement: for a page of people use `setLinks` or `rewriteLinks`.
   */
  async saveLinks(
    updates: ReadonlyArray<{ id: string; set: Partial<LinkDoc>; unset?: Array<keyof LinkDoc> }>,
  ): Promise<void> {
    if (updates.length === 0) return;
    const now = new Date();
    const ops: AnyBulkWriteOperation<LinkDoc>[] = updates.map(({ id, set, unset }) => ({
      updateOne: {
        filter: { _id: id },
        update: {
          $set: { ...set, updatedAt: now },
          ...(unset && unset.length > 0 ? { $unset: Object.fromEntries(unset.map((k) => [k, ''])) } : {}),
        },
      },
    }));
    await this.links.bulkWrite(ops, { ordered: true });
  }

  /**
   * Replaces whole link documents (same _id, new content) with a constant number of commands per batch, however
   * many links change: journal the new documents, delete the old ones, insert the new ones, drop the journal
   * entry. A page's worth of per-link updates would be one write operation per link; some MongoDB-compatible
   * engines (and billing models) charge per operation, and the crash-safety stays the same: a rewrite
   * interrupted anywhere is finished by `finishLinkRewrites` before the next cycle reads any link.
   *
   * Only for the sync cycle, which holds the pipeline's lease and has just read these links. A person linked by
   * a push while its old document is briefly absent keeps the push's link (the insert then skips that one).
   */
  async rewriteLinks(pipelineId: string, docs: readonly LinkDoc[]): Promise<LinkDoc[]> {
    const now = new Date();
    const taken: LinkDoc[] = [];
    for (let i = 0; i < docs.length; i += REWRITE_BATCH) {
      const batch = docs.slice(i, i + REWRITE_BATCH).map((d) => ({ ...d, updatedAt: now }));
      const entry: LinkJournalDoc = { _id: randomUUID(), pipelineId, at: now, links: batch };
      await this.linkJournal.insertOne(entry);
      taken.push(...(await this.applyRewrite(entry)));
    }
    return taken;
  }

  /** Finishes rewrites a crash interrupted (see `rewriteLinks`). Idempotent. */
  async finishLinkRewrites(pipelineId: string): Promise<number> {
    const entries = await this.linkJournal.find({ pipelineId }).toArray();
    for (const entry of entries) await this.applyRewrite(entry);
    return entries.reduce((n, e) => n + e.links.length, 0);
  }

  /** Answers the links not written back because their person was linked by someone else meanwhile. */
  private async applyRewrite(entry: LinkJournalDoc): Promise<LinkDoc[]> {
    await this.links.deleteMany({ _id: { $in: entry.links.map((d) => d._id) } });
    // A person linked by someone else meanwhile keeps that link.
    const taken = await this.insertLinksExceptTaken(entry.links);
    await this.linkJournal.deleteOne({ _id: entry._id });
    return taken;
  }

  async deleteLinks(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.links.deleteMany({ _id: { $in: [...ids] } });
  }

  findLinks(
    pipelineId: string,
    query: { marketoId?: string; dynamicsId?: string; email?: string },
    limit: number,
  ): Promise<LinkDoc[]> {
    const filter: Filter<LinkDoc> = { pipelineId };
    if (query.marketoId) filter.marketoId = query.marketoId;
    if (query.dynamicsId) filter.dynamicsId = query.dynamicsId;
    if (query.email) filter.email = normalizeEmail(query.email) ?? query.email;
    return this.links.find(filter).sort({ updatedAt: -1 }).limit(limit).toArray();
  }

  /**
   * Forgets what a pipeline synced: links with their snapshots, unfinished rewrites and cursors (runs and the
   * activity log stay, as history). Its next cycle is an initial sync.
   */
  async resetPipeline(pipelineId: string): Promise<{ links: number; cursors: number }> {
    const links = await this.links.deleteMany({ pipelineId });
    await this.linkJournal.deleteMany({ pipelineId });
    const cursors = await this.cursors.deleteMany({ pipelineId });
    return { links: links.deletedCount, cursors: cursors.deletedCount };
  }

  // ---- cursors -------------------------------------------------------------------------------------

  static cursorId(pipelineId: string, system: string, objectType: string): string {
    return `${pipelineId}|${system}|${objectType}`;
  }

  async loadCursors(pipelineId: string): Promise<Map<string, string>> {
    const docs = await this.cursors.find({ pipelineId }).toArray();
    return new Map(docs.map((d) => [d._id, d.value]));
  }

  async saveCursor(pipelineId: string, system: string, objectType: string, value: string): Promise<void> {
    const _id = SyncStore.cursorId(pipelineId, system, objectType);
    await this.cursors.updateOne(
      { _id },
      { $set: { pipelineId, system, objectType, value, updatedAt: new Date() } },
      { upsert: true },
    );
  }

  // ---- runs ----------------------------------------------------------------------------------------

  async createRun(pipelineId: string, trigger: RunTrigger, instanceId: string, counts: RunCounts): Promise<RunDoc> {
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
    await this.runs.insertOne(doc);
    return doc;
  }

  async updateRun(id: string, set: Partial<Omit<RunDoc, '_id'>>): Promise<void> {
    await this.runs.updateOne({ _id: id }, { $set: { ...set, heartbeatAt: new Date() } });
  }

  /**
   * Ends a run, unless someone declared it interrupted meanwhile (its lease was lost to another instance):
   * then only its counts are kept, and false says so.
   */
  async finishRun(
    id: string,
    end: { status: RunStatus; counts: RunCounts; error?: string | undefined },
  ): Promise<boolean> {
    const now = new Date();
    const { error, ...rest } = end;
    const finished = await this.runs.updateOne(
      { _id: id, status: 'running' },
      {
        $set: { ...rest, finishedAt: now, heartbeatAt: now, ...(error ? { error } : {}) },
        ...(error ? {} : { $unset: { error: '' } }),
      },
    );
    if (finished.matchedCount === 1) return true;
    await this.runs.updateOne({ _id: id }, { $set: { counts: end.counts, heartbeatAt: now } });
    return false;
  }

  /** The pipeline's newest run still marked running, if any. */
  runningRun(pipelineId: string): Promise<RunDoc | null> {
    return this.runs.findOne({ pipelineId, status: 'running' }, { sort: { queuedAt: -1 } });
  }

  getRun(id: string): Promise<RunDoc | null> {
    return this.runs.findOne({ _id: id });
  }

  listRuns(pipelineId: string, limit: number): Promise<RunDoc[]> {
    return this.runs.find({ pipelineId }).sort({ queuedAt: -1 }).limit(limit).toArray();
  }

  /** Runs whose instance stopped sending heartbeats (killed, crashed) become `interrupted`. */
  async markInterrupted(staleBefore: Date): Promise<number> {
    const result = await this.runs.updateMany(
      { status: { $in: ['running', 'queued'] }, heartbeatAt: { $lt: staleBefore } },
      {
        $set: {
          status: 'interrupted',
          finishedAt: new Date(),
          error: 'The instance running this cycle stopped before it ended.',
        },
      },
    );
    return result.modifiedCount;
  }

  /**
   * Runs of `pipelineId` still marked running while the caller holds the pipeline's lease: their instance
   * lost the lease, so it died or was cut off. They become `interrupted`.
   */
  async interruptOrphans(pipelineId: string, exceptRunId?: string): Promise<number> {
    const result = await this.runs.updateMany(
      { pipelineId, status: { $in: ['running', 'queued'] }, ...(exceptRunId ? { _id: { $ne: exceptRunId } } : {}) },
      {
        $set: {
          status: 'interrupted',
          finishedAt: new Date(),
          error: 'The instance running this cycle stopped before it ended.',
        },
      },
    );
    return result.modifiedCount;
  }

  // ---- activity ------------------------------------------------------------------------------------

  async appendActivity(entries: ReadonlyArray<Omit<ActivityDoc, '_id'>>): Promise<void> {
    if (entries.length === 0) return;
    await this.activity.insertMany(
      entries.map((e) => ({ ...e, _id: randomUUID() })),
      { ordered: false },
    );
  }

  listActivity(
    pipelineId: string,
    query: { marketoId?: string; dynamicsId?: string },
    limit: number,
  ): Promise<ActivityDoc[]> {
    const filter: Filter<ActivityDoc> = { pipelineId };
    if (query.marketoId) filter.marketoId = query.marketoId;
    if (query.dynamicsId) filter.dynamicsId = query.dynamicsId;
    return this.activity.find(filter).sort({ at: -1 }).limit(limit).toArray();
  }

  // ---- leases --------------------------------------------------------------------------------------

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
  async acquireLease(name: string, holder: string, ttlMs: number, minGapMs = 0): Promise<boolean> {
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
    const taken = await this.leases.updateOne(filter, { $set: { holder, expiresAt } });
    if (taken.matchedCount === 1) return true;
    try {
      await this.leases.insertOne({ _id: name, holder, expiresAt });
      return true;
    } catch (error) {
      // The lease exists and is held (or too recent): the unique _id refuses a second one.
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const result = await this.leases.updateOne(
      { _id: name, holder },
      { $set: { expiresAt: new Date(Date.now() + ttlMs) } },
    );
    return result.matchedCount === 1;
  }

  async releaseLease(name: string, holder: string, finished: boolean): Promise<void> {
    const now = new Date();
    await this.leases.updateOne(
      { _id: name, holder },
      { $set: { expiresAt: new Date(0), ...(finished ? { lastFinishedAt: now } : {}) } },
    );
  }

  getLease(name: string): Promise<LeaseDoc | null> {
    return this.leases.findOne({ _id: name });
  }
}
