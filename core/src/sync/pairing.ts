/**
 * Pairing a page of one side's changed records with the other side: by link, else by email (trimmed,
 * case-insensitive; in the other side's object order) before anything is created. Echoes of our own writes
 * (equal to the snapshot) stop here. Returns the pairs with what to do, and what it learnt on the way (links
 * whose other record is gone, counts, activity notes); it reads but never writes.
 */
import type { FieldValues, RemoteRecord } from '../plugin';
import { normalizeEmail, type LinkDoc } from '../repositories/sync-store';
import {
  newLinkDoc,
  push,
  recordName,
  type ActivityNote,
  type CycleDeps,
  type Lookups,
  type Pair,
  type PendingLinks,
} from './cycle-deps';
import type { ObjectPairPlan } from './field-plan';
import { otherSide, Tally, type Counts, type PerSide, type SideKey } from './model';
import { valuesEqual } from './values';

export interface Paired {
  pairs: Pair[];
  /** Links whose other record no longer exists, on a side whose deletes unlink: to be marked deleted. */
  gone: string[];
  counts: Counts;
  notes: ActivityNote[];
}

interface Item {
  record: RemoteRecord;
  doc?: LinkDoc;
}

/** Whether `record` (of `side`) holds, in some synced field, a value other than the snapshot's. */
export function differsFromSnapshot(
  plan: ObjectPairPlan,
  snapshot: LinkDoc['snapshot'],
  record: RemoteRecord,
  side: SideKey,
): boolean {
  for (const f of plan.fields) {
    const name = f.names[side];
    if (!(name in record.fields)) continue;
    if (!(f.names.left in snapshot) || !valuesEqual(record.fields[name], snapshot[f.names.left], f.caseInsensitive)) {
      return true;
    }
  }
  return false;
}

/**
 * A person's first pairing: both records merge, or the missing one is created. There is no snapshot to merge
 * against, except when the link holds a create whose outcome was never saved (the process died after sending it)
 * and its record is found: then the values sent are the base, as they would have been had the outcome been saved.
 */
function firstPair(
  doc: LinkDoc,
  isNew: boolean,
  plan: ObjectPairPlan,
  records: Partial<PerSide<RemoteRecord>>,
  sent?: FieldValues,
): Pair {
  const missing = !records.left ? 'left' : !records.right ? 'right' : undefined;
  return {
    doc,
    isNew,
    plan,
    records,
    action: missing ? 'create' : 'merge',
    ...(missing ? { createOn: missing } : {}),
    base: !missing && sent && Object.keys(sent).length > 0 ? sent : undefined,
    setType: true,
  };
}

export class Pairing {
  private readonly tally = new Tally();
  private readonly notes: ActivityNote[] = [];

  constructor(
    private readonly deps: CycleDeps,
    private readonly lookups: Lookups,
    private readonly pending: PendingLinks,
    /** When the cycle began: a link saved since may be newer than a record read before it was saved. */
    private readonly cycleStart: Date,
  ) {}

  /** Pairs one stream's records: `side`'s records of object type `type`. */
  async pair(side: SideKey, type: string, records: readonly RemoteRecord[]): Promise<Paired> {
    const { deps } = this;
    const other = otherSide(side);
    const several = deps.sides[side].objects.length > 1;
    const links = await deps.store.links.byIds(
      deps.pipelineId,
      side,
      records.map((r) => r.id),
      several ? type : undefined,
    );
    const byId = new Map(links.map((l) => [l[side].id as string, l]));
    const pairs: Pair[] = [];
    const gone: string[] = [];
    type Linked = { record: RemoteRecord; doc: LinkDoc; plan: ObjectPairPlan };
    const needOther = new Map<string, Linked[]>();
    const readAgain: Linked[] = [];
    const unlinked: Item[] = [];
    for (const record of records) {
      const doc = byId.get(record.id);
      const plan = doc ? deps.plan.pair({ left: doc.left.type, right: doc.right.type }) : undefined;
      if (this.alreadyPaired(doc, side, type, record.id)) {
        // An earlier stream of this write set pairs this person, with its other side read after this page.
        this.tally.add('unchanged');
      } else if (doc?.state === 'linked' && doc[other].id && plan) {
        if (!differsFromSnapshot(plan, doc.snapshot, record, side)) this.tally.add('unchanged');
        else if (doc.updatedAt >= this.cycleStart) readAgain.push({ record, doc, plan });
        else push(needOther, doc[other].type, { record, doc, plan });
      } else if (doc?.state === 'deleted' || (doc?.state === 'linked' && !plan)) {
        // Deleted on the other side (never re-created by the sync), or a pair of types no longer mapped.
        this.tally.add('unchanged');
      } else {
        unlinked.push({ record, ...(doc ? { doc } : {}) });
      }
    }
    // A record differing from a snapshot saved during this cycle may have been read before that save (a page
    // read ahead, or carried over to the next write set): taken as read, it would undo what the cycle wrote. It
    // is read again, and only a difference that remains is a change.
    if (readAgain.length > 0) {
      const fresh = await this.lookups.get(
        side,
        type,
        readAgain.map((i) => i.record.id),
      );
      for (const item of readAgain) {
        const record = fresh.get(item.record.id) ?? item.record;
        if (differsFromSnapshot(item.plan, item.doc.snapshot, record, side))
          push(needOther, item.doc[other].type, { ...item, record });
        else this.tally.add('unchanged');
      }
    }
    // The other side's current values, to merge field by field.
    for (const [otherType, items] of needOther) {
      const current = await this.lookups.get(
        other,
        otherType,
        items.map((i) => i.doc[other].id as string),
      );
      for (const { record, doc, plan } of items) {
        const found = current.get(doc[other].id as string);
        if (found) {
          const records = side === 'left' ? { left: record, right: found } : { left: found, right: record };
          pairs.push({ doc, isNew: false, plan, records, action: 'merge', base: doc.snapshot });
        } else if (deps.sides[other].deletes === 'recreate') {
          // The other record is gone and that side re-creates: this change brings the person back as new there.
          const { [other]: gone, ...rest } = doc;
          unlinked.push({ record, doc: { ...rest, [other]: { type: gone.type }, snapshot: {} } as LinkDoc });
        } else {
          // Deleted there without the delete being seen (no change feed of deletes): treated as a delete.
          gone.push(doc._id);
          this.tally.add('deleted');
          this.note(
            doc,
            'deleted',
            `${recordName(deps.sides[other], doc[other])} no longer exists; the link is marked deleted`,
          );
        }
      }
    }
    pairs.push(...(await this.pairUnlinked(side, type, unlinked)));
    return { pairs, gone, counts: this.tally.counts, notes: this.notes };
  }

