/**
 * Writing a page's pairs: merge, store create intents, write both sides in batches, then save what the
 * results mean for each link, its counts and its activity log. A 412 re-reads and merges once more.
 */
import type { FieldValues, Rejection, Side, WriteOp, WriteResult } from '../plugin';
import type { LinkDoc } from '../repositories/sync-store';
import { mergeRecord, valuesForCreate, type MergeResult } from './merge';
import {
  describeFields,
  HaltCycle,
  MARKETO_OBJECT,
  push,
  type CycleContext,
  type LinkUpdate,
  type Pair,
} from './cycle-context';
import { valuesEqual } from './values';

/** The records of one person that a write set left exactly as its snapshot says. */
interface InSync {
  dynamicsType: string;
  marketoId?: string;
  dynamicsId?: string;
  /**
   * What the Marketo person now holds, as far as the engine knows: its fields as read, then the saved snapshot
   * (the synced fields, which both writes landed).
   */
  marketoHolds: FieldValues;
}

/** A link document with an outcome's `$set`/`$unset` applied, as MongoDB would apply them. */
function withUpdate(doc: LinkDoc, update: Omit<LinkUpdate, 'id'>): LinkDoc {
  const next: LinkDoc = { ...doc, ...update.set };
  for (const key of update.unset ?? []) delete next[key];
  return next;
}

export class PairWriter {
  constructor(private readonly ctx: CycleContext) {}

  /**
   * Merges, records create intents, writes both sides in batches and saves the outcome. Pairs whose Dynamics
   * write met a 412 (changed since read) are re-read and merged once more.
   */
  async executePairs(pairs: Pair[], attempt: number): Promise<void> {
    if (pairs.length === 0) return;
    const { deps } = this.ctx;
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
          this.ctx.log(
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

    const [marketoResults, dynamicsResults] = await Promise.all([
      marketoOps.length > 0
        ? deps.marketo.write(MARKETO_OBJECT, marketoOps, { signal: deps.signal })
        : Promise.resolve([]),
      this.writeDynamics(dynamicsOps),
    ]);
    const marketoByRef = new Map((marketoResults ?? []).map((r) => [r.ref, r]));
    const dynamicsByRef = new Map(dynamicsResults.flat().map((r) => [r.ref, r]));

    const rewrites: LinkDoc[] = [];
    const inserts: LinkDoc[] = [];
    const retry: Pair[] = [];
    const rejections: Rejection[] = [];
    /** Per link: the records whose snapshot will hold exactly what was written to them. */
    const inSync = new Map<string, InSync>();
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
      const synced = this.inSyncAfter(pair, m, d, outcome);
      if (synced) inSync.set(ref, synced);
      if (pair.isNew && pair.action === 'merge') inserts.push({ ...pair.doc, ...outcome.set });
      else rewrites.push(withUpdate(pair.doc, outcome));
    }
    for (const doc of await this.saveLinkChanges(inserts, rewrites)) inSync.delete(doc._id);
    this.confirmInSync(inSync.values());
    for (const rejection of rejections) {
      if (deps.onRejected(rejection) === 'halt') {
        throw new HaltCycle(`Stopped at a rejected write (validation-handling mode "halt"): ${rejection.message}`);
      }
    }
    if (retry.length > 0) await this.retryConflicts(retry);
  }

