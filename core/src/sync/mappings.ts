/**
 * Field mappings (CONTRACT.md format, keyed by connection id) and their analysis against what each side says
 * about its fields for its sync user. The analysis decides what really syncs: a field syncs from a side only
 * if that side's user can read it, to a side only if it can write it; a field unreadable on either side never
 * syncs, and a field a side does not have at all is reported and left out rather than stopping the cycle.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FieldDescription, ObjectDescription } from '../plugin';
import { SIDE_KEYS, type PerSide, type SideKey } from './model';

const CONNECTION_ID = '[a-z][a-z0-9]*(?:-[a-z0-9]+)*';

export const DirectionSchema = Type.String({
  pattern: `^(both|to:${CONNECTION_ID}|to[A-Z][A-Za-z0-9]*)$`,
  description:
    '`both`, or `to:<connection>` (one way, into that connection); `toMarketo`-style names (`to` and the ' +
    'connection id capitalised) mean the same',
  examples: ['both', 'to:dynamics', 'toMarketo'],
});

const FieldName = Type.String({ minLength: 1, maxLength: 255 });

export const FieldMappingSchema = Type.Object(
  {
    direction: DirectionSchema,
    optional: Type.Optional(
      Type.Boolean({
        description:
          'Syncs only where both systems have the field (a custom column, a field of a vendor sync); elsewhere ' +
          'it is listed as not syncing, and a PUT naming it is not refused',
      }),
    ),
  },
  {
    additionalProperties: FieldName,
    description:
      'The field on each side, keyed by connection id: `{ "marketo": "email", "dynamics": "emailaddress1" }`',
  },
);
export interface FieldMapping {
  direction: string;
  optional?: boolean;
  [connection: string]: string | boolean | undefined;
}

/** A field the sync itself sets on one side: its name, or `{ field, optional }` for one a vanilla org lacks. */
const FlagFieldValue = Type.Union([
  FieldName,
  Type.Object({ field: FieldName, optional: Type.Boolean() }, { additionalProperties: false }),
]);
export type FlagFieldValue = Static<typeof FlagFieldValue>;

export const FlagFieldSchema = Type.Union([
  FlagFieldValue,
  Type.Object({}, { additionalProperties: FlagFieldValue, description: 'Keyed by the connection holding it' }),
]);
export type FlagField = FlagFieldValue | Record<string, FlagFieldValue>;

export const ObjectMappingSchema = Type.Object(
  {
    fields: Type.Array(FieldMappingSchema, { minItems: 1, maxItems: 500 }),
    /**
     * A boolean the sync sets when the other side's record is deleted (Marketo's "Microsoft is Deleted"): a
     * name (on the pipeline's first side) or `{ <connection>: name }`.
     */
    deletedFlagField: Type.Optional(FlagFieldSchema),
    /** A field the sync sets to the other side's object type of the link (Marketo's "Microsoft Type"). */
    typeField: Type.Optional(FlagFieldSchema),
  },
  {
    additionalProperties: Type.String({ minLength: 1, maxLength: 255 }),
    description: 'The object type on each side, keyed by connection id: `{ "marketo": "lead", "dynamics": "contact" }`',
  },
);
export interface ObjectMapping {
  fields: FieldMapping[];
  deletedFlagField?: FlagField;
  typeField?: FlagField;
  [connection: string]: string | FieldMapping[] | FlagField | undefined;
}

export const MappingsSchema = Type.Object(
  { objects: Type.Array(ObjectMappingSchema, { minItems: 1, maxItems: 50 }) },
  { additionalProperties: false },
);
export interface Mappings {
  objects: ObjectMapping[];
}

const RESERVED = new Set(['fields', 'deletedFlagField', 'typeField']);

// ---- normalising against a pipeline's sides ---------------------------------------------------------

export interface NormalizedField {
  names: PerSide<string>;
  /** Which ways the mapping allows (before what the systems allow). */
  to: PerSide<boolean>;
  direction: string;
  optional: boolean;
}

