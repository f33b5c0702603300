/** Lookups shared by the route modules; each throws the 404 a client should see. */
import { TandemError } from '../plugin';
import type { Pipeline } from '../repositories';
import type { ApiDeps } from './deps';

/** The single admin token is the only identity the API knows. */
export const ADMIN_ACTOR = 'admin-token';

export async function requirePipeline(deps: ApiDeps, id: string): Promise<Pipeline> {
  const pipeline = await deps.pipelines.get(id);
  if (!pipeline) throw new TandemError('NOT_FOUND', `No pipeline "${id}"`, { status: 404 });
  return pipeline;
}

export function requireConnection(deps: ApiDeps, id: string): void {
  if (!deps.connections.has(id)) {
    const known = deps.connections.list().map((c) => c.id);
    throw new TandemError('NOT_FOUND', `No connection "${id}" (configured: ${known.join(', ') || 'none'})`, {
      status: 404,
    });
  }
}
