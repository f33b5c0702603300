/**
 * Field mappings (CONTRACT.md format) and their analysis against what each system says about its fields
 * for the sync user. The analysis decides what really syncs: a field syncs from Dynamics only if the sync
 * user can read it, to Dynamics only if it can write it; an unreadable field never syncs at all.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FieldDescription, ObjectDescription } from '../plugin';

export const DirectionSchema = Type.Union([
  Type.Literal('both'),
  Type.Literal('toDynamics'),
  Type.Literal('toMarketo'),
]);
export type Direction = Static<typeof DirectionSchema>;

export const FieldMappingSchema = Type.Object(
  {
    marketo: Type.String({ minLength: 1, maxLength: 255, description: 'Marketo REST field name' }),
    dynamics: Type.String({ minLength: 1, maxLength: 255, description: 'Dataverse column LogicalName' }),
    direction: DirectionSchema,
    optional: Type.Optional(
      Type.Boolean({
        description:
          'Syncs only where both systems have the field (a custom column, a field of a vendor sync); elsewhere it ' +
          'is listed as not syncing, and a PUT naming it is not refused',
      }),
    ),
  },
  { additionalProperties: false },
);
export type FieldMapping = Static<typeof FieldMappingSchema>;

/** A Marketo field the sync sets itself: its name, or `{ field, optional }` for one a vanilla instance lacks. */
export const FlagFieldSchema = Type.Union([
  Type.String({ minLength: 1, maxLength: 255 }),
  Type.Object(
    { field: Type.String({ minLength: 1, maxLength: 255 }), optional: Type.Boolean() },
    { additionalProperties: false },
  ),
]);
export type FlagField = Static<typeof FlagFieldSchema>;

export const ObjectMappingSchema = Type.Object(
  {
    marketo: Type.Literal('lead'),
    dynamics: Type.Union([Type.Literal('contact'), Type.Literal('lead')]),
    fields: Type.Array(FieldMappingSchema, { minItems: 1, maxItems: 500 }),
    /** Marketo boolean field set to true when the linked Dynamics record is deleted ("Microsoft is Deleted"). */
    deletedFlagField: Type.Optional(FlagFieldSchema),
    /** Marketo string field holding the Dynamics object type of the link ("Microsoft Type"). */
    typeField: Type.Optional(FlagFieldSchema),
  },
  { additionalProperties: false },
);
export type ObjectMapping = Static<typeof ObjectMappingSchema>;

export const MappingsSchema = Type.Object(
  { objects: Type.Array(ObjectMappingSchema, { minItems: 1, maxItems: 2 }) },
  { additionalProperties: false },
);
export type Mappings = Static<typeof MappingsSchema>;

/** The standard fields of a vanilla Marketo instance and a vanilla Dataverse org (both systems' references). */
const PERSON_FIELDS: FieldMapping[] = [
  { marketo: 'email', dynamics: 'emailaddress1', direction: 'both' },
  { marketo: 'firstName', dynamics: 'firstname', direction: 'both' },
  { marketo: 'lastName', dynamics: 'lastname', direction: 'both' },
  { marketo: 'title', dynamics: 'jobtitle', direction: 'both' },
  { marketo: 'phone', dynamics: 'telephone1', direction: 'both' },
  { marketo: 'mobilePhone', dynamics: 'mobilephone', direction: 'both' },
  { marketo: 'address', dynamics: 'address1_line1', direction: 'both' },
  { marketo: 'city', dynamics: 'address1_city', direction: 'both' },
  { marketo: 'state', dynamics: 'address1_stateorprovince', direction: 'both' },
  { marketo: 'country', dynamics: 'address1_country', direction: 'both' },
  { marketo: 'postalCode', dynamics: 'address1_postalcode', direction: 'both' },
  { marketo: 'unsubscribed', dynamics: 'donotbulkemail', direction: 'both' },
  { marketo: 'doNotCall', dynamics: 'donotphone', direction: 'both' },
];

/**
 * What Marketo's own Dynamics sync adds (its solution's `mkt_leadscore` column, the "Microsoft Type" and
 * "Microsoft is Deleted" person fields): none of it is in a vanilla org, so each joins only where both systems
 * describe it.
 */
const SYNC_FLAGS = {
  deletedFlagField: { field: 'microsoftIsDeleted', optional: true },
  typeField: { field: 'microsoftType', optional: true },
} as const;