export interface NormalizedFlag {
  side: SideKey;
  role: 'deleted' | 'type';
  field: string;
  optional: boolean;
}

export interface NormalizedObject {
  types: PerSide<string>;
  fields: NormalizedField[];
  flags: NormalizedFlag[];
}

/** The connection a one-way direction points into, or undefined for `both`. */
export function directionTarget(direction: string): string | undefined {
  if (direction === 'both') return undefined;
  if (direction.startsWith('to:')) return direction.slice(3);
  const camel = direction.slice(2);
  return camel.charAt(0).toLowerCase() + camel.slice(1);
}

function flagValue(value: FlagFieldValue): { field: string; optional: boolean } {
  return typeof value === 'string' ? { field: value, optional: false } : value;
}

/**
 * Reads `mappings` for a pipeline whose sides are the connections `sides`: every object and field names both,
 * directions name one of them; a flag without a connection key belongs to the first side. Problems are
 * returned, one per line, never thrown.
 */
export function normalizeMappings(
  mappings: Mappings,
  sides: PerSide<string>,
): { objects: NormalizedObject[]; errors: string[] } {
  const errors: string[] = [];
  const objects: NormalizedObject[] = [];
  const sideOf = (connection: string): SideKey | undefined =>
    connection === sides.left ? 'left' : connection === sides.right ? 'right' : undefined;
  mappings.objects.forEach((object, index) => {
    const keys = Object.keys(object).filter((k) => !RESERVED.has(k));
    const stray = keys.filter((k) => sideOf(k) === undefined);
    const where = `objects[${index}]`;
    if (stray.length > 0) {
      errors.push(
        `${where}: ${stray.map((k) => `"${k}"`).join(', ')} is not a connection of this pipeline (${sides.left}, ${sides.right})`,
      );
    }
    const typeOf = (side: SideKey) => object[sides[side]];
    const left = typeOf('left');
    const right = typeOf('right');
    if (typeof left !== 'string' || typeof right !== 'string') {
      errors.push(`${where}: name the object type of both connections ("${sides.left}" and "${sides.right}")`);
      return;
    }
    const label = `objects[${left}->${right}]`;
    const fields: NormalizedField[] = [];
    object.fields.forEach((field, i) => {
      const names = { left: field[sides.left], right: field[sides.right] };
      const fieldStray = Object.keys(field).filter(
        (k) => k !== 'direction' && k !== 'optional' && sideOf(k) === undefined,
      );
      if (fieldStray.length > 0) {
        errors.push(
          `${label}.fields[${i}]: ${fieldStray.map((k) => `"${k}"`).join(', ')} is not a connection of this pipeline`,
        );
      }
      if (typeof names.left !== 'string' || typeof names.right !== 'string') {
        errors.push(`${label}.fields[${i}]: name the field of both connections ("${sides.left}" and "${sides.right}")`);
        return;
      }
      const target = directionTarget(field.direction);
      const targetSide = target === undefined ? undefined : sideOf(target);
      if (target !== undefined && targetSide === undefined) {
        errors.push(`${label}.fields[${i}]: direction "${field.direction}" names no connection of this pipeline`);
        return;
      }
      fields.push({
        names: { left: names.left, right: names.right },
        to: { left: targetSide !== 'right', right: targetSide !== 'left' },
        direction: field.direction,
        optional: field.optional === true,
      });
    });
    const flags: NormalizedFlag[] = [];
    for (const [role, option] of [
      ['deleted', object.deletedFlagField],
      ['type', object.typeField],
    ] as const) {
      if (option === undefined) continue;
      const entries: Array<[string, FlagFieldValue]> =
        typeof option === 'string' || 'field' in option
          ? [[sides.left, option as FlagFieldValue]]
          : Object.entries(option);
      for (const [connection, value] of entries) {
        const side = sideOf(connection);
        if (!side) {
          errors.push(
            `${label}: ${role === 'deleted' ? 'deletedFlagField' : 'typeField'} names "${connection}", not a connection of this pipeline`,
          );
          continue;
        }
        flags.push({ side, role, ...flagValue(value) });
      }
    }
    objects.push({ types: { left, right }, fields, flags });
  });
  return { objects, errors };
}

