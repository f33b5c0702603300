/**
 * What one cycle's parts share: its dependencies, the activity entries and Marketo events it has yet to save,
 * and the look-ups of the other side's current records (always whole batches, never one per person).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ActivityEvent, Connector, FieldValues, RejectionAction, Rejection, RemoteRecord, Side } from '../plugin';
import { normalizeEmail, type ActivityDoc, type LinkDoc, type SyncStore } from '../repositories/sync-store';
import type { CollisionResolver } from './merge';
import type { ObjectPlan, SyncPlan } from './plan';
import type { RunCounts } from './service';
import { valuesEqual } from './values';

export const MARKETO_OBJECT = 'lead';

export interface CycleDeps {
  pipelineId: string;
  runId: string;
  store: SyncStore;
  marketo: Connector;
  dynamics: Connector;
  plan: SyncPlan;
  newPersonAs: string;
  resolveCollision: CollisionResolver;
  onRejected: (rejection: Rejection) => RejectionAction;
  logger: Logger;
  counts: RunCounts;
  signal: AbortSignal;
  /** Persists counts and progress (called after each page). */
  report(progress: string): Promise<void>;
}

export type CycleOutcome = {
  status: 'succeeded' | 'partial' | 'failed';
  error?: string;
  /** A system no longer has a field the plan reads or writes (deleted since it was described): plan again. */
  fieldsChanged?: boolean;
};

/** Raised inside a cycle when the validation policy says to stop at a rejection. */
export class HaltCycle extends Error {}

/** One pairing of a Marketo person with a Dynamics record, as built for a page. */
export interface Pair {
  doc: LinkDoc;
  /** The link document does not exist in MongoDB yet. */
  isNew: boolean;
  plan: ObjectPlan;
  marketo?: RemoteRecord;
  dynamics?: RemoteRecord;
  /** What to do: merge two existing records, create the missing side, or nothing (someone else took it). */
  action: 'merge' | 'create-marketo' | 'create-dynamics' | 'skip';
  /** The snapshot to merge against (undefined: first link of this pair). */
  base: FieldValues | undefined;
  /** Set the Marketo "Microsoft Type" field as part of this write. */
  setType?: boolean;
}

export interface LinkUpdate {
  id: string;
  set: Partial<LinkDoc>;
  unset?: Array<keyof LinkDoc>;
}

