/**
 * `links`: one document per person of a pipeline, holding each side's object type and record id and the
 * snapshot (the values both sides last agreed on). A snapshot lives inside its link on purpose: link and
 * snapshot change in one atomic write, so after a crash they can never disagree about what was last synced.
 *
 * Every method works on whole batches with a constant number of statements, never one per person: some
 * MongoDB-compatible engines (the embedded jongodb) scan the collection for each statement, so a bulk write of
 * a thousand `updateOne`s costs a thousand scans. Changes that differ per link are whole-document rewrites
 * (journal, delete, insert); a change shared by many is one `updateMany`.
 */
import { randomUUID } from 'node:crypto';
import type { Collection, Db, Filter } from 'mongodb';
import type { FieldValues } from '../plugin';
import type { SideKey } from '../sync/model';

export type LinkState = 'linked' | 'creating' | 'deleted' | 'rejected';

/** One side of a link: its object type (known before the record exists) and its record id (once it does). */
export interface LinkSide {
  type: string;
  id?: string;
}

export interface LinkDoc {
  _id: string;
  pipelineId: string;
  left: LinkSide;
  right: LinkSide;
  /** Trimmed, lower-cased email: how new people are matched. */
  email?: string;
  state: LinkState;
  /** The values both sides agreed on at the last sync, keyed by the left side's field names. */
  snapshot: FieldValues;
  /** Set before a remote create is sent: which side is being created, so a retry looks it up first. */
  createIntent?: { side: SideKey; at: Date; runId?: string };
  /** The last rejected write, kept until the source changes again. */
  rejection?: { side: SideKey; code: string; message: string; at: Date };
  /** An operator asked for this person to be compared and written again by the next cycle. */
  resync?: boolean;
  createdAt: Date;
  updatedAt: Date;
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

const DUPLICATE_KEY = 11000;
/** Links per journal entry: a few hundred KB of BSON, far below MongoDB's 16 MB document limit. */
const REWRITE_BATCH = 500;

export function isDuplicateKey(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, writeErrors } = error as { code?: unknown; writeErrors?: unknown };
  if (code === DUPLICATE_KEY) return true;
  return Array.isArray(writeErrors) && writeErrors.length > 0 && writeErrors.every(isDuplicateKey);
}

export function normalizeEmail(email: unknown): string | undefined {
  if (typeof email !== 'string') return undefined;
  const trimmed = email.trim().toLowerCase();
  return trimmed === '' ? undefined : trimmed;
}

/** The key a side's record is unique under within a pipeline. */
function sideKey(doc: LinkDoc, side: SideKey): string | undefined {
  const s = doc[side];
  return s.id === undefined ? undefined : `${doc.pipelineId}|${s.type}|${s.id}`;
}

export interface LinkQuery {
  side?: SideKey;
  recordId?: string;
  email?: string;
  state?: LinkState;
}

export class LinksRepository {
  readonly collection: Collection<LinkDoc>;
  readonly journal: Collection<LinkJournalDoc>;

  constructor(db: Db) {
    this.collection = db.collection<LinkDoc>('links');
    this.journal = db.collection<LinkJournalDoc>('link_journal');
  }

  async ensureIndexes(): Promise<void> {
    // Partial (not sparse) unique indexes: a compound sparse index would still index documents lacking the id.
    for (const side of ['left', 'right'] as const) {
      await this.collection.createIndex(
        { pipelineId: 1, [`${side}.type`]: 1, [`${side}.id`]: 1 },
        { unique: true, name: `${side}_link`, partialFilterExpression: { [`${side}.id`]: { $type: 'string' } } },
      );
    }
    await this.collection.createIndex({ pipelineId: 1, email: 1 }, { name: 'link_email' });
    await this.collection.createIndex({ pipelineId: 1, state: 1 }, { name: 'link_state' });
    await this.journal.createIndex({ pipelineId: 1 }, { name: 'journal_by_pipeline' });
  }