/** Marketo's default Dynamics field mapping (reference Part 3.5): standard fields, plus the optional extras. */
export const DEFAULT_MAPPINGS: Mappings = {
  objects: [
    {
      marketo: 'lead',
      dynamics: 'contact',
      fields: [
        ...PERSON_FIELDS,
        { marketo: 'leadScore', dynamics: 'mkt_leadscore', direction: 'both', optional: true },
      ],
      ...SYNC_FLAGS,
    },
    {
      marketo: 'lead',
      dynamics: 'lead',
      fields: [...PERSON_FIELDS, { marketo: 'company', dynamics: 'companyname', direction: 'both' }],
      ...SYNC_FLAGS,
    },
  ],
};

/** The field a flag option names, and whether it may be absent. */
export function flagField(flag: FlagField | undefined): { field: string; optional: boolean } | undefined {
  if (flag === undefined) return undefined;
  return typeof flag === 'string' ? { field: flag, optional: false } : flag;
}

export type EffectiveDirection = Direction | 'none';

export interface FieldAnalysis extends FieldMapping {
  /** What actually syncs given both systems' field access. */
  effective: EffectiveDirection;
  /** Why the field syncs less than asked (empty when it syncs as mapped). */
  problems: string[];
}

export interface FlagAnalysis {
  role: 'deleted' | 'type';
  field: string;
  /** Whether the sync sets it (the Marketo field exists and may be written). */
  available: boolean;
  problems: string[];
}

export interface ObjectAnalysis {
  marketo: string;
  dynamics: string;
  fields: FieldAnalysis[];
  flags: FlagAnalysis[];
}

export interface MappingAnalysis {
  objects: ObjectAnalysis[];
  /**
   * Problems that make the mappings unusable: an unknown object type, a field mapped twice, no email pair. A PUT
   * with any is a 400, and a cycle stops on them with the message.
   */
  errors: string[];
  /**
   * Fields and flags the mappings name (not marked optional) that a system does not have. They do not sync,
   * and the cycle goes on with a warning; a PUT naming one is a 400, as it is most likely a typo.
   */
  missing: string[];
}

export interface SystemDescriptions {
  marketo: ObjectDescription;
  /** Keyed by Dynamics object type. */
  dynamics: Record<string, ObjectDescription>;
}

function fieldIndex(description: ObjectDescription): Map<string, FieldDescription> {
  return new Map(description.fields.map((f) => [f.name, f]));
}

function analyzeField(
  mapping: FieldMapping,
  m: FieldDescription,
  d: FieldDescription,
  dynamicsObject: string,
): FieldAnalysis {
  const problems: string[] = [];
  if (!d.readable) {
    problems.push(
      `Dynamics ${dynamicsObject}.${d.name} is not readable by the Dynamics sync user${d.note ? ` (${d.note})` : ''}; it never syncs`,
    );
    return { ...mapping, effective: 'none', problems };
  }
  let toDynamics = mapping.direction !== 'toMarketo';
  let toMarketo = mapping.direction !== 'toDynamics';
  if (toDynamics && !d.updatable && !d.creatable) {
    toDynamics = false;
    problems.push(
      `Dynamics ${dynamicsObject}.${d.name} cannot be written by the Dynamics sync user${d.note ? ` (${d.note})` : ''}`,
    );
  }
  if (toMarketo && !m.updatable) {
    toMarketo = false;
    problems.push(`Marketo lead.${m.name} is read-only over the REST API`);
  }
  const effective: EffectiveDirection =
    toDynamics && toMarketo ? 'both' : toDynamics ? 'toDynamics' : toMarketo ? 'toMarketo' : 'none';
  return { ...mapping, effective, problems };
}

/** A mapped field one system or both lack: it never syncs, like a column the sync user cannot read. */
function absentField(mapping: FieldMapping, hasMarketo: boolean, hasDynamics: boolean, dynamicsObject: string) {
  const lacking = [
    ...(hasMarketo ? [] : [`Marketo has no lead field "${mapping.marketo}"`]),
    ...(hasDynamics ? [] : [`Dynamics ${dynamicsObject} has no column "${mapping.dynamics}"`]),
  ];
  const why = mapping.optional
    ? 'an optional field, synced only where both systems have it'
    : 'it never syncs until the field exists or the mapping changes';
  return { ...mapping, effective: 'none' as const, problems: [`${lacking.join(' and ')}: ${why}`] };
}

