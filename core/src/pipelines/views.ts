/**
 * How a pipeline's runs, links and activity look over the API, and how queries naming connections become
 * queries on sides. Records are keyed by connection id; a pipeline kept in the first version's format also gets
 * that version's keys, derived from its connection ids (`<connection>Id`, and `<connection>Type` for a side with
 * several object types).
 */
import { TandemError } from '../plugin';
import type { ActivityDoc, LinkDoc, LinkSide, RunDoc } from '../repositories/sync-store';
import type { Pipeline } from '../repositories/pipelines';
import { SIDE_KEYS, type SideKey } from '../sync/model';
import type { ActivityEntry, Link, Run } from '../sync/service';

export function sideOf(pipeline: Pipeline, connection: string): SideKey | undefined {
  return connection === pipeline.order[0] ? 'left' : connection === pipeline.order[1] ? 'right' : undefined;
}

export function connectionOf(pipeline: Pipeline, side: SideKey): string {
  return side === 'left' ? pipeline.order[0] : pipeline.order[1];
}

export function runView(doc: RunDoc): Run {
  return {
    id: doc._id,
    pipelineId: doc.pipelineId,
    trigger: doc.trigger,
    status: doc.status,
    counts: doc.counts,
    ...(doc.sides ? { sides: doc.sides } : {}),
    startedAt: doc.startedAt ? doc.startedAt.toISOString() : null,
    finishedAt: doc.finishedAt ? doc.finishedAt.toISOString() : null,
    ...(doc.error ? { error: doc.error } : {}),
    ...(doc.warnings?.length ? { warnings: doc.warnings } : {}),
    ...(doc.progress ? { progress: doc.progress } : {}),
  };
}

/** The first version's keys for a person's records. */
function legacyKeys(
  pipeline: Pipeline,
  sides: Partial<Record<SideKey, LinkSide>>,
  all: boolean,
): Record<string, string | null> {
  if (!pipeline.legacyFormat) return {};
  const out: Record<string, string | null> = {};
  for (const side of SIDE_KEYS) {
    const connection = connectionOf(pipeline, side);
    const record = sides[side];
    if (record?.id !== undefined || all) out[`${connection}Id`] = record?.id ?? null;
    if ((pipeline.sides[connection]?.objects.length ?? 0) > 1 && record) out[`${connection}Type`] = record.type;
  }
  return out;
}

export function linkView(pipeline: Pipeline, doc: LinkDoc): Link {
  const ids: Record<string, string | null> = {};
  const objects: Record<string, string> = {};
  for (const side of SIDE_KEYS) {
    const connection = connectionOf(pipeline, side);
    ids[connection] = doc[side].id ?? null;
    objects[connection] = doc[side].type;
  }
  return {
    ...legacyKeys(pipeline, doc, true),
    ids,
    objects,
    email: doc.email ?? null,
    state: doc.state,
    updatedAt: doc.updatedAt.toISOString(),
  };
}

export function activityView(pipeline: Pipeline, doc: ActivityDoc): ActivityEntry {
  const ids: Record<string, string | null> = {};
  const objects: Record<string, string> = {};
  for (const side of SIDE_KEYS) {
    const record = doc[side];
    if (!record) continue;
    const connection = connectionOf(pipeline, side);
    ids[connection] = record.id ?? null;
    objects[connection] = record.type;
  }
  return {
    at: doc.at.toISOString(),
    type: doc.type,
    detail: doc.detail,
    ...legacyKeys(pipeline, doc, false),
    ...(doc.runId ? { runId: doc.runId } : {}),
    ...(Object.keys(ids).length > 0 ? { ids, objects } : {}),
    ...(doc.email ? { email: doc.email } : {}),
    ...(doc.side ? { connection: connectionOf(pipeline, doc.side) } : {}),
    ...(doc.code ? { code: doc.code } : {}),
  };
}

/**
 * `{ connection, recordId }` (or the first version's `<connection>Id=`) as a side and record id; an email as it
 * is. Anything else names a parameter this pipeline does not have: a 400 naming it.
 */
export function recordQuery(
  pipeline: Pipeline,
  query: Record<string, unknown>,
  known: readonly string[],
): { side?: SideKey; recordId?: string; email?: string } {
  const out: { side?: SideKey; recordId?: string; email?: string } = {};
  if (typeof query['email'] === 'string') out.email = query['email'];
  const connection = query['connection'];
  const recordId = query['recordId'];
  if (typeof connection === 'string' || typeof recordId === 'string') {
    if (typeof connection !== 'string' || typeof recordId !== 'string') {
      throw badRequest('Give both `connection` and `recordId` to find a record');
    }
    const side = sideOf(pipeline, connection);
    if (!side)
      throw badRequest(
        `Pipeline "${pipeline.id}" has no connection "${connection}" (it has ${pipeline.order.join(', ')})`,
      );
    out.side = side;
    out.recordId = recordId;
  }
  for (const [name, value] of Object.entries(query)) {
    if (known.includes(name) || value === undefined) continue;
    const legacy = pipeline.legacyFormat ? /^(.+)Id$/.exec(name)?.[1] : undefined;
    const side = legacy === undefined ? undefined : sideOf(pipeline, legacy);
    if (!side || typeof value !== 'string') throw badRequest(`querystring.${name} is not allowed`);
    if (out.side !== undefined) throw badRequest('Name one record: one connection and record id');
    out.side = side;
    out.recordId = value;
  }
  return out;
}

function badRequest(message: string): TandemError {
  return new TandemError('BAD_REQUEST', message, { status: 400 });
}
