/**
 * What one cycle's stages share: their dependencies, the shapes they hand each other (pairs, activity notes),
 * and the look-ups of the other side's current records, always whole batches, never one per person.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ActivityEvent, Collision, FieldValues, Rejection, RejectionAction, RemoteRecord } from '../plugin';
import { normalizeEmail, type LinkDoc, type LinkSide, type SyncStore } from '../repositories/sync-store';
import type { SideProgress } from '../repositories/runs';
import type { FieldPlan, ObjectPairPlan } from './field-plan';
import type { Counts, PerSide, PipelineSide, SideKey } from './model';

export interface CycleDeps {
  pipelineId: string;
  runId: string;
  store: SyncStore;
  sides: PerSide<PipelineSide>;
  plan: FieldPlan;
  /** The winning connection id of a collision (the collision policy, else the most recent change). */
  resolveCollision(collision: Collision): string;
  onRejected(rejection: Rejection): RejectionAction;
  logger: Logger;
  signal: AbortSignal;
  /** Plan only: read and pair, then describe the writes instead of making them; nothing is saved. */
  dryRun?: boolean;
  /** Persists the run's running totals and what it is doing (after each write set). */
  report(progress: { counts: Counts; sides: Record<string, SideProgress>; text: string }): Promise<void>;
}

/** Raised inside a cycle when the validation policy says to stop at a rejection. */
export class HaltCycle extends Error {}

/** One person's records as a stage pairs them, with what to do. */
export interface Pair {
  doc: LinkDoc;
  /** The link document does not exist in MongoDB yet. */
  isNew: boolean;
  plan: ObjectPairPlan;
  records: Partial<PerSide<RemoteRecord>>;
  /** Merge two existing records, create the missing side (`createOn`), or nothing (someone else took it). */
  action: 'merge' | 'create' | 'skip';
  createOn?: SideKey;
  /** The snapshot to merge against (undefined: first link of this pair). */
  base: FieldValues | undefined;
  /** First pairing: set the pair's type field as part of this write. */
  setType?: boolean;
}

/** An entry for the person's activity log, before the cycle stamps it with its run and time. */
export interface ActivityNote {
  link: Pick<LinkDoc, 'left' | 'right' | 'email'>;
  type: string;
  detail: string;
  side?: SideKey;
  code?: string;
}

/** An event to post to a side's own activity log (a Marketo custom activity), for systems that keep one. */
export interface RemoteEventNote {
  side: SideKey;
  objectType: string;
  event: ActivityEvent;
}

export function newLinkDoc(pipelineId: string, types: PerSide<string>, email: string | undefined): LinkDoc {
  const now = new Date();
  return {
    _id: randomUUID(),
    pipelineId,
    left: { type: types.left },
    right: { type: types.right },
    ...(email ? { email } : {}),
    state: 'creating',
    snapshot: {},
    createdAt: now,
    updatedAt: now,
  };
}

/** Appends to the list under `key` in place (no copy per item: pages hold thousands of records). */
export function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export function describeFields(values: FieldValues): string {
  return Object.keys(values).join(', ');
}

/** How a message names one side's record: `Dynamics contact 7f3c…`. */
export function recordName(side: PipelineSide, link: LinkSide): string {
  return `${side.label} ${link.type}${link.id ? ` ${link.id}` : ''}`;
}

/**
 * Links paired by earlier streams of the write set being built, not saved yet. Later streams treat them as
 * saved: a person already paired is not paired twice, and an email or record already taken is not taken
 * again, as if each stream's writes had been saved before the next stream was paired.
 */
export class PendingLinks {
  private readonly ids = new Set<string>();
  private readonly records = new Set<string>();
  private readonly emails = new Map<string, LinkDoc>();

  private static key(side: SideKey, type: string, id: string): string {
    return `${side}|${type}|${id}`;
  }

  add(pairs: readonly Pair[]): void {
    for (const { doc, action } of pairs) {
      if (action === 'skip') continue;
      this.ids.add(doc._id);
      for (const side of ['left', 'right'] as const) {
        const { type, id } = doc[side];
        if (id) this.records.add(PendingLinks.key(side, type, id));
      }
      if (doc.email) this.emails.set(doc.email, doc);
    }
  }

  clear(): void {
    this.ids.clear();
    this.records.clear();
    this.emails.clear();
  }

  hasLink(id: string): boolean {
    return this.ids.has(id);
  }

  hasRecord(side: SideKey, type: string, id: string): boolean {
    return this.records.has(PendingLinks.key(side, type, id));
  }

  byEmail(email: string): LinkDoc | undefined {
    return this.emails.get(email);
  }
}

/** Batched reads of one side's current records, as the stages need them. */
export class Lookups {
  constructor(private readonly deps: CycleDeps) {}

  /** Records by id, of `side`'s `type`, with the fields the plan reads there. */
  async get(side: SideKey, type: string, ids: readonly string[]): Promise<Map<string, RemoteRecord>> {
    if (ids.length === 0) return new Map();
    const { connector } = this.deps.sides[side];
    const records = await connector.get(type, [...new Set(ids)], {
      fields: this.deps.plan.read(side, type),
      signal: this.deps.signal,
      scope: this.deps.pipelineId,
    });
    return new Map(records.map((r) => [r.id, r]));
  }

  /**
   * email → the record of `side`'s `type` holding it; where several do, the oldest when the connector says how
   * its ids age (Marketo's numeric ids), else the first found.
   */
  async findByEmail(side: SideKey, type: string, emails: readonly string[]): Promise<Map<string, RemoteRecord>> {
    const out = new Map<string, RemoteRecord>();
    if (emails.length === 0) return out;
    const { connector } = this.deps.sides[side];
    const emailField = this.deps.plan.email(side, type);
    if (!emailField) return out;
    const found = await connector.findByEmail(type, [...new Set(emails)], {
      fields: this.deps.plan.read(side, type),
      signal: this.deps.signal,
      scope: this.deps.pipelineId,
    });
    const order = connector.idOrder;
    if (order === 'numeric') found.sort((a, b) => Number(a.id) - Number(b.id));
    else if (order === 'string') found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const record of found) {
      const email = normalizeEmail(record.fields[emailField]);
      if (email && !out.has(email)) out.set(email, record);
    }
    return out;
  }
}