  /** Every object type's ops in shared batches where the connector can mix them, else one write per type. */
  private async writeDynamics(opsByType: Map<string, WriteOp[]>): Promise<WriteResult[][]> {
    const { deps } = this.ctx;
    const groups = [...opsByType].map(([objectType, ops]) => ({ objectType, ops }));
    if (groups.length > 1 && deps.dynamics.writeMany) return deps.dynamics.writeMany(groups, { signal: deps.signal });
    return Promise.all(groups.map((g) => deps.dynamics.write(g.objectType, g.ops, { signal: deps.signal })));
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
    const { deps } = this.ctx;
    const at = new Date();
    const fresh: LinkDoc[] = [];
    const existing: LinkDoc[] = [];
    for (const pair of pairs) {
      const side: Side = pair.action === 'create-marketo' ? 'marketo' : 'dynamics';
      pair.doc.state = 'creating';
      pair.doc.createIntent = { side, at, runId: deps.runId };
      if (side === 'marketo') delete pair.doc.marketoId;
      else delete pair.doc.dynamicsId;
      (pair.isNew ? fresh : existing).push(pair.doc);
    }
    // Whole documents, a constant number of statements however many people (after a crash, a whole write set
    // of links already exists and is re-intended here).
    // Someone (a push) linked one of these people meanwhile: their create is not sent.
    const taken = new Set(
      [
        ...(await deps.store.rewriteLinks(deps.pipelineId, existing)),
        ...(await deps.store.insertLinksExceptTaken(fresh)),
      ].map((d) => d._id),
    );
    for (const pair of pairs) if (taken.has(pair.doc._id)) pair.action = 'skip';
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
    const { deps } = this.ctx;
    const doc = pair.doc;
    const failed = [m, d].filter((r) => r?.status === 'failed' || r?.status === 'conflict');
    for (const f of failed) {
      deps.counts.failed += 1;
      if (f?.status === 'conflict' || (f?.status === 'failed' && f.retryable)) this.ctx.retryLater = true;
    }
    const rejected = [
      ...(m?.status === 'rejected' ? [{ side: 'marketo' as const, r: m }] : []),
      ...(d?.status === 'rejected' ? [{ side: 'dynamics' as const, r: d }] : []),
    ];
    for (const { side, r } of rejected) {
      deps.counts.rejected += 1;
      const where = side === 'dynamics' ? `Dynamics ${pair.plan.dynamicsType}` : 'Marketo';
      this.ctx.log(doc, 'rejected', `${where} rejected the write: ${r.message} (${r.code})`);
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
        this.ctx.marketoEvents.push({
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
        this.ctx.log(doc, 'failed', `The record to update no longer exists (${missing?.message ?? ''})`);
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
        if (changes.length > 0) this.ctx.log(doc, 'updated', `Updated ${changes.join('; ')}`);
      } else if (!m && !d) {
        deps.counts.unchanged += 1;
      }
      if (pair.isNew)
        this.ctx.log(doc, 'linked', `Linked by email to Dynamics ${pair.plan.dynamicsType} ${doc.dynamicsId}`);
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
        this.ctx.log(withId, 'created', `Created in ${target} (${result.id})`);
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

  /**
   * New links are inserted; changed ones (the pair's document as read, plus the outcome) are rewritten whole.
   * Answers the links not saved because their person was linked by another writer (a push) meanwhile.
   */
  private async saveLinkChanges(inserts: LinkDoc[], rewrites: LinkDoc[]): Promise<LinkDoc[]> {
    const { deps } = this.ctx;
    const taken = await deps.store.insertLinksExceptTaken(inserts);
    for (const doc of taken) {
      deps.logger.info({ email: doc.email }, 'person was linked by another writer meanwhile; left as is');
    }
    return [...taken, ...(await deps.store.rewriteLinks(deps.pipelineId, rewrites))];
  }

  /**
   * The records a pair wrote whose saved snapshot will hold exactly what they now hold: every write of the
   * pair landed (a failed or rejected side keeps fields out of the snapshot, and the echo of the other side is
   * what carries them again next cycle).
   */
  private inSyncAfter(
    pair: Pair,
    m: WriteResult | undefined,
    d: WriteResult | undefined,
    outcome: { set: Partial<LinkDoc> },
  ): InSync | undefined {
    const { snapshot } = outcome.set;
    if (outcome.set.state !== 'linked' || outcome.set.rejection || !snapshot) return undefined;
    const landed = (r: WriteResult | undefined) => r === undefined || r.status === 'created' || r.status === 'updated';
    if (!landed(m) || !landed(d)) return undefined;
    const id = (r: WriteResult | undefined) => (r?.status === 'created' || r?.status === 'updated' ? r.id : undefined);
    const marketoId = id(m);
    const dynamicsId = id(d);
    if (!marketoId && !dynamicsId) return undefined;
    return {
      dynamicsType: pair.plan.dynamicsType,
      marketoHolds: pair.marketo ? { ...pair.marketo.fields, ...snapshot } : snapshot,
      ...(marketoId ? { marketoId } : {}),
      ...(dynamicsId ? { dynamicsId } : {}),
    };
  }

  /** Tells each connector which of its writes the saved snapshots now hold (its loop guard, `Connector.inSync`). */
  private confirmInSync(records: Iterable<InSync>): void {
    const { deps } = this.ctx;
    const marketoIds: string[] = [];
    const marketoHolds = new Map<string, FieldValues>();
    const dynamicsIds = new Map<string, string[]>();
    for (const r of records) {
      if (r.marketoId) {
        marketoIds.push(r.marketoId);
        marketoHolds.set(r.marketoId, r.marketoHolds);
      }
      if (r.dynamicsId) push(dynamicsIds, r.dynamicsType, r.dynamicsId);
    }
    if (marketoIds.length > 0) deps.marketo.inSync?.(MARKETO_OBJECT, marketoIds, marketoHolds);
    for (const [type, ids] of dynamicsIds) deps.dynamics.inSync?.(type, ids);
  }

  private async retryConflicts(pairs: Pair[]): Promise<void> {
    const { deps } = this.ctx;
    const byType = new Map<string, Pair[]>();
    for (const p of pairs) push(byType, p.plan.dynamicsType, p);
    const again: Pair[] = [];
    for (const [type, items] of byType) {
      const fresh = await this.ctx.getDynamics(
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
}