function analyzeFlag(
  role: FlagAnalysis['role'],
  option: FlagField | undefined,
  marketoFields: Map<string, FieldDescription>,
): FlagAnalysis | undefined {
  const flag = flagField(option);
  if (!flag) return undefined;
  const what = role === 'deleted' ? 'set when the Dynamics record is deleted' : 'holding the Dynamics object type';
  const described = marketoFields.get(flag.field);
  if (!described) {
    const why = flag.optional ? 'an optional field, set only where Marketo has it' : 'it is not set';
    return {
      role,
      field: flag.field,
      available: false,
      problems: [`Marketo has no lead field "${flag.field}" (${what}): ${why}`],
    };
  }
  if (!described.updatable) {
    return {
      role,
      field: flag.field,
      available: false,
      problems: [`Marketo lead.${flag.field} (${what}) is read-only over the REST API`],
    };
  }
  return { role, field: flag.field, available: true, problems: [] };
}

/**
 * Checks mappings against both systems' descriptions of their fields for the sync users. Nothing a system
 * lacks stops the others from syncing: such a field is reported (and, unless marked optional, listed in
 * `missing`); only what leaves the mappings meaningless is an error.
 */
export function analyzeMappings(mappings: Mappings, descriptions: SystemDescriptions): MappingAnalysis {
  const errors: string[] = [];
  const missing: string[] = [];
  const marketoFields = fieldIndex(descriptions.marketo);
  const seenObjects = new Set<string>();
  const objects: ObjectAnalysis[] = [];
  for (const object of mappings.objects) {
    const where = `objects[${object.marketo}->${object.dynamics}]`;
    if (seenObjects.has(object.dynamics)) errors.push(`${where}: Dynamics ${object.dynamics} is mapped twice`);
    seenObjects.add(object.dynamics);
    const dynamicsDescription = descriptions.dynamics[object.dynamics];
    if (!dynamicsDescription) {
      errors.push(`${where}: Dynamics has no object type "${object.dynamics}"`);
      continue;
    }
    const dynamicsFields = fieldIndex(dynamicsDescription);
    const seenMarketo = new Set<string>();
    const seenDynamics = new Set<string>();
    const fields: FieldAnalysis[] = [];
    for (const mapping of object.fields) {
      const m = marketoFields.get(mapping.marketo);
      const d = dynamicsFields.get(mapping.dynamics);
      if (seenMarketo.has(mapping.marketo)) errors.push(`${where}: Marketo field "${mapping.marketo}" is mapped twice`);
      if (seenDynamics.has(mapping.dynamics))
        errors.push(`${where}: Dynamics column "${mapping.dynamics}" is mapped twice`);
      seenMarketo.add(mapping.marketo);
      seenDynamics.add(mapping.dynamics);
      if (m && d) {
        fields.push(analyzeField(mapping, m, d, object.dynamics));
        continue;
      }
      fields.push(absentField(mapping, m !== undefined, d !== undefined, object.dynamics));
      if (mapping.optional) continue;
      if (!m) missing.push(`${where}: Marketo has no lead field "${mapping.marketo}"`);
      if (!d) missing.push(`${where}: Dynamics ${object.dynamics} has no column "${mapping.dynamics}"`);
    }
    const marketoEmail = descriptions.marketo.emailField;
    const email = fields.find((f) => f.marketo === marketoEmail && f.dynamics === dynamicsDescription.emailField);
    if (!email || email.effective !== 'both') {
      errors.push(
        `${where}: people are matched by email, so map Marketo "${marketoEmail}" to Dynamics "${dynamicsDescription.emailField}" with direction "both"${
          email ? ` (it cannot sync both ways: ${email.problems.join('; ')})` : ''
        }`,
      );
    }
    const flags: FlagAnalysis[] = [];
    for (const [role, option] of [
      ['deleted', object.deletedFlagField],
      ['type', object.typeField],
    ] as const) {
      const flag = analyzeFlag(role, option, marketoFields);
      if (!flag) continue;
      flags.push(flag);
      if (!marketoFields.has(flag.field) && !flagField(option)?.optional)
        missing.push(`${where}: Marketo has no lead field "${flag.field}"`);
    }
    objects.push({ marketo: object.marketo, dynamics: object.dynamics, fields, flags });
  }
  return { objects, errors, missing };
}
