/**
 * Pairing a page of changed records with the other side: by link, else by email (trimmed, case-insensitive;
 * a contact before a lead) before anything is created. Echoes of our own writes (equal to the snapshot) stop
 * here.
 */
import type { RemoteRecord, Side } from '../plugin';
import { normalizeEmail, type LinkDoc } from '../repositories/sync-store';
import type { ObjectPlan } from './plan';
import { newLinkDoc, push, type CycleContext, type Pair } from './cycle-context';

/**
 * A person's first pairing (no snapshot to merge against): both records are merged, or the missing side is
 * created; either way Marketo's "Microsoft Type" is set.
 */
function firstPair(
  doc: LinkDoc,
  isNew: boolean,
  plan: ObjectPlan,
  records: { marketo: RemoteRecord; dynamics?: RemoteRecord } | { marketo?: RemoteRecord; dynamics: RemoteRecord },
): Pair {
  const action = records.marketo && records.dynamics ? 'merge' : records.marketo ? 'create-dynamics' : 'create-marketo';
  return { doc, isNew, plan, ...records, action, base: undefined, setType: true };
}

export class Pairing {
  constructor(private readonly ctx: CycleContext) {}

  async pairDynamicsPage(objectType: string, records: RemoteRecord[]): Promise<Pair[]> {
    const { deps } = this.ctx;
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
      if (this.alreadyPaired(doc, undefined, objectType, record.id)) {
        deps.counts.unchanged += 1;
      } else if (doc?.state === 'linked' && doc.marketoId) {
        if (this.ctx.differsFromSnapshot(plan, doc.snapshot, record, 'dynamics')) needMarketo.push({ record, doc });
        else deps.counts.unchanged += 1;
      } else if (doc?.state === 'deleted') {
        deps.counts.unchanged += 1;
      } else {
        unlinked.push({ record, ...(doc ? { doc } : {}) });
      }
    }
    // The other side's current values, to merge field by field.
    const marketoRecords = await this.ctx.getMarketo(needMarketo.map((n) => n.doc.marketoId as string));
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
  async pairMarketoPage(records: RemoteRecord[]): Promise<Pair[]> {
    const { deps } = this.ctx;
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
      if (this.alreadyPaired(doc, record.id)) {
        // An earlier stream of this write set pairs this person, with its other side read after this page.
        deps.counts.unchanged += 1;
      } else if (doc?.state === 'linked' && doc.dynamicsId && plan) {
        if (this.ctx.differsFromSnapshot(plan, doc.snapshot, record, 'marketo'))
          push(needDynamics, doc.dynamicsType, { record, doc });
        else deps.counts.unchanged += 1;
      } else if (doc?.state === 'deleted' || (doc?.state === 'linked' && !plan)) {
        // Deleted in Dynamics: never re-created by the sync (only a push creates it again).
        deps.counts.unchanged += 1;
      } else {
        unlinked.push({ record, ...(doc ? { doc } : {}) });
      }
    }
    const gone: string[] = [];
    for (const [dynamicsType, items] of needDynamics) {
      const plan = deps.plan.objects.get(dynamicsType) as ObjectPlan;
      const current = await this.ctx.getDynamics(
        dynamicsType,
        items.map((i) => i.doc.dynamicsId as string),
      );
      for (const { record, doc } of items) {
        const dynamics = current.get(doc.dynamicsId as string);
        if (dynamics) {
          pairs.push({ doc, isNew: false, plan, marketo: record, dynamics, action: 'merge', base: doc.snapshot });
        } else {
          // Deleted in Dynamics without us seeing the delete (no change tracking): treat it as a delete.
          gone.push(doc._id);
          deps.counts.deleted += 1;
          this.ctx.log(
            doc,
            'deleted',
            `Dynamics ${dynamicsType} ${doc.dynamicsId} no longer exists; the link is marked deleted`,
          );
        }
      }
    }
    await deps.store.setLinks(gone, { state: 'deleted' });
    pairs.push(...(await this.pairUnlinked('marketo', unlinked, deps.newPersonAs)));
    return pairs;
  }

  /** Whether an earlier stream of the write set pairs this record, its link or its person already. */
  private alreadyPaired(
    doc: LinkDoc | undefined,
    marketoId: string | undefined,
    dynamicsType?: string,
    dynamicsId?: string,
  ): boolean {
    const { pending } = this.ctx;
    return (
      (doc !== undefined && pending.hasLink(doc._id)) ||
      (doc?.marketoId !== undefined && pending.hasMarketo(doc.marketoId)) ||
      (marketoId !== undefined && pending.hasMarketo(marketoId)) ||
      (dynamicsType !== undefined && dynamicsId !== undefined && pending.hasDynamics(dynamicsType, dynamicsId))
    );
  }

  /**
   * New people: match by email (trimmed, case-insensitive) on the other side before anything is created. A
   * Dynamics contact whose email belongs to a person linked to a lead takes the lead's place (a qualified lead).
   */
  async pairUnlinked(
    side: Side,
    items: Array<{ record: RemoteRecord; doc?: LinkDoc }>,
    objectType: string,
  ): Promise<Pair[]> {
    if (items.length === 0) return [];
    const { deps } = this.ctx;
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
    // People an earlier stream of this write set pairs are known as well as saved ones (and more recently).
    const pendingEmails = new Set<string>();
    for (const email of emails) {
      const pending = this.ctx.pending.byEmail(email);
      if (pending) {
        knownByEmail.set(email, pending);
        pendingEmails.add(email);
      }
    }

    if (side === 'dynamics') {
      const plan = deps.plan.objects.get(objectType) as ObjectPlan;
      const toFind: typeof withEmail = [];
      for (const item of withEmail) {
        const known = knownByEmail.get(item.email);
        if (known && known.dynamicsId !== item.record.id) {
          if (known.dynamicsType === 'lead' && objectType === 'contact' && !pendingEmails.has(item.email)) {
            // Qualified: the contact takes over the person's link from the lead.
            const marketo = (await this.ctx.getMarketo([known.marketoId as string])).get(known.marketoId as string);
            if (marketo) {
              if (item.doc) await deps.store.deleteLinks([item.doc._id]);
              const doc: LinkDoc = { ...known, dynamicsType: objectType, dynamicsId: item.record.id, snapshot: {} };
              pairs.push(firstPair(doc, false, plan, { marketo, dynamics: item.record }));
              this.ctx.log(
                doc,
                'linked',
                `Dynamics contact ${item.record.id} replaces lead ${known.dynamicsId} for this person`,
              );
              continue;
            }
          }
          deps.counts.unchanged += 1;
          this.ctx.log(
            { ...known, dynamicsId: item.record.id, dynamicsType: objectType },
            'skipped',
            `Not synced: Marketo person ${known.marketoId} with this email is already linked to Dynamics ${known.dynamicsType} ${known.dynamicsId}`,
          );
          continue;
        }
        toFind.push(item);
      }
      const found = await this.ctx.findMarketoByEmail(toFind.map((i) => i.email));
      const taken = await deps.store.linksByMarketoIds(
        deps.pipelineId,
        [...found.values()].map((r) => r.id),
      );
      const takenIds = new Set(taken.filter((l) => l.state === 'linked' && l.dynamicsId).map((l) => l.marketoId));
      // A person whose Dynamics create was sent but never confirmed (the process died): the record found now is
      // that create; the person's own link takes it over rather than a second link colliding with it.
      const intended = new Map(
        taken
          .filter((l) => l.state === 'creating' && l.createIntent?.side !== 'marketo' && !l.dynamicsId && l.marketoId)
          .map((l) => [l.marketoId as string, l]),
      );
      for (const record of found.values()) if (this.ctx.pending.hasMarketo(record.id)) takenIds.add(record.id);
      for (const item of toFind) {
        const marketo = found.get(item.email);
        const adopt = !item.doc && marketo && !takenIds.has(marketo.id) ? intended.get(marketo.id) : undefined;
        if (adopt) delete adopt.createIntent;
        const doc = item.doc ?? adopt ?? newLinkDoc(deps.pipelineId, objectType, item.email);
        doc.dynamicsId = item.record.id;
        doc.dynamicsType = objectType;
        doc.email = item.email;
        if (marketo && !takenIds.has(marketo.id)) {
          doc.marketoId = marketo.id;
          pairs.push(firstPair(doc, !item.doc && !adopt, plan, { marketo, dynamics: item.record }));
          takenIds.add(marketo.id);
        } else if (!marketo) {
          pairs.push(firstPair(doc, !item.doc, plan, { dynamics: item.record }));
        } else deps.counts.unchanged += 1;
      }
      return pairs;
    }

    // Marketo side: a person unknown to Dynamics: look for a contact, then a lead, with that email.
    const toFind = withEmail.filter((item) => {
      const known = knownByEmail.get(item.email);
      if (known && known.marketoId !== item.record.id) {
        deps.counts.unchanged += 1;
        this.ctx.log(
          { ...known, marketoId: item.record.id },
          'skipped',
          `Not synced: another Marketo person (${known.marketoId ?? 'being created'}) with this email is already linked to Dynamics ${known.dynamicsType} ${known.dynamicsId}`,
        );
        return false;
      }
      return true;
    });
    const matches = new Map<string, { type: string; record: RemoteRecord }>();
    for (const type of ['contact', 'lead']) {
      if (!deps.plan.objects.has(type)) continue;
      const remaining = toFind.map((i) => i.email).filter((e) => !matches.has(e));
      for (const [email, record] of await this.ctx.findDynamicsByEmail(type, remaining))
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
    for (const { type, record } of matches.values())
      if (this.ctx.pending.hasDynamics(type, record.id)) takenDynamics.add(`${type}:${record.id}`);
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
        pairs.push(firstPair(doc, !item.doc, plan, { marketo: item.record, dynamics: match.record }));
        takenDynamics.add(`${match.type}:${match.record.id}`);
      } else if (!match) {
        const type = deps.plan.objects.has(objectType) ? objectType : ([...deps.plan.objects.keys()][0] as string);
        const plan = deps.plan.objects.get(type) as ObjectPlan;
        const doc = item.doc ?? newLinkDoc(deps.pipelineId, type, item.email);
        Object.assign(doc, { marketoId: item.record.id, dynamicsType: type, email: item.email });
        pairs.push(firstPair(doc, !item.doc, plan, { marketo: item.record }));
      } else deps.counts.unchanged += 1;
    }
    return pairs;
  }
}
