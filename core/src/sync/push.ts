/**
 * Push ("Sync Person to Microsoft" for the default pipeline): create one person of one side on the other side
 * now, as a given object type. If the person is already there (linked, or a record with the same email exists)
 * nothing changes and the answer says so. Like a cycle's creates it records its intent first, and the unique
 * indexes on record ids keep a push and a cycle (or two pushes) from creating the same person twice.
 */
import { randomUUID } from 'node:crypto';
import { RetryableError, TandemError, type RemoteRecord } from '../plugin';
import { normalizeEmail, type LinkDoc, type SyncStore } from '../repositories/sync-store';
import type { FieldPlan } from './field-plan';
import { valuesForCreate } from './merge';
import { otherSide, type PerSide, type PipelineSide, type SideKey } from './model';

export interface PushDeps {
  pipelineId: string;
  store: SyncStore;
  sides: PerSide<PipelineSide>;
  plan: FieldPlan;
  signal?: AbortSignal;
}

export interface PushRequest {
  from: SideKey;
  id: string;
  /** The object type to create on the other side; its `newRecordsAs` (or first matching type) when absent. */
  as?: string;
}

export interface PushOutcome {
  side: SideKey;
  id: string;
  objectType: string;
  created: boolean;
  message?: string;
}

function badRequest(message: string, status = 400): TandemError {
  return new TandemError('BAD_REQUEST', message, { status });
}