  private note(link: Pick<LinkDoc, 'left' | 'right' | 'email'>, type: string, detail: string): void {
    this.notes.push({ link, type, detail });
  }

  /** Whether an earlier stream of the write set pairs this record, its link or its person already. */
  private alreadyPaired(doc: LinkDoc | undefined, side: SideKey, type: string, id: string): boolean {
    const { pending } = this;
    if (pending.hasRecord(side, type, id)) return true;
    if (!doc) return false;
    if (pending.hasLink(doc._id)) return true;
    return (['left', 'right'] as const).some(
      (s) => doc[s].id !== undefined && pending.hasRecord(s, doc[s].type, doc[s].id as string),
    );
  }

  /** The other side's object types a record of `side`'s `type` may pair with, in that side's matching order. */
  private candidates(side: SideKey, type: string): string[] {
    const other = otherSide(side);
    const types = new Set(this.deps.plan.pairsOf(side, type).map((p) => p.types[other]));
    return this.deps.sides[other].objects.filter((t) => types.has(t));
  }

  /** The pair of object types for a `side` record of `type` with an `other` record of `otherType`. */
  private planFor(side: SideKey, type: string, otherType: string): ObjectPairPlan | undefined {
    return this.deps.plan.pair(side === 'left' ? { left: type, right: otherType } : { left: otherType, right: type });
  }

