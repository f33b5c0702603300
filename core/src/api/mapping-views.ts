/**
 * How a pipeline's mappings and their analysis look over the API: keyed by connection id, like the mappings
 * themselves, so the `default` pipeline's answer is the first version's format (`marketo`, `dynamics` keys).
 * One-way directions read `to:<connection>`, or `toDynamics`-style for a pipeline kept in the first format.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Pipeline } from '../repositories/pipelines';
import type { FieldAnalysis, MappingAnalysis, Mappings } from '../sync/mappings';
import { DirectionSchema, MappingsSchema } from '../sync/mappings';
import type { SideKey } from '../sync/model';
import { connectionOf } from '../pipelines/views';

const EffectiveSchema = Type.String({ description: 'What really syncs for these users: `both`, one way, or `none`' });
const Names = { additionalProperties: Type.String() };

const FieldViewSchema = Type.Object(
  {
    direction: DirectionSchema,
    optional: Type.Optional(Type.Boolean()),
    effective: EffectiveSchema,
    problems: Type.Array(Type.String()),
  },
  { ...Names, description: 'A mapped field: its name on each side (keyed by connection id), and what really syncs' },
);

const FlagViewSchema = Type.Object({
  role: Type.Union([Type.Literal('deleted'), Type.Literal('type')]),
  connection: Type.String(),
  field: Type.String(),
  available: Type.Boolean(),
  problems: Type.Array(Type.String()),
});

export const MappingsViewSchema = Type.Object({
  objects: MappingsSchema.properties.objects,
  analysis: Type.Union([
    Type.Object({
      objects: Type.Array(
        Type.Object(
          { fields: Type.Array(FieldViewSchema), flags: Type.Array(FlagViewSchema) },
          { ...Names, description: 'An object pair: its type on each side (keyed by connection id)' },
        ),
      ),
      errors: Type.Array(Type.String()),
      missing: Type.Array(Type.String(), {
        description: 'Mapped fields (not marked optional) that a system does not have: they do not sync',
      }),
    }),
    Type.Null(),
  ]),
  unsyncable: Type.Array(
    Type.Object(
      {
        object: Type.String({ description: 'The object pair, `<first type>-><second type>`' }),
        direction: DirectionSchema,
        effective: EffectiveSchema,
        optional: Type.Optional(Type.Boolean()),
        reasons: Type.Array(Type.String()),
      },
      { ...Names, description: 'The field on each side (empty for a field the sync sets on one side only)' },
    ),
    { description: 'Mapped fields that sync less than asked (or not at all), and why' },
  ),
  analysisError: Type.Optional(Type.String({ description: 'Why the fields could not be checked right now' })),
});
export type MappingsView = Static<typeof MappingsViewSchema>;

/** How a one-way direction into `side` reads for this pipeline. */
function into(pipeline: Pipeline, side: SideKey): string {
  const connection = connectionOf(pipeline, side);
  return pipeline.legacyFormat ? `to${connection.charAt(0).toUpperCase()}${connection.slice(1)}` : `to:${connection}`;
}

function effective(pipeline: Pipeline, f: Pick<FieldAnalysis, 'to'>): string {
  if (f.to.left && f.to.right) return 'both';
  if (f.to.left) return into(pipeline, 'left');
  if (f.to.right) return into(pipeline, 'right');
  return 'none';
}

export function mappingsView(
  pipeline: Pipeline,
  mappings: Mappings,
  analysis: MappingAnalysis | null,
  analysisError?: string,
): MappingsView {
  const [left, right] = pipeline.order;
  const named = (values: { left: string; right: string }) => ({ [left]: values.left, [right]: values.right });
  const objects = (analysis?.objects ?? []).map((o) => ({
    ...named(o.types),
    fields: o.fields.map((f) => ({
      ...named(f.names),
      direction: f.direction,
      ...(f.optional ? { optional: true } : {}),
      effective: effective(pipeline, f),
      problems: f.problems,
    })),
    flags: o.flags.map((f) => ({
      role: f.role,
      connection: connectionOf(pipeline, f.side),
      field: f.field,
      available: f.available,
      problems: f.problems,
    })),
  }));
  const unsyncable = (analysis?.objects ?? []).flatMap((o) => [
    ...o.fields
      .filter((f) => f.problems.length > 0)
      .map((f) => ({
        object: `${o.types.left}->${o.types.right}`,
        ...named(f.names),
        direction: f.direction,
        effective: effective(pipeline, f),
        ...(f.optional ? { optional: true } : {}),
        reasons: f.problems,
      })),
    ...o.flags
      .filter((f) => !f.available)
      .map((f) => ({
        object: `${o.types.left}->${o.types.right}`,
        ...named(f.side === 'left' ? { left: f.field, right: '' } : { left: '', right: f.field }),
        direction: into(pipeline, f.side),
        effective: 'none',
        ...(f.optional ? { optional: true } : {}),
        reasons: f.problems,
      })),
  ]);
  return {
    objects: mappings.objects,
    analysis: analysis ? { objects, errors: analysis.errors, missing: analysis.missing } : null,
    unsyncable,
    ...(analysisError === undefined ? {} : { analysisError }),
  } as MappingsView;
}