  /** Links whose `side` record is one of `ids` (of `type`, when the side has several object types). */
  byIds(pipelineId: string, side: SideKey, ids: readonly string[], type?: string): Promise<LinkDoc[]> {
    if (ids.length === 0) return Promise.resolve([]);
    const filter: Filter<LinkDoc> = { pipelineId, [`${side}.id`]: { $in: [...ids] } };
    if (type !== undefined) filter[`${side}.type`] = type;
    return this.collection.find(filter).toArray();
  }

  byEmails(pipelineId: string, emails: readonly string[]): Promise<LinkDoc[]> {
    if (emails.length === 0) return Promise.resolve([]);
    return this.collection.find({ pipelineId, email: { $in: [...emails] } }).toArray();
  }

  /** Links whose remote create was started but not confirmed: a crash happened between intent and result. */
  pendingCreates(pipelineId: string): Promise<LinkDoc[]> {
    return this.collection.find({ pipelineId, state: 'creating' }).toArray();
  }

  find(pipelineId: string, query: LinkQuery, limit: number): Promise<LinkDoc[]> {
    const filter: Filter<LinkDoc> = { pipelineId };
    if (query.side && query.recordId) filter[`${query.side}.id`] = query.recordId;
    if (query.email) filter.email = normalizeEmail(query.email) ?? query.email;
    if (query.state) filter.state = query.state;
    return this.collection.find(filter).sort({ updatedAt: -1 }).limit(limit).toArray();
  }

  /**
   * Inserts new link documents; when someone (a push) linked one of these people meanwhile, the others are
   * still inserted and the ones whose record is taken come back, not inserted. A constant number of commands
   * however many documents, also when some collide: after a duplicate-key refusal, one query says which
   * documents went in (not every engine inserts the rest of an unordered batch after a duplicate) and one
   * which of the rest collide with a link already there; the remainder goes in again.
   */
  async insertExceptTaken(docs: readonly LinkDoc[]): Promise<LinkDoc[]> {
    const taken: LinkDoc[] = [];
    let remaining = [...docs];
    for (let round = 0; remaining.length > 0; round++) {
      try {
        await this.collection.insertMany(remaining, { ordered: false });
        return taken;
      } catch (error) {
        // Each round either inserts everything left or sets aside what collides; a few settle a lost race.
        if (!isDuplicateKey(error) || round >= 3) throw error;
      }
      const present = new Set(
        (
          await this.collection
            .find({ _id: { $in: remaining.map((d) => d._id) } }, { projection: { _id: 1 } })
            .toArray()
        ).map((d) => d._id),
      );
      remaining = remaining.filter((d) => !present.has(d._id));
      const held = await this.heldKeys(remaining);
      const next: LinkDoc[] = [];
      for (const doc of remaining) {
        const left = sideKey(doc, 'left');
        const right = sideKey(doc, 'right');
        if ((left && held.left.has(left)) || (right && held.right.has(right))) taken.push(doc);
        else next.push(doc);
      }
      remaining = next;
    }
    return taken;
  }

  /** Flags people for the next cycle to compare and write again; answers how many links were flagged. */
  async markResync(
    pipelineId: string,
    query: { side: SideKey; recordIds: readonly string[] } | { emails: readonly string[] },
  ): Promise<number> {
    const filter: Filter<LinkDoc> =
      'emails' in query
        ? { pipelineId, email: { $in: query.emails.map((e) => normalizeEmail(e) ?? e) } }
        : { pipelineId, [`${query.side}.id`]: { $in: [...query.recordIds] } };
    const result = await this.collection.updateMany(filter, { $set: { resync: true, updatedAt: new Date() } });
    return result.matchedCount;
  }

  /** People flagged for resync, at most `limit`. */
  resyncs(pipelineId: string, limit: number): Promise<LinkDoc[]> {
    return this.collection.find({ pipelineId, resync: true }).limit(limit).toArray();
  }

