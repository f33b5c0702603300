/**
 * The object types this connector syncs, their describe (`sobjects/<Type>/describe`, as the integration user sees
 * them: fields hidden by field-level security are absent, read-only ones are neither createable nor updateable),
 * and the check of the field names a call asks for.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_sobject_describe.htm
 * Field types: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm
 */
import { TandemError, type FieldDescription, type FieldType, type ObjectDescription } from '@tandem/core/plugin';
import type { SalesforceClient } from './client';

export const OBJECT_TYPES = ['Contact', 'Lead'] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

export function objectTypeOf(objectType: string): ObjectType {
  if (objectType === 'Contact' || objectType === 'Lead') return objectType;
  throw new TandemError(
    'BAD_REQUEST',
    `Salesforce has no object type '${objectType}' here (expected Contact or Lead).`,
    {
      status: 400,
    },
  );
}

/** Fields every read asks for besides the requested ones: the id, the change feed's clock, the user's clock. */
export const SYSTEM_FIELDS = ['Id', 'SystemModstamp', 'LastModifiedDate'] as const;

const TYPES: Record<string, FieldType> = {
  id: 'string',
  string: 'string',
  encryptedstring: 'string',
  combobox: 'string',
  textarea: 'text',
  email: 'email',
  phone: 'phone',
  url: 'url',
  picklist: 'picklist',
  multipicklist: 'picklist',
  boolean: 'boolean',
  date: 'date',
  datetime: 'datetime',
  reference: 'reference',
  int: 'integer',
  long: 'integer',
  double: 'float',
  percent: 'float',
  currency: 'currency',
};

interface DescribeField {
  name: string;
  label?: string;
  type: string;
  length?: number;
  createable?: boolean;
  updateable?: boolean;
  calculated?: boolean;
}

interface DescribeAnswer {
  name?: string;
  keyPrefix?: string | null;
  fields?: DescribeField[];
}

export interface Described {
  description: ObjectDescription;
  byName: ReadonlyMap<string, FieldDescription>;
  /** The 3-character prefix of the object's ids (`003`, `00Q`). */
  keyPrefix: string | undefined;
  /** Lead: `IsConverted` is there to tell converted leads apart. */
  convertible: boolean;
}

function toField(f: DescribeField): FieldDescription {
  const type = TYPES[f.type] ?? 'other';
  const creatable = f.createable === true;
  const updatable = f.updateable === true;
  return {
    name: f.name,
    ...(f.label ? { label: f.label } : {}),
    type,
    ...(f.length && f.length > 0 && ['string', 'text', 'email', 'phone', 'url', 'picklist'].includes(type)
      ? { length: f.length }
      : {}),
    // Describe lists only the fields this user can read: the others are absent (field-level security).
    readable: true,
    creatable,
    updatable,
    ...(f.calculated
      ? { note: 'calculated by Salesforce' }
      : !creatable && !updatable
        ? { note: 'read-only for the integration user (field-level security, or kept by Salesforce)' }
        : {}),
  };
}

export class Metadata {
  private readonly cache = new Map<ObjectType, Promise<Described>>();

  constructor(private readonly client: SalesforceClient) {}

  /** The object's description; `fresh` reads it again (field security may have changed). */
  async describe(objectType: ObjectType, signal?: AbortSignal, fresh = false): Promise<Described> {
    let pending = fresh ? undefined : this.cache.get(objectType);
    if (!pending) {
      pending = this.load(objectType, signal);
      this.cache.set(objectType, pending);
      // A failed describe is not kept: the next call asks again.
      pending.catch(() => {
        if (this.cache.get(objectType) === pending) this.cache.delete(objectType);
      });
    }
    return pending;
  }

  /** Drops what is known of the object (a field vanished under us). */
  forget(objectType: ObjectType): void {
    this.cache.delete(objectType);
  }

  private async load(objectType: ObjectType, signal?: AbortSignal): Promise<Described> {
    const answer = await this.client.json<DescribeAnswer>({
      method: 'GET',
      path: `sobjects/${objectType}/describe`,
      signal,
    });
    const fields = (answer.fields ?? []).filter((f) => typeof f?.name === 'string').map(toField);
    const description: ObjectDescription = { objectType, idField: 'Id', emailField: 'Email', fields };
    const byName = new Map(fields.map((f) => [f.name, f]));
    return {
      description,
      byName,
      keyPrefix: typeof answer.keyPrefix === 'string' ? answer.keyPrefix : undefined,
      convertible: objectType === 'Lead' && byName.has('IsConverted'),
    };
  }

  /**
   * The requested fields, checked against the description: a name it does not list is `UNKNOWN_FIELD` (a field
   * hidden from this user by field-level security is not listed either: Salesforce says it does not exist).
   */
  async check(objectType: ObjectType, fields: readonly string[], signal?: AbortSignal): Promise<Described> {
    const described = await this.describe(objectType, signal);
    const unknown = [...new Set(fields)].filter((f) => !described.byName.has(f));
    if (unknown.length > 0) throw unknownFields(objectType, unknown);
    return described;
  }
}

export function unknownFields(objectType: string, names: readonly string[]): TandemError {
  return new TandemError(
    'UNKNOWN_FIELD',
    `Salesforce ${objectType} has no field ${names.map((f) => `'${f}'`).join(', ')} for the integration user (a field hidden by field-level security does not exist for it).`,
    { status: 400, details: { objectType, fields: [...names] } },
  );
}
