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
    marketo: Type.String({ minLength: 1, description: 'Marketo REST field name' }),
    dynamics: Type.String({ minLength: 1, description: 'Dataverse column LogicalName' }),
    direction: DirectionSchema,
  },
  { additionalProperties: false },
);
export type FieldMapping = Static<typeof FieldMappingSchema>;

export const ObjectMappingSchema = Type.Object(
  {
    marketo: Type.Literal('lead'),
    dynamics: Type.Union([Type.Literal('contact'), Type.Literal('lead')]),
    fields: Type.Array(FieldMappingSchema, { minItems: 1 }),
    /** Marketo boolean field set to true when the linked Dynamics record is deleted ("Microsoft is Deleted"). */
    deletedFlagField: Type.Optional(Type.String({ minLength: 1 })),
    /** Marketo string field holding the Dynamics object type of the link ("Microsoft Type"). */
    typeField: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type ObjectMapping = Static<typeof ObjectMappingSchema>;

export const MappingsSchema = Type.Object(
  { objects: Type.Array(ObjectMappingSchema, { minItems: 1, maxItems: 2 }) },
  { additionalProperties: false },
);
export type Mappings = Static<typeof MappingsSchema>;

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

/** Marketo's default Dynamics field mapping (reference Part 3.5), for the fields both sandboxes carry. */
export const DEFAULT_MAPPINGS: Mappings = {
  objects: [
    {
      marketo: 'lead',
      dynamics: 'contact',
      fields: [...PERSON_FIELDS, { marketo: 'leadScore', dynamics: 'mkt_leadscore', direction: 'both' }],
      deletedFlagField: 'microsoftIsDeleted',
      typeField: 'microsoftType',
    },
    {
      marketo: 'lead',
      dynamics: 'lead',
      fields: [...PERSON_FIELDS, { marketo: 'company', dynamics: 'companyname', direction: 'both' }],
      deletedFlagField: 'microsoftIsDeleted',
      typeField: 'microsoftType',
    },
  ],
};

export type EffectiveDirection = Direction | 'none';

export interface FieldAnalysis extends FieldMapping {
  /** What actually syncs given both systems' field access. */
  effective: EffectiveDirection;
  /** Why the field syncs less than asked (empty when it syncs as mapped). */
  problems: string[];
}

export interface ObjectAnalysis {
  marketo: string;
  dynamics: string;
  fields: FieldAnalysis[];
}

export interface MappingAnalysis {
  objects: ObjectAnalysis[];
  /** Problems that make the mappings unusable (unknown fields, duplicates, no email); a PUT with any is a 400. */
  errors: string[];
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

/** Checks mappings against both systems' descriptions of their fields for the sync users. */
export function analyzeMappings(mappings: Mappings, descriptions: SystemDescriptions): MappingAnalysis {
  const errors: string[] = [];
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
      if (!m) errors.push(`${where}: Marketo has no lead field "${mapping.marketo}"`);
      if (!d) errors.push(`${where}: Dynamics ${object.dynamics} has no column "${mapping.dynamics}"`);
      if (m && d) fields.push(analyzeField(mapping, m, d, object.dynamics));
    }
    const email = object.fields.find((f) => f.marketo === descriptions.marketo.emailField);
    if (!email || email.dynamics !== dynamicsDescription.emailField) {
      errors.push(
        `${where}: the email fields (Marketo "${descriptions.marketo.emailField}" and Dynamics "${dynamicsDescription.emailField}") must be mapped to each other: people are matched by email`,
      );
    }
    for (const flag of [object.deletedFlagField, object.typeField]) {
      if (flag !== undefined && !marketoFields.has(flag)) errors.push(`${where}: Marketo has no lead field "${flag}"`);
    }
    objects.push({ marketo: object.marketo, dynamics: object.dynamics, fields });
  }
  return { objects, errors };
}
