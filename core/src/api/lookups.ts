/** Lookups shared by the route modules; each throws the 404/503 a client should see. */
import { TandemError, type ObjectDescription } from '../plugin';
import type { Pipeline } from '../repositories';
import type { Mappings, SystemDescriptions } from '../sync/mappings';
import type { ApiDeps } from './deps';

/** The single admin token is the only identity the API knows. */
export const ADMIN_ACTOR = 'admin-token';

export async function requirePipeline(deps: ApiDeps, id: string): Promise<Pipeline> {
  const pipeline = await deps.pipelines.get(id);
  if (!pipeline) throw new TandemError('NOT_FOUND', `No pipeline "${id}"`, { status: 404 });
  return pipeline;
}

const DESCRIBE_TIMEOUT_MS = 30_000;

async function describe(
  deps: ApiDeps,
  connectorId: string,
  objectType: string,
  signal: AbortSignal,
): Promise<ObjectDescription> {
  const connector = deps.plugins.connectors().get(connectorId);
  if (!connector) {
    throw new TandemError(
      'NOT_IMPLEMENTED',
      `The ${connectorId} connector is not loaded, so fields cannot be described`,
      {
        status: 503,
      },
    );
  }
  try {
    return await connector.describe(objectType, signal);
  } catch (error) {
    if (error instanceof TandemError) throw error;
    throw new TandemError(
      'CONNECTOR_REQUEST',
      `${connectorId} could not describe ${objectType}: ${error instanceof Error ? error.message : String(error)}`,
      { status: 502, cause: error },
    );
  }
}

/** Both systems' field descriptions for the object types `mappings` uses (and that Dynamics has). */
export async function describeSystems(deps: ApiDeps, mappings: Mappings): Promise<SystemDescriptions> {
  const signal = AbortSignal.timeout(DESCRIBE_TIMEOUT_MS);
  const dynamicsTypes = deps.plugins.connectors().get('dynamics')?.objectTypes ?? [];
  const wanted = [...new Set(mappings.objects.map((o) => o.dynamics))].filter((t) => dynamicsTypes.includes(t));
  const [marketo, ...dynamics] = await Promise.all([
    describe(deps, 'marketo', 'lead', signal),
    ...wanted.map((t) => describe(deps, 'dynamics', t, signal)),
  ]);
  if (wanted.length === 0) await describe(deps, 'dynamics', 'contact', signal); // surfaces "not loaded"
  return { marketo: marketo!, dynamics: Object.fromEntries(dynamics.map((d) => [d.objectType, d])) };
}