export async function pushPerson(deps: PushDeps, request: PushRequest): Promise<PushOutcome> {
  const { store, pipelineId, plan, sides } = deps;
  const from = request.from;
  const to = otherSide(from);
  const options = { ...(deps.signal ? { signal: deps.signal } : {}), scope: pipelineId };

  // What the person may become on the other side: checked before anything is read.
  const fromTypes = sides[from].objects.filter((t) => plan.pairsOf(from, t).length > 0);
  const possible = new Set(fromTypes.flatMap((t) => plan.pairsOf(from, t).map((p) => p.types[to])));
  if (request.as !== undefined && !possible.has(request.as)) {
    throw badRequest(
      `Pipeline "${pipelineId}" does not map ${sides[to].label} ${request.as}s, so a person cannot be pushed as one (it maps ${[...possible].join(', ')}).`,
    );
  }
  // The person, in whichever of its side's object types holds the id.
  let person: RemoteRecord | undefined;
  let fromType: string | undefined;
  for (const type of fromTypes) {
    [person] = await sides[from].connector.get(type, [request.id], { fields: plan.read(from, type), ...options });
    if (person) {
      fromType = type;
      break;
    }
  }
  if (!person || !fromType) {
    throw new TandemError('NOT_FOUND', `${sides[from].label} has no person ${request.id}.`, { status: 404 });
  }
  const candidates = plan.pairsOf(from, fromType).map((p) => p.types[to]);
  const as = request.as ?? (candidates.includes(sides[to].newRecordsAs ?? '') ? sides[to].newRecordsAs : candidates[0]);
  const pairPlan =
    as === undefined
      ? undefined
      : plan.pair(from === 'left' ? { left: fromType, right: as } : { left: as, right: fromType });
  if (!as || !pairPlan) {
    throw badRequest(
      `Pipeline "${pipelineId}" does not map ${sides[from].label} ${fromType} to ${sides[to].label} ${as ?? '(nothing)'}, so a person cannot be pushed as one.`,
    );
  }

  const [existing] = await store.links.byIds(pipelineId, from, [request.id], fromType);
  const there = existing?.[to];
  if (existing?.state === 'linked' && there?.id) {
    return {
      side: to,
      id: there.id,
      objectType: there.type,
      created: false,
      message: `Already in ${sides[to].label} as ${there.type} ${there.id}; nothing changed.`,
    };
  }
  const email = normalizeEmail(person.fields[pairPlan.email[from]]);
  if (!email)
    throw badRequest(`${sides[from].label} person ${request.id} has no email; people are matched by email.`, 422);

  // Already on the other side under this email: link it, change nothing.
  const orderedTypes = sides[to].objects.filter((t) => candidates.includes(t));
  for (const type of orderedTypes) {
    const [found] = await sides[to].connector.findByEmail(type, [email], {
      fields: [plan.email(to, type) ?? ''],
      ...options,
    });
    if (!found) continue;
    const taken = await store.links.byIds(pipelineId, to, [found.id], type);
    if (!taken.some((l) => l.state === 'linked')) {
      const sidesOf = { [from]: { type: fromType, id: request.id }, [to]: { type, id: found.id } } as PerSide<
        LinkDoc['left']
      >;
      if (existing) {
        await store.links.setOne(existing._id, { state: 'linked', ...sidesOf, email, snapshot: {} }, ['createIntent']);
      } else {
        const now = new Date();
        await store.links.tryInsert({
          _id: randomUUID(),
          pipelineId,
          ...sidesOf,
          email,
          state: 'linked',
          snapshot: {},
          createdAt: now,
          updatedAt: now,
        });
      }
    }
    return {
      side: to,
      id: found.id,
      objectType: type,
      created: false,
      message: `A ${sides[to].label} ${type} with this email already exists; nothing changed.`,
    };
  }

  // Record the intent, then create.
  const now = new Date();
  const intent = { side: to, at: now };
  const sidesOf = { [from]: { type: fromType, id: request.id }, [to]: { type: as } } as PerSide<LinkDoc['left']>;
  let linkId: string;
  if (existing) {
    linkId = existing._id;
    await store.links.setOne(linkId, { state: 'creating', ...sidesOf, email, createIntent: intent, snapshot: {} });
  } else {
    const doc: LinkDoc = {
      _id: randomUUID(),
      pipelineId,
      ...sidesOf,
      email,
      state: 'creating',
      snapshot: {},
      createIntent: intent,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await store.links.tryInsert(doc))) {
      throw new TandemError(
        'CONFLICT',
        `${sides[from].label} person ${request.id} is being synced right now; try again in a moment.`,
        { status: 409 },
      );
    }
    linkId = doc._id;
  }
  const create = valuesForCreate(pairPlan, person, to);
  const [result] = await sides[to].connector.write(
    as,
    [{ kind: 'create', ref: linkId, fields: create.values }],
    options,
  );
  const activity = { pipelineId, at: new Date(), email, side: to, [from]: { type: fromType, id: request.id } };
  if (result?.status === 'created') {
    await store.links.setOne(
      linkId,
      { state: 'linked', [to]: { type: as, id: result.id }, snapshot: create.snapshot },
      ['createIntent', 'rejection'],
    );
    await store.activity.append([
      {
        ...activity,
        type: 'created',
        [to]: { type: as, id: result.id },
        detail: `Pushed to ${sides[to].label}: created ${as} ${result.id}`,
      },
    ]);
    return { side: to, id: result.id, objectType: as, created: true };
  }
  if (result?.status === 'rejected') {
    await store.links.setOne(
      linkId,
      { state: 'rejected', rejection: { side: to, code: result.code, message: result.message, at: new Date() } },
      ['createIntent'],
    );
    await store.activity.append([
      {
        ...activity,
        type: 'rejected',
        [to]: { type: as },
        code: result.code,
        detail: `Push rejected by ${sides[to].label} ${as}: ${result.message} (${result.code})`,
      },
    ]);
    throw new TandemError(
      'REMOTE_REJECTED',
      `${sides[to].label} rejected the ${as}: ${result.message} (${result.code})`,
      {
        status: 422,
        details: { code: result.code },
      },
    );
  }
  // Unknown outcome: the intent stays, and the next attempt (a push or a cycle) looks the record up by email first.
  const message = result && 'message' in result ? result.message : 'no result';
  throw new RetryableError(
    `${sides[to].label} did not confirm the create: ${message}. Try again; nothing will be created twice.`,
  );
}
