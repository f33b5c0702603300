/**
 * Interpreting a write set's results: what each pair's results mean for its link (the new snapshot, its state,
 * a rejection kept), its counts, its activity log, the rejections the policies hear about, and which records
 * now hold exactly their snapshot (the loop guard's confirmations). Pure: plain data in, plain data out.
 */
import type { FieldValues, Rejection, WriteResult } from '../plugin';
import type { LinkDoc } from '../repositories/sync-store';
import { describeFields, recordName, type ActivityNote, type Pair, type RemoteEventNote } from './cycle-deps';
import { otherSide, SIDE_KEYS, Tally, type Counts, type PerSide, type PipelineSide, type SideKey } from './model';
import type { WritePlan } from './planning';

/** The records of one person that a write set left exactly as its snapshot says (the loop guard). */
export interface InSyncRecord {
  side: SideKey;
  objectType: string;
  id: string;
  /** What the record now holds as far as the engine knows (its fields as read, then the snapshot). */
  holds: FieldValues;
}

export interface Interpretation {
  /** New link documents to insert, and changed ones to rewrite whole. */
  inserts: LinkDoc[];
  rewrites: LinkDoc[];
  /** Pairs whose write met a stale etag (changed since read): read again and merged once more. */
  retry: Pair[];
  rejections: Rejection[];
  /** Per link id: records now holding their snapshot, confirmed to the connectors once the links are saved. */
  inSync: Map<string, InSyncRecord[]>;
  counts: Counts;
  notes: ActivityNote[];
  events: RemoteEventNote[];
  /** Records written per side (for the run's progress). */
  written: PerSide<number>;
  /** Something failed in a way worth retrying: the write set's cursors must not advance. */
  retryLater: boolean;
}

export interface InterpretContext {
  pipelineId: string;
  sides: PerSide<PipelineSide>;
  /** First attempt: a stale etag is retried once; on the retry it is a failure. */
  attempt: number;
  now: Date;
}

type Outcome = { set: Partial<LinkDoc>; unset?: Array<keyof LinkDoc> } | null;

/** A link document with an outcome's `$set`/`$unset` applied, as MongoDB would apply them. */
function applied(doc: LinkDoc, outcome: NonNullable<Outcome>): LinkDoc {
  // Built without `delete`, which would turn every saved link into a slow dictionary object.
  const unset: ReadonlyArray<string> = outcome.unset ?? [];
  const next: Record<string, unknown> = {};
  const fields = doc as unknown as Record<string, unknown>;
  for (const key in fields) if (!unset.includes(key)) next[key] = fields[key];
  return Object.assign(next, outcome.set) as LinkDoc;
}

const landed = (r: WriteResult | undefined) => r === undefined || r.status === 'created' || r.status === 'updated';

export function interpretResults(
  pairs: readonly Pair[],
  plan: WritePlan,
  results: PerSide<ReadonlyMap<string, WriteResult>>,
  ctx: InterpretContext,
): Interpretation {
  const out: Interpretation = {
    inserts: [],
    rewrites: [],
    retry: [],
    rejections: [],
    inSync: new Map(),
    counts: {},
    notes: [],
    events: [],
    written: { left: 0, right: 0 },
    retryLater: false,
  };
  const tally = new Tally();
  for (const pair of pairs) {
    if (pair.action === 'skip') continue;
    const ref = pair.doc._id;
    const r = { left: results.left.get(ref), right: results.right.get(ref) };
    for (const side of SIDE_KEYS) if (r[side] && landed(r[side])) out.written[side] += 1;
    if (ctx.attempt === 0 && SIDE_KEYS.some((side) => r[side]?.status === 'conflict')) {
      out.retry.push(pair);
      continue;
    }
    const outcome = outcomeOf(pair, r, plan, ctx, tally, out);
    if (outcome === null) continue;
    const synced = inSyncAfter(pair, r, outcome);
    if (synced.length > 0) out.inSync.set(ref, synced);
    if (pair.isNew && pair.action === 'merge') out.inserts.push({ ...pair.doc, ...outcome.set });
    else out.rewrites.push(applied(pair.doc, outcome));
  }
  out.counts = tally.counts;
  return out;
}

