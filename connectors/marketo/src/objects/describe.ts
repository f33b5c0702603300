/**
 * Lead field descriptions from Describe2 (falling back to Describe, which the Swagger marks superseded but
 * every instance still serves), cached until Marketo says a field is gone: fields change rarely, and the cache
 * also answers "is this a known field?" for every read.
 */
import {
  ConnectorRequestError,
  ProtocolError,
  type FieldDescription,
  type FieldType,
  type ObjectDescription,
} from '@tandem/core/plugin';
import type { MarketoClient } from '../client';
import { isRecord } from '../client';
import { Shared } from '../shared';
import { asRecord } from './shapes';

const TYPES: Record<string, FieldType> = {
  string: 'string',
  text: 'text',
  email: 'email',
  phone: 'phone',
  url: 'url',
  integer: 'integer',
  float: 'float',
  currency: 'currency',
  boolean: 'boolean',
  date: 'date',
  datetime: 'datetime',
  reference: 'reference',
  picklist: 'picklist',
  // The field types the docs name beyond those (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/field-types):
  // Score and Percent are integers, Text area longer text, Boolean was Checkbox; custom object fields say `link`.
  score: 'integer',
  percent: 'integer',
  textarea: 'text',
  checkbox: 'boolean',
  link: 'url',
};

/** A Marketo `dataType` as a Tandem field type; the docs write some capitalised (`"String"`), some with a space. */
function typeOf(dataType: unknown): FieldType {
  const key = typeof dataType === 'string' ? dataType.toLowerCase().replace(/[\s_]/g, '') : '';
  return Object.hasOwn(TYPES, key) ? (TYPES[key] as FieldType) : 'other';
}

function field(
  name: string,
  label: unknown,
  dataType: unknown,
  length: unknown,
  updateable: boolean,
): FieldDescription {
  return {
    name,
    ...(typeof label === 'string' ? { label } : {}),
    type: typeOf(dataType),
    ...(typeof length === 'number' ? { length } : {}),
    // Marketo has no field-level security for API users: every REST field is readable.
    readable: true,
    creatable: updateable,
    updatable: updateable,
  };
}

export class LeadDescriber {
  /** The description, fetched once and kept (a failure is not kept: the next call tries again). */
  private readonly cache: Shared<ObjectDescription>;

  constructor(private readonly client: MarketoClient) {
    this.cache = new Shared((signal) => this.load(signal), true);
  }

  describe(signal?: AbortSignal): Promise<ObjectDescription> {
    return this.cache.get(signal);
  }

  /**
   * Marketo answered that a field does not exist: the description no longer tells the truth (a field hidden since
   * it was read), so the next `describe()` reads it again.
   */
  invalidate(): void {
    this.cache.clear();
  }

  async fieldNames(signal?: AbortSignal): Promise<Set<string>> {
    return new Set((await this.describe(signal)).fields.map((f) => f.name));
  }

  private async load(signal?: AbortSignal): Promise<ObjectDescription> {
    let fields: FieldDescription[];
    try {
      fields = await this.describe2(signal);
    } catch (error) {
      if (!(error instanceof ConnectorRequestError)) throw error;
      fields = await this.describe1(signal);
    }
    return { objectType: 'lead', idField: 'id', emailField: 'email', fields };
  }

  private async describe2(signal?: AbortSignal): Promise<FieldDescription[]> {
    const envelope = await this.client.get('/v1/leads/describe2.json', {}, signal);
    const first = asRecord(envelope.result[0], 'describe2');
    if (!Array.isArray(first.fields)) throw new ProtocolError('Marketo describe2: result[0].fields is not an array');
    return first.fields.map((item) => {
      const f = asRecord(item, 'describe2 field');
      if (typeof f.name !== 'string') throw new ProtocolError('Marketo describe2: a field has no name');
      return field(f.name, f.displayName, f.dataType, f.length, f.updateable === true && f.name !== 'id');
    });
  }

  private async describe1(signal?: AbortSignal): Promise<FieldDescription[]> {
    const envelope = await this.client.get('/v1/leads/describe.json', {}, signal);
    // Only fields with a `rest` block can be used over REST.
    return envelope.result.flatMap((item) => {
      const f = asRecord(item, 'describe field');
      if (!isRecord(f.rest) || typeof f.rest.name !== 'string') return [];
      return [
        field(f.rest.name, f.displayName, f.dataType, f.length, f.rest.readOnly !== true && f.rest.name !== 'id'),
      ];
    });
  }
}