export function newLinkDoc(pipelineId: string, dynamicsType: string, email: string | undefined): LinkDoc {
  const now = new Date();
  return {
    _id: randomUUID(),
    pipelineId,
    dynamicsType,
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

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function describeFields(values: FieldValues): string {
  return Object.keys(values).join(', ');
}
/**
 * Links paired by earlier streams of the write set being built, not saved yet. Later streams treat them as
 * saved: a person already paired is not paired twice, and an email or record already taken is not taken
 * again, as if each stream's writes had been saved before the next stream was paired.
 */
export class PendingLinks {
  private readonly ids = new Set<string>();
  private readonly marketoIds = new Set<string>();
  private readonly dynamicsKeys = new Set<string>();
  private readonly emails = new Map<string, LinkDoc>();

  add(pairs: readonly Pair[]): void {
    for (const { doc, action } of pairs) {
      if (action === 'skip') continue;
      this.ids.add(doc._id);
      if (doc.marketoId) this.marketoIds.add(doc.marketoId);
      if (doc.dynamicsId) this.dynamicsKeys.add(`${doc.dynamicsType}:${doc.dynamicsId}`);
      if (doc.email) this.emails.set(doc.email, doc);
    }
  }

  clear(): void {
    this.ids.clear();
    this.marketoIds.clear();
    this.dynamicsKeys.clear();
    this.emails.clear();
  }

  hasLink(id: string): boolean {
    return this.ids.has(id);
  }

  hasMarketo(id: string): boolean {
    return this.marketoIds.has(id);
  }

  hasDynamics(type: string, id: string): boolean {
    return this.dynamicsKeys.has(`${type}:${id}`);
  }

  byEmail(email: string): LinkDoc | undefined {
    return this.emails.get(email);
  }
}

export class CycleContext {
  readonly activity: Array<Omit<ActivityDoc, '_id'>> = [];
  /** Links paired earlier in the current write set (see PendingLinks). */
  readonly pending = new PendingLinks();
  readonly marketoEvents: ActivityEvent[] = [];
  /** Set when something in the current page failed in a way worth retrying: its cursor is not advanced. */
  retryLater = false;

  constructor(readonly deps: CycleDeps) {}

  differsFromSnapshot(plan: ObjectPlan, snapshot: FieldValues, record: RemoteRecord, side: Side): boolean {
    for (const f of plan.fields) {
      const name = side === 'marketo' ? f.marketo : f.dynamics;
      if (!(name in record.fields)) continue;
      if (!(f.marketo in snapshot) || !valuesEqual(record.fields[name], snapshot[f.marketo])) return true;
    }
    return false;
  }

  async getMarketo(ids: string[]): Promise<Map<string, RemoteRecord>> {
    if (ids.length === 0) return new Map();
    const records = await this.deps.marketo.get(MARKETO_OBJECT, ids, {
      fields: this.deps.plan.marketoRead,
      signal: this.deps.signal,
    });
    return new Map(records.map((r) => [r.id, r]));
  }

  async getDynamics(type: string, ids: string[]): Promise<Map<string, RemoteRecord>> {
    const plan = this.deps.plan.objects.get(type);
    if (ids.length === 0 || !plan) return new Map();
    const records = await this.deps.dynamics.get(type, ids, { fields: plan.dynamicsRead, signal: this.deps.signal });
    return new Map(records.map((r) => [r.id, r]));
  }

  /** email → the Marketo person (the oldest when several share it). */
  async findMarketoByEmail(emails: string[]): Promise<Map<string, RemoteRecord>> {
    const out = new Map<string, RemoteRecord>();
    if (emails.length === 0) return out;
    const emailField = this.deps.plan.marketoEmail;
    for (const part of chunk(emails, 300)) {
      const found = await this.deps.marketo.findByEmail(MARKETO_OBJECT, part, {
        fields: this.deps.plan.marketoRead,
        signal: this.deps.signal,
      });
      for (const r of found.sort((a, b) => Number(a.id) - Number(b.id))) {
        const email = normalizeEmail(r.fields[emailField]);
        if (email && !out.has(email)) out.set(email, r);
      }
    }
    return out;
  }

  async findDynamicsByEmail(type: string, emails: string[]): Promise<Map<string, RemoteRecord>> {
    const out = new Map<string, RemoteRecord>();
    const plan = this.deps.plan.objects.get(type);
    if (emails.length === 0 || !plan) return out;
    const found = await this.deps.dynamics.findByEmail(type, emails, {
      fields: plan.dynamicsRead,
      signal: this.deps.signal,
    });
    for (const r of found) {
      const email = normalizeEmail(r.fields[plan.dynamicsEmail]);
      if (email && !out.has(email)) out.set(email, r);
    }
    return out;
  }

  log(link: Pick<LinkDoc, 'marketoId' | 'dynamicsId' | 'dynamicsType'>, type: string, detail: string): void {
    this.activity.push({
      pipelineId: this.deps.pipelineId,
      at: new Date(),
      type,
      runId: this.deps.runId,
      ...(link.marketoId ? { marketoId: link.marketoId } : {}),
      ...(link.dynamicsId ? { dynamicsId: link.dynamicsId, dynamicsType: link.dynamicsType } : {}),
      detail,
    });
  }

  async flushActivity(): Promise<void> {
    const entries = this.activity.splice(0);
    const events = this.marketoEvents.splice(0);
    await this.deps.store.appendActivity(entries);
    if (events.length > 0 && this.deps.marketo.logActivity) {
      try {
        await this.deps.marketo.logActivity(MARKETO_OBJECT, events, this.deps.signal);
      } catch (error) {
        // The activity log in MongoDB has it; Marketo's copy is a convenience and must not stop the cycle.
        this.deps.logger.warn({ err: error }, 'could not post sync events to the Marketo activity log');
      }
    }
  }
}