// ---- analysis against what each side describes ---------------------------------------------------------

export interface FieldAnalysis {
  names: PerSide<string>;
  direction: string;
  optional: boolean;
  /** What really syncs, each way, given both sides' field access. */
  to: PerSide<boolean>;
  /**
   * Values that differ only in letter case are the same value: an email on either side (a system may store
   * emails in lower case, as Salesforce does, and that must not read as an edit to write back).
   */
  caseInsensitive: boolean;
  /** Why the field syncs less than asked (empty when it syncs as mapped). */
  problems: string[];
}

export interface FlagAnalysis {
  side: SideKey;
  role: 'deleted' | 'type';
  field: string;
  optional: boolean;
  /** Whether the sync sets it (the field exists and may be written). */
  available: boolean;
  problems: string[];
}

export interface ObjectAnalysis {
  types: PerSide<string>;
  fields: FieldAnalysis[];
  flags: FlagAnalysis[];
}

export interface MappingAnalysis {
  objects: ObjectAnalysis[];
  /**
   * Problems that make the mappings unusable: an unknown connection or object type, a field mapped twice, no
   * email pair. A PUT with any is a 400, and a cycle stops on them with the message.
   */
  errors: string[];
  /**
   * Fields and flags the mappings name (not marked optional) that a side does not have. They do not sync, and
   * the cycle goes on with a warning; a PUT naming one is a 400, as it is most likely a typo.
   */
  missing: string[];
}

/** One side as the analysis sees it: how to name it, and its descriptions by object type. */
export interface DescribedSide {
  label: string;
  objects: ReadonlyMap<string, ObjectDescription>;
}

function fieldIndex(description: ObjectDescription): Map<string, FieldDescription> {
  return new Map(description.fields.map((f) => [f.name, f]));
}

function note(f: FieldDescription): string {
  return f.note ? ` (${f.note})` : '';
}

function analyzeField(
  mapping: NormalizedField,
  found: PerSide<FieldDescription>,
  sides: PerSide<DescribedSide>,
  types: PerSide<string>,
): FieldAnalysis {
  const problems: string[] = [];
  const where = (side: SideKey) => `${sides[side].label} ${types[side]}.${found[side].name}`;
  const unreadable = SIDE_KEYS.filter((side) => !found[side].readable);
  if (unreadable.length > 0) {
    for (const side of unreadable) {
      problems.push(
        `${where(side)} is not readable by the ${sides[side].label} sync user${note(found[side])}; it never syncs`,
      );
    }
    return { ...base(mapping, found), to: { left: false, right: false }, problems };
  }
  const to = { ...mapping.to };
  for (const side of SIDE_KEYS) {
    if (to[side] && !found[side].updatable && !found[side].creatable) {
      to[side] = false;
      problems.push(`${where(side)} cannot be written by the ${sides[side].label} sync user${note(found[side])}`);
    }
  }
  return { ...base(mapping, found), to, problems };
}

function base(
  mapping: NormalizedField,
  found: PerSide<FieldDescription | undefined>,
): Omit<FieldAnalysis, 'to' | 'problems'> {
  return {
    names: mapping.names,
    direction: mapping.direction,
    optional: mapping.optional,
    caseInsensitive: SIDE_KEYS.some((side) => found[side]?.type === 'email'),
  };
}

function analyzeFlag(
  flag: NormalizedFlag,
  fields: Map<string, FieldDescription>,
  side: DescribedSide,
  type: string,
): FlagAnalysis {
  const what =
    flag.role === 'deleted' ? "set when the other side's record is deleted" : "holding the other side's object type";
  const described = fields.get(flag.field);
  if (!described) {
    const why = flag.optional ? `an optional field, set only where ${side.label} has it` : 'it is not set';
    return {
      ...flag,
      available: false,
      problems: [`${side.label} ${type} has no field "${flag.field}" (${what}): ${why}`],
    };
  }
  if (!described.updatable && !described.creatable) {
    return {
      ...flag,
      available: false,
      problems: [`${side.label} ${type}.${flag.field} (${what}) cannot be written by the ${side.label} sync user`],
    };
  }
  return { ...flag, available: true, problems: [] };
}

