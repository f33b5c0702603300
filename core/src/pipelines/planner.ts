/**
 * From a stored pipeline to what a cycle works with: its two sides (connections, in order, with what the
 * pipeline configures for each), both sides' field descriptions, the mappings' analysis and the field plan.
 */
import { TandemError, type ObjectDescription } from '../plugin';
import type { Connections } from '../connections/connections';
import type { Pipeline } from '../repositories/pipelines';
import { FieldPlan } from '../sync/field-plan';
import { analyzeMappings, normalizeMappings, type MappingAnalysis, type Mappings } from '../sync/mappings';
import { SIDE_KEYS, type PerSide, type PipelineSide, type SideKey } from '../sync/model';

/** The pipeline's sides as a cycle uses them; a connection that is not configured is a 503 naming it. */
export function pipelineSides(pipeline: Pipeline, connections: Connections): PerSide<PipelineSide> {
  const side = (key: SideKey): PipelineSide => {
    const connection = key === 'left' ? pipeline.order[0] : pipeline.order[1];
    const connector = connections.get(connection);
    if (!connector) {
      throw new TandemError(
        'NOT_IMPLEMENTED',
        `Pipeline "${pipeline.id}" needs connection "${connection}", which is not configured (set its connector's variables, or install its plugin)`,
        { status: 503 },
      );
    }
    const config = pipeline.sides[connection] ?? { objects: [...connector.objectTypes] };
    return {
      key,
      connection,
      connector,
      label: connector.label ?? connection,
      objects: config.objects,
      ...(config.newRecordsAs ? { newRecordsAs: config.newRecordsAs } : {}),
      deletes: config.deletes ?? 'unlink',
    };
  };
  return { left: side('left'), right: side('right') };
}

export interface PipelinePlan {
  sides: PerSide<PipelineSide>;
  analysis: MappingAnalysis;
  plan: FieldPlan;
  /** A warning per mapped field a system lacks (it does not sync; the rest does). */
  warnings: string[];
}

/**
 * Describes, on each side, the object types the mappings name that the side takes part with, and analyses
 * `mappings` (the pipeline's own, or ones about to be saved) against them.
 */
export async function analyzePipeline(
  pipeline: Pipeline,
  connections: Connections,
  mappings: Mappings = pipeline.mappings,
  signal?: AbortSignal,
): Promise<{ sides: PerSide<PipelineSide>; analysis: MappingAnalysis }> {
  const sides = pipelineSides(pipeline, connections);
  const normalized = normalizeMappings(mappings, { left: sides.left.connection, right: sides.right.connection });
  const described = await Promise.all(
    SIDE_KEYS.map(async (key) => {
      const wanted = new Set(normalized.objects.map((o) => o.types[key]));
      const types = sides[key].objects.filter((t) => wanted.has(t) && sides[key].connector.objectTypes.includes(t));
      const descriptions = await Promise.all(types.map((t) => connections.describe(sides[key].connection, t, signal)));
      return new Map<string, ObjectDescription>(descriptions.map((d, i) => [types[i] as string, d]));
    }),
  );
  const analysis = analyzeMappings(normalized, {
    left: { label: sides.left.label, objects: described[0] ?? new Map() },
    right: { label: sides.right.label, objects: described[1] ?? new Map() },
  });
  // An object type the pipeline's side does not list is not part of it, even if the system has it.
  for (const object of normalized.objects) {
    for (const key of SIDE_KEYS) {
      if (!sides[key].objects.includes(object.types[key])) {
        analysis.errors.push(
          `objects[${object.types.left}->${object.types.right}]: ${sides[key].label} ${object.types[key]} is not among this pipeline's ${sides[key].connection} objects (${sides[key].objects.join(', ')})`,
        );
      }
    }
  }
  return { sides, analysis };
}

/** The cycle's plan; mappings that leave nothing to match people by stop it (409 with what to map). */
export async function planPipeline(
  pipeline: Pipeline,
  connections: Connections,
  signal?: AbortSignal,
): Promise<PipelinePlan> {
  const { sides, analysis } = await analyzePipeline(pipeline, connections, pipeline.mappings, signal);
  if (analysis.errors.length > 0) {
    throw new TandemError('BAD_CONFIG', `The pipeline's mappings are not usable: ${analysis.errors.join('; ')}`, {
      status: 409,
    });
  }
  const emails = await Promise.all(
    SIDE_KEYS.map(async (key) => {
      const types = [...new Set(analysis.objects.map((o) => o.types[key]))];
      const described = await Promise.all(types.map((t) => connections.describe(sides[key].connection, t, signal)));
      return new Map(described.map((d, i) => [types[i] as string, d.emailField]));
    }),
  );
  const plan = FieldPlan.build(analysis, { left: emails[0] ?? new Map(), right: emails[1] ?? new Map() });
  return { sides, analysis, plan, warnings: analysis.missing.map((m) => `Not synced: ${m}`) };
}
