/**
 * One sync cycle of one pipeline: read each side's changes since its cursor, page by page; pair records by
 * link (new people by email); merge against the snapshot; write both sides in batches; save links and
 * snapshots; only then advance the cursor. Every step works on a whole page, so MongoDB and API work grow
 * with the number of changes, not with the database, and a crash re-reads at most one page.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  QuotaExhaustedError,
  type ActivityEvent,
  type ChangePage,
  type Connector,
  type FieldValues,
  type RejectionAction,
  type Rejection,
  type RemoteRecord,
  type Side,
  type WriteOp,
  type WriteResult,
} from '../plugin';
import { normalizeEmail, type ActivityDoc, type LinkDoc, type SyncStore } from '../repositories/sync-store';
import { mergeRecord, valuesForCreate, type CollisionResolver, type MergeResult } from './merge';
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

export type CycleOutcome = { status: 'succeeded' | 'partial' | 'failed'; error?: string };

/** Raised inside a cycle when the validation policy says to stop at a rejection. */
class HaltCycle extends Error {}

/** One pairing of a Marketo person with a Dynamics record, as built for a page. */
interface Pair {
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

interface LinkUpdate {
  id: string;
  set: Partial<LinkDoc>;
  unset?: Array<keyof LinkDoc>;
}

function newLinkDoc(pipelineId: string, dynamicsType: string, email: string | undefined): LinkDoc {
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
function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function describeFields(values: FieldValues): string {
  return Object.keys(values).join(', ');
}

export class SyncCycle {
  private readonly activity: Array<Omit<ActivityDoc, '_id'>> = [];
  private readonly marketoEvents: ActivityEvent[] = [];
  private retryLater = false;

  constructor(private readonly deps: CycleDeps) {}

  async run(
    cursors: Map<string, string>,
    cursorId: (system: string, objectType: string) => string,
  ): Promise<CycleOutcome> {
    const { deps } = this;
    const streams: Array<{ side: Side; objectType: string }> = [
      ...[...deps.plan.objects.keys()].map((objectType) => ({ side: 'dynamics' as const, objectType })),
      { side: 'marketo', objectType: MARKETO_OBJECT },
    ];
    await this.resolveStaleIntents();
    const failures: string[] = [];
    for (const stream of streams) {
      const connector = stream.side === 'marketo' ? deps.marketo : deps.dynamics;
      const id = cursorId(stream.side, stream.objectType);
      let cursor = cursors.get(id) ?? null;
      const fields =
        stream.side === 'marketo'
          ? deps.plan.marketoRead
          : (deps.plan.objects.get(stream.objectType)?.dynamicsRead ?? []);
      try {
        for await (const page of connector.readChanges(stream.objectType, cursor, { fields, signal: deps.signal })) {
          deps.signal.throwIfAborted();
          this.retryLater = false;
          await this.processPage(stream.side, stream.objectType, page);
          await this.flushActivity();
          if (this.retryLater) {
            // Something in this page failed in a way worth retrying: keep the cursor so the page is read again.
            failures.push(`${stream.side} ${stream.objectType}: some writes failed and will be retried next cycle`);
            break;
          }
          if (page.cursor !== cursor) {
            await deps.store.saveCursor(deps.pipelineId, stream.side, stream.objectType, page.cursor);
            cursor = page.cursor;
          }
          const progress = page.progress?.phase === 'initial' ? 'initial load' : 'changes';
          await deps.report(`${stream.side} ${stream.objectType}: ${progress}, ${deps.counts.read} read so far`);
        }
      } catch (error) {
        await this.flushActivity().catch(() => undefined);
        if (error instanceof HaltCycle) return { status: 'failed', error: error.message };
        if (error instanceof QuotaExhaustedError) {
          const when = error.resetsAt ? ` It resets at ${error.resetsAt.toISOString()}.` : '';
          return { status: 'failed', error: `${error.message}${when}` };
        }
        if (deps.signal.aborted) throw error;
        const message = error instanceof Error ? error.message : String(error);
        deps.logger.warn({ err: error, stream }, 'sync stream failed; the other streams go on');
        failures.push(`${stream.side} ${stream.objectType}: ${message}`);
      }
    }
    if (failures.length === 0) return { status: 'succeeded' };
    return { status: failures.length >= streams.length ? 'failed' : 'partial', error: failures.join('; ') };
  }

  // ---- crash recovery ------------------------------------------------------------------------------

  /**
   * Creates whose outcome was never recorded (the process died between intent and result) and whose page will
   * not come back: look the record up by email; adopt it if it exists, else drop the intent so the next change
   * creates it. Fresh intents are left alone: the re-read page handles them, and a push may be in flight.
   */
  private async resolveStaleIntents(): Promise<void> {
    const { deps } = this;
    const cutoff = Date.now() - 60_000;
    const stale = (await deps.store.pendingCreates(deps.pipelineId)).filter(
      (d) => d.createIntent !== undefined && d.createIntent.at.getTime() < cutoff && d.email !== undefined,
    );
    if (stale.length === 0) return;
    const updates: LinkUpdate[] = [];
    for (const doc of stale) {
      const side = doc.createIntent?.side;
      const email = doc.email as string;
      const found =
        side === 'marketo'
          ? await deps.marketo.findByEmail(MARKETO_OBJECT, [email], { fields: [deps.plan.marketoEmail] })
          : await deps.dynamics.findByEmail(doc.dynamicsType, [email], { fields: ['emailaddress1'] });
      const record = found[0];
      if (record) {
        updates.push({
          id: doc._id,
          set: { state: 'linked', ...(side === 'marketo' ? { marketoId: record.id } : { dynamicsId: record.id }) },
          unset: ['createIntent'],
        });
      } else if (side === 'marketo' ? doc.dynamicsId : doc.marketoId) {
        updates.push({ id: doc._id, set: { state: 'rejected' }, unset: ['createIntent'] });
      } else {
        await deps.store.deleteLink(doc._id);
      }
    }
    await deps.store.saveLinks(updates);
  }

  // ---- one page ------------------------------------------------------------------------------------

  private async processPage(side: Side, objectType: string, page: ChangePage): Promise<void> {
    const { deps } = this;
    deps.counts.read += page.records.length;
    if (side === 'dynamics') await this.handleDynamicsDeletes(objectType, page.deletedIds);
    if (page.records.length === 0) return;
    const pairs =
      side === 'dynamics'
        ? await this.pairDynamicsPage(objectType, page.records)
        : await this.pairMarketoPage(page.records);
    await this.executePairs(pairs, 0);
  }

  private async handleDynamicsDeletes(objectType: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const { deps } = this;
    const plan = deps.plan.objects.get(objectType);
    const links = (await deps.store.linksByDynamicsIds(deps.pipelineId, objectType, ids)).filter(
      (l) => l.state !== 'deleted',
    );
    if (links.length === 0) return;
    const flagOps: WriteOp[] = [];
    for (const link of links) {
      deps.counts.deleted += 1;
      this.log(
        link,
        'deleted',
        `Dynamics ${objectType} ${link.dynamicsId} was deleted; the Marketo person is kept and never re-created in Dynamics by the sync`,
      );
      if (link.marketoId && plan?.deletedFlagField) {
        flagOps.push({ kind: 'update', ref: link._id, id: link.marketoId, fields: { [plan.deletedFlagField]: true } });
      }
      if (link.marketoId) {
        this.marketoEvents.push({
          recordId: link.marketoId,
          type: 'deleted',
          at: new Date().toISOString(),
          summary: `Deleted in Microsoft Dynamics (${objectType})`,
          otherSystem: 'dynamics',
          ...(link.dynamicsId ? { otherId: link.dynamicsId } : {}),
        });
      }
    }
    if (flagOps.length > 0) await deps.marketo.write(MARKETO_OBJECT, flagOps, { signal: deps.signal });
    await deps.store.saveLinks(links.map((l) => ({ id: l._id, set: { state: 'deleted' } })));
  }

  /** Changed Dynamics records → pairs. Echoes of our own writes (equal to the snapshot) stop here. */
  private async pairDynamicsPage(objectType: string, records: RemoteRecord[]): Promise<Pair[]> {
    const { deps } = this;
    const plan = deps.plan.objects.get(objectType);
    if (!plan) return [];
    const links = await deps.store.linksByDynamicsIds(
      deps.pipelineId,
      objectType,
      records.map((r) => r.id),
    );
    const byDynamicsId = new Map(links.map((l) => [l.dynamicsId as string, l]));
    const pairs: Pair[] = [];
    const needMarketo: Array<{ record: RemoteRecord; doc: LinkDoc }> = [];
    const unlinked: Array<{ record: RemoteRecord; doc?: LinkDoc }> = [];
    for (const record of records) {
      const doc = byDynamicsId.get(record.id);
      if (doc?.state === 'linked' && doc.marketoId) {
        if (this.differsFromSnapshot(plan, doc.snapshot, record, 'dynamics')) needMarketo.push({ record, doc });
        else deps.counts.unchanged += 1;
      } else if (doc?.state === 'deleted') {
        deps.counts.unchanged += 1;
      } else {
        unlinked.push({ record, ...(doc ? { doc } : {}) });
      }
    }
    // The other side's current values, to merge field by field.
    const marketoRecords = await this.getMarketo(needMarketo.map((n) => n.doc.marketoId as string));
    for (const { record, doc } of needMarketo) {
      const marketo = marketoRecords.get(doc.marketoId as string);
      if (marketo) {
        pairs.push({ doc, isNew: false, plan, marketo, dynamics: record, action: 'merge', base: doc.snapshot });
      } else {
        // The Marketo person is gone: like Marketo's own sync, the Dynamics change brings it back as a new person.
        const { marketoId: _gone, ...rest } = doc;
        unlinked.push({ record, doc: { ...rest, snapshot: {} } });
      }
    }
    pairs.push(...(await this.pairUnlinked('dynamics', unlinked, objectType)));
    return pairs;
  }

  /** Changed Marketo persons → pairs. */
  private async pairMarketoPage(records: RemoteRecord[]): Promise<Pair[]> {
    const { deps } = this;
    const links = await deps.store.linksByMarketoIds(
      deps.pipelineId,
      records.map((r) => r.id),
    );
    const byMarketoId = new Map(links.map((l) => [l.marketoId as string, l]));
    const pairs: Pair[] = [];
    const needDynamics = new Map<string, Array<{ record: RemoteRecord; doc: LinkDoc }>>();
    const unlinked: Array<{ record: RemoteRecord; doc?: LinkDoc }> = [];
    for (const record of records) {
      const doc = byMarketoId.get(record.id);
      const plan = doc ? deps.plan.objects.get(doc.dynamicsType) : undefined;
      if (doc?.state === 'linked' && doc.dynamicsId && plan) {
        if (this.differsFromSnapshot(plan, doc.snapshot, record, 'marketo'))
          push(needDynamics, doc.dynamicsType, { record, doc });
        else deps.counts.unchanged += 1;
      } else if (doc?.state === 'deleted' || (doc?.state === 'linked' && !plan)) {
        // Deleted in Dynamics: never re-created by the sync (only a push creates it again).
        deps.counts.unchanged += 1;
      } else {
        unlinked.push({ record, ...(doc ? { doc } : {}) });
      }
    }
    const gone: LinkUpdate[] = [];
    for (const [dynamicsType, items] of needDynamics) {
      const plan = deps.plan.objects.get(dynamicsType) as ObjectPlan;
      const current = await this.getDynamics(
        dynamicsType,
        items.map((i) => i.doc.dynamicsId as string),
      );
      for (const { record, doc } of items) {
        const dynamics = current.get(doc.dynamicsId as string);
        if (dynamics) {
          pairs.push({ doc, isNew: false, plan, marketo: record, dynamics, action: 'merge', base: doc.snapshot });
        } else {
          // Deleted in Dynamics without us seeing the delete (no change tracking): treat it as a delete.
          gone.push({ id: doc._id, set: { state: 'deleted' } });
          deps.counts.deleted += 1;
          this.log(
            doc,
            'deleted',
            `Dynamics ${dynamicsType} ${doc.dynamicsId} no longer exists; the link is marked deleted`,
          );
        }
      }
    }
    await deps.store.saveLinks(gone);
    pairs.push(...(await this.pairUnlinked('marketo', unlinked, deps.newPersonAs)));
    return pairs;
  }

  /**
   * New people: match by email (trimmed, case-insensitive) on the other side before anything is created. A
   * Dynamics contact whose email belongs to a person linked to a lead takes the lead's place (a qualified lead).
   */
  private async pairUnlinked(
    side: Side,
    items: Array<{ record: RemoteRecord; doc?: LinkDoc }>,
    objectType: string,
  ): Promise<Pair[]> {
    if (items.length === 0) return [];
    const { deps } = this;
    const pairs: Pair[] = [];
    const withEmail: Array<{ record: RemoteRecord; doc?: LinkDoc; email: string }> = [];
    for (const item of items) {
      const plan = deps.plan.objects.get(side === 'dynamics' ? objectType : (item.doc?.dynamicsType ?? objectType));
      const emailField = side === 'dynamics' ? plan?.dynamicsEmail : deps.plan.marketoEmail;
      const email = normalizeEmail(emailField ? item.record.fields[emailField] : undefined);
      if (!email) {
        deps.counts.unchanged += 1;
        deps.logger.debug(
          { side, id: item.record.id },
          'record without email is not synced (people are matched by email)',
        );
        continue;
      }
      withEmail.push({ ...item, email });
    }
    if (withEmail.length === 0) return [];
    const emails = [...new Set(withEmail.map((i) => i.email))];
    const knownByEmail = new Map<string, LinkDoc>();
    for (const link of await deps.store.linksByEmails(deps.pipelineId, emails)) {
      if (link.state === 'linked' && link.marketoId && link.dynamicsId) knownByEmail.set(link.email as string, link);
    }

    if (side === 'dynamics') {
      const plan = deps.plan.objects.get(objectType) as ObjectPlan;
      const toFind: typeof withEmail = [];
      for (const item of withEmail) {
        const known = knownByEmail.get(item.email);
        if (known && known.dynamicsId !== item.record.id) {
          if (known.dynamicsType === 'lead' && objectType === 'contact') {
            // Qualified: the contact takes over the person's link from the lead.
            const marketo = (await this.getMarketo([known.marketoId as string])).get(known.marketoId as string);
            if (marketo) {
              if (item.doc) await deps.store.deleteLink(item.doc._id);
              const doc: LinkDoc = { ...known, dynamicsType: objectType, dynamicsId: item.record.id, snapshot: {} };
              pairs.push({
                doc,
                isNew: false,
                plan,
                marketo,
                dynamics: item.record,
                action: 'merge',
                base: undefined,
                setType: true,
              });
              this.log(
                doc,
                'linked',
                `Dynamics contact ${item.record.id} replaces lead ${known.dynamicsId} for this person`,
              );
              continue;
            }
          }
          deps.counts.unchanged += 1;
          this.log(
            { ...known, dynamicsId: item.record.id, dynamicsType: objectType },
            'skipped',
            `Not synced: Marketo person ${known.marketoId} with this email is already linked to Dynamics ${known.dynamicsType} ${known.dynamicsId}`,
          );
          continue;
        }
        toFind.push(item);
      }
      const found = await this.findMarketoByEmail(toFind.map((i) => i.email));
      const taken = await deps.store.linksByMarketoIds(
        deps.pipelineId,
        [...found.values()].map((r) => r.id),
      );
      const takenIds = new Set(taken.filter((l) => l.state === 'linked' && l.dynamicsId).map((l) => l.marketoId));
      for (const item of toFind) {
        const marketo = found.get(item.email);
        const doc = item.doc ?? newLinkDoc(deps.pipelineId, objectType, item.email);
        doc.dynamicsId = item.record.id;
        doc.dynamicsType = objectType;
        doc.email = item.email;
        if (marketo && !takenIds.has(marketo.id)) {
          doc.marketoId = marketo.id;
          pairs.push({
            doc,
            isNew: !item.doc,
            plan,
            marketo,
            dynamics: item.record,
            action: 'merge',
            base: undefined,
            setType: true,
          });
          takenIds.add(marketo.id);
        } else if (!marketo) {
          pairs.push({
            doc,
            isNew: !item.doc,
            plan,
            dynamics: item.record,
            action: 'create-marketo',
            base: undefined,
            setType: true,
          });
        } else deps.counts.unchanged += 1;
      }
      return pairs;
    }

    // Marketo side: a person unknown to Dynamics: look for a contact, then a lead, with that email.
    const toFind = withEmail.filter((item) => {
      const known = knownByEmail.get(item.email);
      if (known && known.marketoId !== item.record.id) {
        deps.counts.unchanged += 1;
        this.log(
          { ...known, marketoId: item.record.id },
          'skipped',
          `Not synced: another Marketo person (${known.marketoId}) with this email is already linked to Dynamics ${known.dynamicsType} ${known.dynamicsId}`,
        );
        return false;
      }
      return true;
    });
    const matches = new Map<string, { type: string; record: RemoteRecord }>();
    for (const type of ['contact', 'lead']) {
      if (!deps.plan.objects.has(type)) continue;
      const remaining = toFind.map((i) => i.email).filter((e) => !matches.has(e));
      for (const [email, record] of await this.findDynamicsByEmail(type, remaining))
        matches.set(email, { type, record });
    }
    const candidates = new Map<string, string[]>();
    for (const { type, record } of matches.values()) push(candidates, type, record.id);
    const takenDynamics = new Set<string>();
    for (const [type, ids] of candidates) {
      for (const l of await deps.store.linksByDynamicsIds(deps.pipelineId, type, ids)) {
        if (l.marketoId && l.state === 'linked') takenDynamics.add(`${type}:${l.dynamicsId}`);
      }
    }
    for (const item of toFind) {
      const match = matches.get(item.email);
      if (match && !takenDynamics.has(`${match.type}:${match.record.id}`)) {
        const plan = deps.plan.objects.get(match.type) as ObjectPlan;
        const doc = item.doc ?? newLinkDoc(deps.pipelineId, match.type, item.email);
        Object.assign(doc, {
          marketoId: item.record.id,
          dynamicsId: match.record.id,
          dynamicsType: match.type,
          email: item.email,
        });
        pairs.push({
          doc,
          isNew: !item.doc,
          plan,
          marketo: item.record,
          dynamics: match.record,
          action: 'merge',
          base: undefined,
          setType: true,
        });
        takenDynamics.add(`${match.type}:${match.record.id}`);
      } else if (!match) {
        const type = deps.plan.objects.has(objectType) ? objectType : ([...deps.plan.objects.keys()][0] as string);
        const plan = deps.plan.objects.get(type) as ObjectPlan;
        const doc = item.doc ?? newLinkDoc(deps.pipelineId, type, item.email);
        Object.assign(doc, { marketoId: item.record.id, dynamicsType: type, email: item.email });
        pairs.push({
          doc,
          isNew: !item.doc,
          plan,
          marketo: item.record,
          action: 'create-dynamics',
          base: undefined,
          setType: true,
        });
      } else deps.counts.unchanged += 1;
    }
    return pairs;
  }

  // ---- writing -------------------------------------------------------------------------------------

  /**
   * Merges, records create intents, writes both sides in batches and saves the outcome. Pairs whose Dynamics
   * write met a 412 (changed since read) are re-read and merged once more.
   */
  private async executePairs(pairs: Pair[], attempt: number): Promise<void> {
    if (pairs.length === 0) return;
    const { deps } = this;
    const marketoOps: WriteOp[] = [];
    const dynamicsOps = new Map<string, WriteOp[]>();
    const merges = new Map<string, MergeResult>();
    const creates = new Map<string, { values: FieldValues; snapshot: FieldValues }>();
    const addDynamicsOp = (type: string, op: WriteOp) => push(dynamicsOps, type, op);

    // The intents are stored before any create is built, so a create that lost a race is never sent.
    await this.recordCreateIntents(
      pairs.filter((p) => p.action === 'create-marketo' || p.action === 'create-dynamics'),
    );

    for (const pair of pairs) {
      const ref = pair.doc._id;
      if (pair.action === 'merge' && pair.marketo && pair.dynamics) {
        const merge = mergeRecord({
          pipelineId: deps.pipelineId,
          plan: pair.plan,
          base: pair.base,
          marketo: pair.marketo,
          dynamics: pair.dynamics,
          resolve: deps.resolveCollision,
        });
        merges.set(ref, merge);
        const toMarketo = { ...merge.toMarketo, ...this.typeFieldValue(pair) };
        if (Object.keys(toMarketo).length > 0) {
          marketoOps.push({ kind: 'update', ref, id: pair.marketo.id, fields: toMarketo });
        }
        if (Object.keys(merge.toDynamics).length > 0) {
          addDynamicsOp(pair.plan.dynamicsType, {
            kind: 'update',
            ref,
            id: pair.dynamics.id,
            fields: merge.toDynamics,
            ...(pair.dynamics.etag ? { etag: pair.dynamics.etag } : {}),
          });
        }
        for (const c of merge.collisions) {
          deps.counts.conflicts += 1;
          this.log(
            pair.doc,
            'conflict',
            `${c.marketoField} changed on both sides (Marketo "${String(c.marketoValue)}", Dynamics "${String(c.dynamicsValue)}"); ${c.winner} wins`,
          );
        }
      } else if (pair.action === 'create-marketo' && pair.dynamics) {
        const create = valuesForCreate(pair.plan, pair.dynamics, 'marketo');
        creates.set(ref, create);
        marketoOps.push({ kind: 'create', ref, fields: { ...create.values, ...this.typeFieldValue(pair) } });
      } else if (pair.action === 'create-dynamics' && pair.marketo) {
        const create = valuesForCreate(pair.plan, pair.marketo, 'dynamics');
        creates.set(ref, create);
        addDynamicsOp(pair.plan.dynamicsType, { kind: 'create', ref, fields: create.values });
      }
    }

    const [marketoResults, ...dynamicsResults] = await Promise.all([
      marketoOps.length > 0
        ? deps.marketo.write(MARKETO_OBJECT, marketoOps, { signal: deps.signal })
        : Promise.resolve([]),
      ...[...dynamicsOps].map(([type, ops]) => deps.dynamics.write(type, ops, { signal: deps.signal })),
    ]);
    const marketoByRef = new Map((marketoResults ?? []).map((r) => [r.ref, r]));
    const dynamicsByRef = new Map(dynamicsResults.flat().map((r) => [r.ref, r]));

    const updates: LinkUpdate[] = [];
    const inserts: LinkDoc[] = [];
    const retry: Pair[] = [];
    const rejections: Rejection[] = [];
    for (const pair of pairs) {
      if (pair.action === 'skip') continue;
      const ref = pair.doc._id;
      const m = marketoByRef.get(ref);
      const d = dynamicsByRef.get(ref);
      if (d?.status === 'conflict' && attempt === 0) {
        retry.push(pair);
        continue;
      }
      const outcome = this.outcomeOf(pair, m, d, merges.get(ref), creates.get(ref), rejections);
      if (outcome === null) continue;
      if (pair.isNew && pair.action === 'merge') inserts.push({ ...pair.doc, ...outcome.set });
      else updates.push({ id: ref, ...outcome });
    }
    await this.saveLinkChanges(inserts, updates);
    for (const rejection of rejections) {
      if (deps.onRejected(rejection) === 'halt') {
        throw new HaltCycle(`Stopped at a rejected write (validation-handling mode "halt"): ${rejection.message}`);
      }
    }
    if (retry.length > 0) await this.retryConflicts(retry);
  }

  private typeFieldValue(pair: Pair): FieldValues {
    const field = pair.plan.typeField;
    if (!pair.setType || !field) return {};
    if (pair.marketo && valuesEqual(pair.marketo.fields[field], pair.plan.dynamicsType)) return {};
    return { [field]: pair.plan.dynamicsType };
  }

  /** Before a remote create: the intent is in MongoDB, so a retry after a crash looks the record up first. */
  private async recordCreateIntents(pairs: Pair[]): Promise<void> {
    if (pairs.length === 0) return;
    const { deps } = this;
    const at = new Date();
    const fresh: LinkDoc[] = [];
    const existing: LinkUpdate[] = [];
    for (const pair of pairs) {
      const side: Side = pair.action === 'create-marketo' ? 'marketo' : 'dynamics';
      pair.doc.state = 'creating';
      pair.doc.createIntent = { side, at, runId: deps.runId };
      if (pair.isNew) fresh.push(pair.doc);
      else {
        const { _id, createdAt: _c, updatedAt: _u, ...rest } = pair.doc;
        existing.push({ id: _id, set: rest, unset: side === 'marketo' ? ['marketoId'] : ['dynamicsId'] });
      }
    }
    await deps.store.saveLinks(existing);
    try {
      await deps.store.insertLinks(fresh);
    } catch {
      // Someone (a push) linked one of these people meanwhile: insert one by one and drop the ones taken.
      for (const doc of fresh) {
        if (await deps.store.links.findOne({ _id: doc._id })) continue;
        if (!(await deps.store.tryInsertLink(doc))) {
          const pair = pairs.find((p) => p.doc._id === doc._id);
          if (pair) pair.action = 'skip';
        }
      }
    }
  }

  /** What a pair's write results mean for its link, its counts and its activity log. */
  private outcomeOf(
    pair: Pair,
    m: WriteResult | undefined,
    d: WriteResult | undefined,
    merge: MergeResult | undefined,
    create: { values: FieldValues; snapshot: FieldValues } | undefined,
    rejections: Rejection[],
  ): { set: Partial<LinkDoc>; unset?: Array<keyof LinkDoc> } | null {
    const { deps } = this;
    const doc = pair.doc;
    const failed = [m, d].filter((r) => r?.status === 'failed' || r?.status === 'conflict');
    for (const f of failed) {
      deps.counts.failed += 1;
      if (f?.status === 'conflict' || (f?.status === 'failed' && f.retryable)) this.retryLater = true;
    }
    const rejected = [
      ...(m?.status === 'rejected' ? [{ side: 'marketo' as const, r: m }] : []),
      ...(d?.status === 'rejected' ? [{ side: 'dynamics' as const, r: d }] : []),
    ];
    for (const { side, r } of rejected) {
      deps.counts.rejected += 1;
      const where = side === 'dynamics' ? `Dynamics ${pair.plan.dynamicsType}` : 'Marketo';
      this.log(doc, 'rejected', `${where} rejected the write: ${r.message} (${r.code})`);
      rejections.push({
        pipelineId: deps.pipelineId,
        system: side,
        objectType: side === 'dynamics' ? pair.plan.dynamicsType : MARKETO_OBJECT,
        ...(side === 'dynamics'
          ? doc.dynamicsId
            ? { recordId: doc.dynamicsId }
            : {}
          : doc.marketoId
            ? { recordId: doc.marketoId }
            : {}),
        code: r.code,
        message: r.message,
      });
      if (side === 'dynamics' && doc.marketoId) {
        this.marketoEvents.push({
          recordId: doc.marketoId,
          type: 'rejected',
          at: new Date().toISOString(),
          summary: `Microsoft Dynamics ${pair.plan.dynamicsType} rejected the sync`,
          detail: `${r.message} (${r.code})`,
          otherSystem: 'dynamics',
          ...(doc.dynamicsId ? { otherId: doc.dynamicsId } : {}),
        });
      }
    }
    const rejection = rejected[0]
      ? { side: rejected[0].side, code: rejected[0].r.code, message: rejected[0].r.message, at: new Date() }
      : undefined;

    if (pair.action === 'merge' && merge) {
      // Fields whose write did not land keep their old snapshot value, so the next change of the source retries them.
      const snapshot = { ...merge.snapshot };
      const mOk = !m || m.status === 'updated' || m.status === 'created';
      const dOk = !d || d.status === 'updated' || d.status === 'created';
      const revert = (fields: string[]) => {
        for (const f of fields) {
          if (pair.base && f in pair.base) snapshot[f] = pair.base[f] ?? null;
          else delete snapshot[f];
        }
      };
      if (!mOk) revert(Object.keys(merge.toMarketo));
      if (!dOk) revert(pair.plan.fields.filter((f) => f.dynamics in merge.toDynamics).map((f) => f.marketo));
      if (m?.status === 'not-found' || d?.status === 'not-found') {
        deps.counts.failed += 1;
        const missing = m?.status === 'not-found' ? m : d?.status === 'not-found' ? d : undefined;
        this.log(doc, 'failed', `The record to update no longer exists (${missing?.message ?? ''})`);
      }
      const wrote = (m && mOk) || (d && dOk);
      if (wrote) {
        deps.counts.updated += 1;
        const changes = [
          ...(m && mOk && Object.keys(merge.toMarketo).length > 0
            ? [`Marketo: ${describeFields(merge.toMarketo)}`]
            : []),
          ...(d && dOk ? [`Dynamics ${pair.plan.dynamicsType}: ${describeFields(merge.toDynamics)}`] : []),
        ];
        if (changes.length > 0) this.log(doc, 'updated', `Updated ${changes.join('; ')}`);
      } else if (!m && !d) {
        deps.counts.unchanged += 1;
      }
      if (pair.isNew)
        this.log(doc, 'linked', `Linked by email to Dynamics ${pair.plan.dynamicsType} ${doc.dynamicsId}`);
      return {
        set: {
          state: 'linked',
          snapshot,
          dynamicsType: doc.dynamicsType,
          ...(doc.marketoId ? { marketoId: doc.marketoId } : {}),
          ...(doc.dynamicsId ? { dynamicsId: doc.dynamicsId } : {}),
          ...(doc.email ? { email: doc.email } : {}),
          ...(rejection ? { rejection } : {}),
        },
        unset: rejection ? ['createIntent'] : ['createIntent', 'rejection'],
      };
    }
    if (pair.action !== 'merge' && create) {
      const result = pair.action === 'create-marketo' ? m : d;
      if (result?.status === 'created') {
        deps.counts.created += 1;
        const target = pair.action === 'create-marketo' ? 'Marketo' : `Dynamics ${pair.plan.dynamicsType}`;
        const withId =
          pair.action === 'create-marketo' ? { ...doc, marketoId: result.id } : { ...doc, dynamicsId: result.id };
        this.log(withId, 'created', `Created in ${target} (${result.id})`);
        return {
          set: {
            state: 'linked',
            snapshot: create.snapshot,
            ...(pair.action === 'create-marketo' ? { marketoId: result.id } : { dynamicsId: result.id }),
          },
          unset: ['createIntent', 'rejection'],
        };
      }
      if (result?.status === 'rejected')
        return { set: { state: 'rejected', ...(rejection ? { rejection } : {}) }, unset: ['createIntent'] };
      // Failed or not sent: the intent stays; the next read of this page looks the record up before creating.
      return null;
    }
    return null;
  }

  private async saveLinkChanges(inserts: LinkDoc[], updates: LinkUpdate[]): Promise<void> {
    const { deps } = this;
    try {
      await deps.store.insertLinks(inserts);
    } catch {
      for (const doc of inserts) {
        if (!(await deps.store.tryInsertLink(doc))) {
          deps.logger.info({ email: doc.email }, 'person was linked by another writer meanwhile; left as is');
        }
      }
    }
    await deps.store.saveLinks(updates);
  }

  private async retryConflicts(pairs: Pair[]): Promise<void> {
    const { deps } = this;
    const byType = new Map<string, Pair[]>();
    for (const p of pairs) push(byType, p.plan.dynamicsType, p);
    const again: Pair[] = [];
    for (const [type, items] of byType) {
      const fresh = await this.getDynamics(
        type,
        items.map((p) => p.dynamics?.id ?? ''),
      );
      for (const p of items) {
        const dynamics = p.dynamics ? fresh.get(p.dynamics.id) : undefined;
        if (dynamics) again.push({ ...p, dynamics });
      }
    }
    deps.logger.info({ count: again.length }, 'records changed in Dynamics since read (412); merging again');
    await this.executePairs(again, 1);
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private differsFromSnapshot(plan: ObjectPlan, snapshot: FieldValues, record: RemoteRecord, side: Side): boolean {
    for (const f of plan.fields) {
      const name = side === 'marketo' ? f.marketo : f.dynamics;
      if (!(name in record.fields)) continue;
      if (!(f.marketo in snapshot) || !valuesEqual(record.fields[name], snapshot[f.marketo])) return true;
    }
    return false;
  }

  private async getMarketo(ids: string[]): Promise<Map<string, RemoteRecord>> {
    if (ids.length === 0) return new Map();
    const records = await this.deps.marketo.get(MARKETO_OBJECT, ids, {
      fields: this.deps.plan.marketoRead,
      signal: this.deps.signal,
    });
    return new Map(records.map((r) => [r.id, r]));
  }

  private async getDynamics(type: string, ids: string[]): Promise<Map<string, RemoteRecord>> {
    const plan = this.deps.plan.objects.get(type);
    if (ids.length === 0 || !plan) return new Map();
    const records = await this.deps.dynamics.get(type, ids, { fields: plan.dynamicsRead, signal: this.deps.signal });
    return new Map(records.map((r) => [r.id, r]));
  }

  /** email → the Marketo person (the oldest when several share it). */
  private async findMarketoByEmail(emails: string[]): Promise<Map<string, RemoteRecord>> {
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

  private async findDynamicsByEmail(type: string, emails: string[]): Promise<Map<string, RemoteRecord>> {
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

  private log(link: Pick<LinkDoc, 'marketoId' | 'dynamicsId' | 'dynamicsType'>, type: string, detail: string): void {
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

  private async flushActivity(): Promise<void> {
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
