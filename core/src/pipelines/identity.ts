/**
 * The identity guard: before a cycle reads or writes anything, each connection of the pipeline says which
 * instance of its system answers. The first answers are recorded with the pipeline; a later cycle that meets
 * another instance (a refreshed sandbox org, production where a test org was, new sandboxes behind a kept
 * database) must stop: the links and cursors belong to the other instance, and following them would mark
 * people deleted or link them to strangers.
 */
import { TandemError } from '../plugin';
import type { Connections } from '../connections/connections';
import type { Pipeline } from '../repositories/pipelines';
import { SIDE_KEYS, type PerSide, type PipelineSide } from '../sync/model';

/**
 * Answers why the pipeline must stop, or undefined when it may go on (recording instances seen for the first
 * time). A connection that cannot be checked fails the cycle with its own message; one whose connector cannot
 * tell its instance is not guarded.
 */
export async function verifyInstances(
  pipeline: Pipeline,
  sides: PerSide<PipelineSide>,
  connections: Connections,
  pipelines: { bindInstances(id: string, instances: Record<string, string>): Promise<void> },
  signal: AbortSignal,
): Promise<string | undefined> {
  const checks = await Promise.all(SIDE_KEYS.map((key) => connections.check(sides[key].connection, signal)));
  const failed = SIDE_KEYS.flatMap((key, i) =>
    checks[i]?.ok ? [] : [`${sides[key].connection}: ${checks[i]?.message ?? 'the check failed'}`],
  );
  if (failed.length > 0) {
    throw new TandemError('CONNECTOR_REQUEST', `Connection check failed: ${failed.join('; ')}`, { status: 502 });
  }
  const unbound: Record<string, string> = {};
  const different: string[] = [];
  SIDE_KEYS.forEach((key, i) => {
    const connection = sides[key].connection;
    const now = checks[i]?.instance;
    if (!now) return;
    const bound = pipeline.instances?.[connection];
    if (!bound) unbound[connection] = now;
    else if (bound.instance !== now) {
      different.push(
        `connection ${connection} answers as instance "${now}", but this pipeline's links and cursors belong to "${bound.instance}" (recorded ${bound.at.toISOString()})`,
      );
    }
  });
  if (different.length > 0) {
    return (
      `Pipeline "${pipeline.id}" stopped before reading or writing anything: ${different.join('; ')}. ` +
      `If the new instance is intended (a refreshed sandbox, production instead of a test org), start the pipeline ` +
      `over with POST /v1/pipelines/${pipeline.id}/reset (or \`tandem reset ${pipeline.id}\`); otherwise point the ` +
      `connection back at the instance it had.`
    );
  }
  await pipelines.bindInstances(pipeline.id, unbound);
  return undefined;
}