  /** Inserts one link, or answers false when one of its records is already linked (a push: one person). */
  async tryInsert(doc: LinkDoc): Promise<boolean> {
    try {
      await this.collection.insertOne(doc);
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  /** Which of `docs`' record keys other link documents already hold (one query). */
  private async heldKeys(docs: readonly LinkDoc[]): Promise<Record<SideKey, Set<string>>> {
    const held = { left: new Set<string>(), right: new Set<string>() };
    if (docs.length === 0) return held;
    const ids = (side: SideKey) => docs.flatMap((d) => (d[side].id === undefined ? [] : [d[side].id as string]));
    const found = await this.collection
      .find(
        {
          pipelineId: { $in: [...new Set(docs.map((d) => d.pipelineId))] },
          _id: { $nin: docs.map((d) => d._id) },
          $or: [{ 'left.id': { $in: ids('left') } }, { 'right.id': { $in: ids('right') } }],
        },
        { projection: { pipelineId: 1, left: 1, right: 1 } },
      )
      .toArray();
    for (const doc of found) {
      for (const side of ['left', 'right'] as const) {
        const key = sideKey(doc, side);
        if (key) held[side].add(key);
      }
    }
    return held;
  }

  /** The same change to many links in one statement: a state for a whole page costs what one person's does. */
  async setMany(ids: readonly string[], set: Partial<LinkDoc>, unset: Array<keyof LinkDoc> = []): Promise<void> {
    if (ids.length === 0) return;
    await this.collection.updateMany(
      { _id: { $in: [...ids] } },
      {
        $set: { ...set, updatedAt: new Date() },
        ...(unset.length > 0 ? { $unset: Object.fromEntries(unset.map((k) => [k, ''])) } : {}),
      },
    );
  }

  /** One link's change (a push). For a page of people use `setMany` or `rewrite`. */
  async setOne(id: string, set: Partial<LinkDoc>, unset: Array<keyof LinkDoc> = []): Promise<void> {
    await this.setMany([id], set, unset);
  }

  /**
   * Replaces whole link documents (same _id, new content) with a constant number of statements per batch,
   * however many links change: journal the new documents, delete the old ones, insert the new ones, drop the
   * journal entry. A rewrite interrupted anywhere is finished by `finishRewrites` before the next cycle reads
   * any link. Only for a cycle, which holds the pipeline's lease and has just read these links; a person linked
   * by a push while its old document is briefly absent keeps the push's link (answered, not written back).
   */
  async rewrite(pipelineId: string, docs: readonly LinkDoc[]): Promise<LinkDoc[]> {
    const now = new Date();
    const taken: LinkDoc[] = [];
    for (let i = 0; i < docs.length; i += REWRITE_BATCH) {
      const batch = docs.slice(i, i + REWRITE_BATCH).map((d) => ({ ...d, updatedAt: now }));
      const entry: LinkJournalDoc = { _id: randomUUID(), pipelineId, at: now, links: batch };
      await this.journal.insertOne(entry);
      taken.push(...(await this.applyRewrite(entry)));
    }
    return taken;
  }

  /** Finishes rewrites a crash interrupted (see `rewrite`). Idempotent. */
  async finishRewrites(pipelineId: string): Promise<number> {
    const entries = await this.journal.find({ pipelineId }).toArray();
    for (const entry of entries) await this.applyRewrite(entry);
    return entries.reduce((n, e) => n + e.links.length, 0);
  }

  private async applyRewrite(entry: LinkJournalDoc): Promise<LinkDoc[]> {
    await this.collection.deleteMany({ _id: { $in: entry.links.map((d) => d._id) } });
    const taken = await this.insertExceptTaken(entry.links);
    await this.journal.deleteOne({ _id: entry._id });
    return taken;
  }

  async delete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.collection.deleteMany({ _id: { $in: [...ids] } });
  }

  /** Every link of a pipeline, and its unfinished rewrites (a reset or a deleted pipeline). */
  async deletePipeline(pipelineId: string): Promise<number> {
    const removed = await this.collection.deleteMany({ pipelineId });
    await this.journal.deleteMany({ pipelineId });
    return removed.deletedCount;
  }
}