  /**
   * New people: matched by email (trimmed, case-insensitive) on the other side, in its object order, before
   * anything is created. A record of a type the connector says supersedes another (a contact for a lead)
   * takes over the person of a link through that type (a qualified lead).
   */
  private async pairUnlinked(side: SideKey, type: string, items: Item[]): Promise<Pair[]> {
    if (items.length === 0) return [];
    const { deps } = this;
    const other = otherSide(side);
    const emailField = deps.plan.email(side, type);
    const withEmail: Array<Item & { email: string }> = [];
    for (const item of items) {
      const email = normalizeEmail(emailField ? item.record.fields[emailField] : undefined);
      if (!email) {
        this.tally.add('unchanged');
        deps.logger.debug(
          { side: deps.sides[side].connection, id: item.record.id },
          'record without email is not synced (people are matched by email)',
        );
        continue;
      }
      withEmail.push({ ...item, email });
    }
    if (withEmail.length === 0) return [];
    const emails = [...new Set(withEmail.map((i) => i.email))];
    const known = new Map<string, LinkDoc>();
    for (const link of await deps.store.links.byEmails(deps.pipelineId, emails)) {
      if (link.state === 'linked' && link.left.id && link.right.id) known.set(link.email as string, link);
    }
    // People an earlier stream of this write set pairs are known as well as saved ones (and more recently).
    const pendingEmails = new Set<string>();
    for (const email of emails) {
      const pending = this.pending.byEmail(email);
      if (pending) {
        known.set(email, pending);
        pendingEmails.add(email);
      }
    }

    const pairs: Pair[] = [];
    const toFind: Array<Item & { email: string }> = [];
    const supersedes = deps.sides[side].connector.supersedes?.[type] ?? [];
    for (const item of withEmail) {
      const link = known.get(item.email);
      if (!link || link[side].id === item.record.id) {
        toFind.push(item);
        continue;
      }
      const plan = this.planFor(side, type, link[other].type);
      if (supersedes.includes(link[side].type) && !pendingEmails.has(item.email) && plan) {
        // Qualified: this record takes over the person's link from the record it supersedes.
        const found = (await this.lookups.get(other, link[other].type, [link[other].id as string])).get(
          link[other].id as string,
        );
        if (found) {
          if (item.doc) await deps.store.links.delete([item.doc._id]);
          const doc: LinkDoc = { ...link, [side]: { type, id: item.record.id }, snapshot: {} };
          pairs.push(
            firstPair(
              doc,
              false,
              plan,
              side === 'left' ? { left: item.record, right: found } : { left: found, right: item.record },
            ),
          );
          this.note(
            doc,
            'linked',
            `${recordName(deps.sides[side], doc[side])} replaces ${link[side].type} ${link[side].id} for this person`,
          );
          continue;
        }
      }
      this.tally.add('unchanged');
      this.note(
        { ...link, [side]: { type, id: item.record.id } },
        'skipped',
        `Not synced: ${recordName(deps.sides[other], link[other])} with this email is already linked to ${recordName(deps.sides[side], link[side])}`,
      );
    }

    // Look for each person on the other side, type by type in its matching order.
    const matches = new Map<string, { type: string; record: RemoteRecord }>();
    for (const otherType of this.candidates(side, type)) {
      const remaining = toFind.map((i) => i.email).filter((e) => !matches.has(e));
      for (const [email, record] of await this.lookups.findByEmail(other, otherType, remaining)) {
        matches.set(email, { type: otherType, record });
      }
    }
    // A match already linked to someone else is taken; one whose person is being created here (a create sent
    // before a crash, never confirmed) is that create: its link takes the match over.
    const byType = new Map<string, string[]>();
    for (const { type: t, record } of matches.values()) push(byType, t, record.id);
    const taken = new Set<string>();
    const intended = new Map<string, LinkDoc>();
    for (const [otherType, ids] of byType) {
      for (const l of await deps.store.links.byIds(deps.pipelineId, other, ids, otherType)) {
        const key = `${otherType}:${l[other].id}`;
        if (l.state === 'linked' && l[side].id) taken.add(key);
        else if (l.state === 'creating' && l.createIntent?.side === side && !l[side].id) intended.set(key, l);
      }
      for (const id of ids) if (this.pending.hasRecord(other, otherType, id)) taken.add(`${otherType}:${id}`);
    }
    const fallback = this.newRecordsType(side, type);
    for (const item of toFind) {
      const match = matches.get(item.email);
      const key = match ? `${match.type}:${match.record.id}` : '';
      if (match && taken.has(key)) {
        this.tally.add('unchanged');
        continue;
      }
      const otherType = match?.type ?? this.createType(item.doc?.[other].type, side, type) ?? fallback;
      const plan = otherType ? this.planFor(side, type, otherType) : undefined;
      if (!otherType || !plan) {
        this.tally.add('unchanged');
        continue;
      }
      const adopt = !item.doc && match ? intended.get(key) : undefined;
      // The match is the record a create of this link sent (seen from either side): what it sent is the base.
      const sent = match && (adopt ?? (item.doc?.createIntent?.side === other ? item.doc : undefined))?.snapshot;
      if (adopt) delete adopt.createIntent;
      const doc =
        item.doc ??
        adopt ??
        newLinkDoc(
          deps.pipelineId,
          side === 'left' ? { left: type, right: otherType } : { left: otherType, right: type },
          item.email,
        );
      doc[side] = { type, id: item.record.id };
      doc[other] = { type: otherType, ...(match ? { id: match.record.id } : {}) };
      doc.email = item.email;
      const records = match
        ? side === 'left'
          ? { left: item.record, right: match.record }
          : { left: match.record, right: item.record }
        : { [side]: item.record };
      pairs.push(firstPair(doc, !item.doc && !adopt, plan, records, sent || undefined));
      if (match) taken.add(key);
    }
    return pairs;
  }

  /** The type a link already names for the record to create (a push chose it), if that pair is mapped. */
  private createType(wanted: string | undefined, side: SideKey, type: string): string | undefined {
    return wanted !== undefined && this.candidates(side, type).includes(wanted) ? wanted : undefined;
  }

  /** What a record of `side`'s `type` becomes on the other side when nobody matches. */
  private newRecordsType(side: SideKey, type: string): string | undefined {
    const candidates = this.candidates(side, type);
    const preferred = this.deps.sides[otherSide(side)].newRecordsAs;
    return preferred !== undefined && candidates.includes(preferred) ? preferred : candidates[0];
  }
}