/**
 * Checks normalised mappings against both sides' descriptions of their fields for the sync users. Nothing a
 * side lacks stops the others from syncing: such a field is reported (and, unless marked optional, listed in
 * `missing`); only what leaves the mappings meaningless is an error.
 */
export function analyzeMappings(
  normalized: { objects: NormalizedObject[]; errors: string[] },
  sides: PerSide<DescribedSide>,
): MappingAnalysis {
  const errors = [...normalized.errors];
  const missing: string[] = [];
  const seenPairs = new Set<string>();
  const objects: ObjectAnalysis[] = [];
  for (const object of normalized.objects) {
    const where = `objects[${object.types.left}->${object.types.right}]`;
    if (seenPairs.has(where)) errors.push(`${where}: this pair of object types is mapped twice`);
    seenPairs.add(where);
    const described = {
      left: sides.left.objects.get(object.types.left),
      right: sides.right.objects.get(object.types.right),
    };
    const absentTypes = SIDE_KEYS.filter((side) => !described[side]);
    if (absentTypes.length > 0) {
      for (const side of absentTypes)
        errors.push(`${where}: ${sides[side].label} has no object type "${object.types[side]}"`);
      continue;
    }
    const descriptions = described as PerSide<ObjectDescription>;
    const indexes = { left: fieldIndex(descriptions.left), right: fieldIndex(descriptions.right) };
    const seen = { left: new Set<string>(), right: new Set<string>() };
    const fields: FieldAnalysis[] = [];
    for (const mapping of object.fields) {
      for (const side of SIDE_KEYS) {
        if (seen[side].has(mapping.names[side])) {
          errors.push(`${where}: ${sides[side].label} field "${mapping.names[side]}" is mapped twice`);
        }
        seen[side].add(mapping.names[side]);
      }
      const found = { left: indexes.left.get(mapping.names.left), right: indexes.right.get(mapping.names.right) };
      if (found.left && found.right) {
        fields.push(analyzeField(mapping, found as PerSide<FieldDescription>, sides, object.types));
        continue;
      }
      const lacking = SIDE_KEYS.filter((side) => !found[side]).map(
        (side) => `${sides[side].label} ${object.types[side]} has no field "${mapping.names[side]}"`,
      );
      const why = mapping.optional
        ? 'an optional field, synced only where both systems have it'
        : 'it never syncs until the field exists or the mapping changes';
      fields.push({
        ...base(mapping, found),
        to: { left: false, right: false },
        problems: [`${lacking.join(' and ')}: ${why}`],
      });
      if (!mapping.optional) for (const line of lacking) missing.push(`${where}: ${line}`);
    }
    const emails = { left: descriptions.left.emailField, right: descriptions.right.emailField };
    const email = fields.find((f) => f.names.left === emails.left && f.names.right === emails.right);
    // The pair people are matched by is an email whatever type a connector gives it.
    if (email) email.caseInsensitive = true;
    if (!email || !email.to.left || !email.to.right) {
      errors.push(
        `${where}: people are matched by email, so map ${sides.left.label} "${emails.left}" to ${sides.right.label} "${emails.right}" with direction "both"${
          email && email.problems.length > 0 ? ` (it cannot sync both ways: ${email.problems.join('; ')})` : ''
        }`,
      );
    }
    const flags = object.flags.map((flag) => {
      const analysis = analyzeFlag(flag, indexes[flag.side], sides[flag.side], object.types[flag.side]);
      if (!indexes[flag.side].has(flag.field) && !flag.optional) {
        missing.push(`${where}: ${sides[flag.side].label} ${object.types[flag.side]} has no field "${flag.field}"`);
      }
      return analysis;
    });
    objects.push({ types: object.types, fields, flags });
  }
  return { objects, errors, missing };
}