function outcomeOf(
  pair: Pair,
  r: PerSide<WriteResult | undefined>,
  plan: WritePlan,
  ctx: InterpretContext,
  tally: Tally,
  out: Interpretation,
): Outcome {
  const { sides } = ctx;
  const doc = pair.doc;
  const note = (link: ActivityNote['link'], type: string, detail: string, extra: Partial<ActivityNote> = {}) =>
    out.notes.push({ link, type, detail, ...extra });
  for (const side of SIDE_KEYS) {
    const result = r[side];
    if (result?.status === 'failed' || result?.status === 'conflict') {
      tally.add('failed');
      if (result.status === 'conflict' || result.retryable) out.retryLater = true;
      note(doc, 'failed', `${recordName(sides[side], doc[side])}: the write failed: ${result.message}`, {
        side,
        ...(result.status === 'failed' ? { code: result.code } : { code: 'CONFLICT' }),
      });
    }
  }
  let rejection: LinkDoc['rejection'];
  for (const side of SIDE_KEYS) {
    const result = r[side];
    if (result?.status !== 'rejected') continue;
    tally.add('rejected');
    const where = `${sides[side].label} ${pair.plan.types[side]}`;
    note(doc, 'rejected', `${where} rejected the write: ${result.message} (${result.code})`, {
      side,
      code: result.code,
    });
    out.rejections.push({
      pipelineId: ctx.pipelineId,
      connection: sides[side].connection,
      connector: sides[side].connector.id,
      objectType: pair.plan.types[side],
      ...(doc[side].id ? { recordId: doc[side].id } : {}),
      code: result.code,
      message: result.message,
    });
    const other = otherSide(side);
    const otherId = doc[other].id;
    if (otherId) {
      // Told in the other system too, where it keeps a per-person activity log (Marketo's).
      out.events.push({
        side: other,
        objectType: pair.plan.types[other],
        event: {
          recordId: otherId,
          type: 'rejected',
          at: ctx.now.toISOString(),
          summary: `${where} rejected the sync`,
          detail: `${result.message} (${result.code})`,
          otherSystem: sides[side].connection,
          ...(doc[side].id ? { otherId: doc[side].id } : {}),
        },
      });
    }
    rejection ??= { side, code: result.code, message: result.message, at: ctx.now };
  }

  const merge = plan.merges.get(pair.doc._id);
  if (pair.action === 'merge' && merge) {
    // Fields whose write did not land keep their old snapshot value, so the next change of the source retries them.
    const allLanded = SIDE_KEYS.every((side) => landed(r[side]));
    const snapshot = allLanded ? merge.snapshot : { ...merge.snapshot };
    for (const side of SIDE_KEYS) {
      if (landed(r[side])) continue;
      for (const field of pair.plan.fields) {
        if (!(field.names[side] in merge.writes[side])) continue;
        const key = field.names.left;
        if (pair.base && key in pair.base) snapshot[key] = pair.base[key] ?? null;
        else delete snapshot[key];
      }
    }
    for (const side of SIDE_KEYS) {
      const result = r[side];
      if (result?.status !== 'not-found') continue;
      tally.add('failed');
      note(doc, 'failed', `The record to update no longer exists (${result.message})`, { side, code: 'NOT_FOUND' });
    }
    const wrote = SIDE_KEYS.filter((side) => r[side] && landed(r[side]));
    if (wrote.length > 0) {
      tally.add('updated');
      const changes = wrote
        .filter((side) => Object.keys(merge.writes[side]).length > 0)
        .map((side) => `${sides[side].label} ${pair.plan.types[side]}: ${describeFields(merge.writes[side])}`);
      if (changes.length > 0) note(doc, 'updated', `Updated ${changes.join('; ')}`);
    } else if (!r.left && !r.right) {
      tally.add('unchanged');
    }
    if (pair.isNew) {
      note(
        doc,
        'linked',
        `Linked by email: ${recordName(sides.left, doc.left)} with ${recordName(sides.right, doc.right)}`,
      );
    }
    return {
      set: {
        state: 'linked',
        snapshot,
        left: doc.left,
        right: doc.right,
        ...(doc.email ? { email: doc.email } : {}),
        ...(rejection ? { rejection } : {}),
      },
      unset: rejection ? ['createIntent'] : ['createIntent', 'rejection'],
    };
  }

  const create = plan.creates.get(pair.doc._id);
  if (pair.action === 'create' && create) {
    const result = r[create.side];
    if (result?.status === 'created') {
      tally.add('created');
      const created = { ...doc[create.side], id: result.id };
      const withId = { ...doc, [create.side]: created };
      note(withId, 'created', `Created in ${sides[create.side].label} ${created.type} (${result.id})`, {
        side: create.side,
      });
      return {
        set: { state: 'linked', snapshot: create.snapshot, [create.side]: created },
        unset: ['createIntent', 'rejection'],
      };
    }
    if (result?.status === 'rejected') {
      return { set: { state: 'rejected', ...(rejection ? { rejection } : {}) }, unset: ['createIntent'] };
    }
    // Failed or not sent: the intent stays; the next read of this page looks the record up before creating.
    return null;
  }
  return null;
}

/**
 * The records a pair wrote whose saved snapshot will hold exactly what they now hold: every write of the pair
 * landed (a failed or rejected side keeps fields out of the snapshot, and the echo of the other side is what
 * carries them again next cycle).
 */
function inSyncAfter(pair: Pair, r: PerSide<WriteResult | undefined>, outcome: NonNullable<Outcome>): InSyncRecord[] {
  const { snapshot } = outcome.set;
  if (outcome.set.state !== 'linked' || outcome.set.rejection || !snapshot) return [];
  if (!landed(r.left) || !landed(r.right)) return [];
  const records: InSyncRecord[] = [];
  for (const side of SIDE_KEYS) {
    const result = r[side];
    if (result?.status !== 'created' && result?.status !== 'updated') continue;
    const holds: FieldValues = { ...(pair.records[side]?.fields ?? {}) };
    for (const field of pair.plan.fields) {
      const key = field.names.left;
      if (key in snapshot) holds[field.names[side]] = snapshot[key] ?? null;
    }
    records.push({ side, objectType: pair.plan.types[side], id: result.id, holds });
  }
  return records;
}
