/**
 * The "Sync Person to Microsoft" flow action: create one Marketo person in Dynamics now, as a lead or a
 * contact. If the person is already there (linked, or a record with the same email exists) nothing changes.
 * Like a cycle's creates it records its intent first, and the unique index on the Marketo id keeps a push and
 * a cycle (or two pushes) from creating the same person twice.
 */
import { randomUUID } from 'node:crypto';
import { TandemError, RetryableError, type Connector } from '../plugin';
import { normalizeEmail, type LinkDoc, type SyncStore } from '../repositories/sync-store';
import { valuesForCreate } from './merge';
import type { SyncPlan } from './plan';
import type { PushBody, PushResult } from './service';
import { MARKETO_OBJECT } from './cycle';

export interface PushDeps {
  pipelineId: string;
  store: SyncStore;
  marketo: Connector;
  dynamics: Connector;
  plan: SyncPlan;
  signal?: AbortSignal;
}

export async function pushPerson(deps: PushDeps, body: PushBody): Promise<PushResult> {
  const { store, pipelineId, plan } = deps;
  const as = body.as;
  const objectPlan = plan.objects.get(as);
  if (!objectPlan) {
    throw new TandemError(
      'BAD_REQUEST',
      `Pipeline "${pipelineId}" does not map Dynamics ${as}s, so a person cannot be pushed as one.`,
      { status: 400 },
    );
  }
  const [existing] = await store.linksByMarketoIds(pipelineId, [body.marketoId]);
  if (existing?.state === 'linked' && existing.dynamicsId) {
    return {
      dynamicsId: existing.dynamicsId,
      objectType: existing.dynamicsType === 'contact' ? 'contact' : 'lead',
      created: false,
      message: `Already in Dynamics as ${existing.dynamicsType} ${existing.dynamicsId}; nothing changed.`,
    };
  }
  const [person] = await deps.marketo.get(MARKETO_OBJECT, [body.marketoId], {
    fields: plan.marketoRead,
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  if (!person) throw new TandemError('NOT_FOUND', `Marketo person ${body.marketoId} does not exist.`, { status: 404 });
  const email = normalizeEmail(person.fields[objectPlan.marketoEmail]);
  if (!email) {
    throw new TandemError(
      'BAD_REQUEST',
      `Marketo person ${body.marketoId} has no email; people are matched by email.`,
      { status: 422 },
    );
  }

  // Already in Dynamics under this email: link it, change nothing.
  for (const type of ['contact', 'lead'] as const) {
    const typePlan = plan.objects.get(type);
    if (!typePlan) continue;
    const [found] = await deps.dynamics.findByEmail(type, [email], { fields: [typePlan.dynamicsEmail] });
    if (!found) continue;
    const taken = await store.linksByDynamicsIds(pipelineId, type, [found.id]);
    if (!taken.some((l) => l.state === 'linked')) {
      const now = new Date();
      if (existing) {
        await store.saveLinks([
          {
            id: existing._id,
            set: { state: 'linked', dynamicsId: found.id, dynamicsType: type, email, snapshot: {} },
            unset: ['createIntent'],
          },
        ]);
      } else {
        await store.tryInsertLink({
          _id: randomUUID(),
          pipelineId,
          marketoId: body.marketoId,
          dynamicsId: found.id,
          dynamicsType: type,
          email,
          state: 'linked',
          snapshot: {},
          createdAt: now,
          updatedAt: now,
        });
      }
    }
    return {
      dynamicsId: found.id,
      objectType: type,
      created: false,
      message: `A Dynamics ${type} with this email already exists; nothing changed.`,
    };
  }

  // Record the intent, then create.
  const now = new Date();
  const intent = { side: 'dynamics' as const, at: now };
  let linkId: string;
  if (existing) {
    linkId = existing._id;
    await store.saveLinks([
      {
        id: linkId,
        set: { state: 'creating', dynamicsType: as, email, createIntent: intent, snapshot: {} },
        unset: ['dynamicsId'],
      },
    ]);
  } else {
    const doc: LinkDoc = {
      _id: randomUUID(),
      pipelineId,
      marketoId: body.marketoId,
      dynamicsType: as,
      email,
      state: 'creating',
      snapshot: {},
      createIntent: intent,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await store.tryInsertLink(doc))) {
      throw new TandemError(
        'CONFLICT',
        `Marketo person ${body.marketoId} is being synced right now; try again in a moment.`,
        { status: 409 },
      );
    }
    linkId = doc._id;
  }
  const create = valuesForCreate(objectPlan, person, 'dynamics');
  const [result] = await deps.dynamics.write(
    as,
    [{ kind: 'create', ref: linkId, fields: create.values }],
    deps.signal ? { signal: deps.signal } : {},
  );
  const activity = { pipelineId, at: new Date(), type: 'created', marketoId: body.marketoId, dynamicsType: as };
  if (result?.status === 'created') {
    await store.saveLinks([
      {
        id: linkId,
        set: { state: 'linked', dynamicsId: result.id, snapshot: create.snapshot },
        unset: ['createIntent', 'rejection'],
      },
    ]);
    await store.appendActivity([
      { ...activity, dynamicsId: result.id, detail: `Pushed to Dynamics: created ${as} ${result.id}` },
    ]);
    return { dynamicsId: result.id, objectType: as, created: true };
  }
  if (result?.status === 'rejected') {
    await store.saveLinks([
      {
        id: linkId,
        set: {
          state: 'rejected',
          rejection: { side: 'dynamics', code: result.code, message: result.message, at: new Date() },
        },
        unset: ['createIntent'],
      },
    ]);
    await store.appendActivity([
      { ...activity, type: 'rejected', detail: `Push rejected by Dynamics ${as}: ${result.message} (${result.code})` },
    ]);
    throw new TandemError('REMOTE_REJECTED', `Dynamics rejected the ${as}: ${result.message} (${result.code})`, {
      status: 422,
      details: { code: result.code },
    });
  }
  // Unknown outcome: the intent stays, and the next attempt (a push or a cycle) looks the record up by email first.
  const message = result && 'message' in result ? result.message : 'no result';
  throw new RetryableError(
    `Dynamics did not confirm the create: ${message}. Try again; nothing will be created twice.`,
  );
}
