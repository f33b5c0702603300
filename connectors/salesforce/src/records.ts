/**
 * Records as Salesforce answers them (SOQL rows, sObject Collections retrieve), turned into `RemoteRecord`s of the
 * requested fields. A required name field holding the connector's placeholder (see `requiredPlaceholder`) reads
 * as blank: it stands for "not provided", and reading it back as text would copy the placeholder into the other
 * system.
 */
import { createHash } from 'node:crypto';
import { ProtocolError, type FieldValue, type FieldValues, type RemoteRecord } from '@tandem/core/plugin';
import type { ObjectType } from './objects';

/** The required name fields a create lacking them gets the placeholder in (Salesforce refuses the create otherwise). */
export function placeholderFields(objectType: ObjectType): readonly string[] {
  return objectType === 'Lead' ? ['Company', 'LastName'] : ['LastName'];
}

export type Row = Record<string, unknown>;

function toValue(v: unknown): FieldValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  // Compound fields (an address) come as objects: kept as their JSON text.
  return JSON.stringify(v);
}

export class RecordShape {
  private readonly placeholders: ReadonlySet<string>;

  constructor(
    readonly objectType: ObjectType,
    /** The requested fields (all readable: the describe lists no others). */
    readonly fields: readonly string[],
    private readonly placeholder: string | undefined,
  ) {
    this.placeholders = new Set(placeholder === undefined ? [] : placeholderFields(objectType));
  }

  /** The fields a query selects: the requested ones and the system fields every read needs, once each. */
  select(extra: readonly string[] = []): string[] {
    return [...new Set(['Id', 'SystemModstamp', 'LastModifiedDate', ...extra, ...this.fields])];
  }

  id(row: Row): string {
    const id = row.Id;
    if (typeof id !== 'string' || id.length === 0) {
      throw new ProtocolError(`Salesforce answered a ${this.objectType} record without its Id.`);
    }
    return id;
  }

  toRecord(row: Row): RemoteRecord {
    const fields: FieldValues = {};
    for (const name of this.fields) {
      const value = toValue(row[name]);
      fields[name] = this.placeholders.has(name) && value === this.placeholder ? null : value;
    }
    const record: RemoteRecord = { id: this.id(row), fields };
    const modified = row.LastModifiedDate ?? row.SystemModstamp;
    if (typeof modified === 'string') record.modifiedAt = modified;
    return record;
  }

  /**
   * A short digest of what a record holds in the requested fields (or that it is gone), so a record read again in
   * the overlap of two reads can be told unchanged without keeping its values.
   */
  digest(record: RemoteRecord | 'gone'): string {
    const text = record === 'gone' ? '\u0000gone' : JSON.stringify(this.fields.map((f) => record.fields[f] ?? null));
    return createHash('sha256').update(text).digest('base64url').slice(0, 10);
  }
}

/** Epoch milliseconds of a Salesforce datetime (`2026-12-07T01:05:55.000+0000`), or undefined. */
export function parseSfDateTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const iso = value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}
