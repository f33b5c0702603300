/**
 * Writes of one or more object types: field names checked against the description first (an unknown one throws
 * `UNKNOWN_FIELD` before anything is written), required name fields a create lacks given the placeholder, then
 * each object type's creates, and its updates, through a Bulk API 2.0 job when they are at least `bulkThreshold`,
 * the rest through sObject Collections (Contacts and Leads sharing requests). One result per op, in input order.
 */
import { type FieldValues, type WriteGroup, type WriteOp, type WriteResult } from '@tandem/core/plugin';
import type { Metadata, ObjectType } from '../objects';
import { objectTypeOf } from '../objects';
import { placeholderFields } from '../records';
import type { BulkWriter } from './bulk';
import type { CollectionsWriter, Item } from './collections';
import { requestFailed } from './results';

const ID = /^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$/;

function blank(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

export interface WriterSettings {
  placeholder: string | undefined;
  bulkThreshold: number;
}

export class Writer {
  constructor(
    private readonly metadata: Metadata,
    private readonly collections: CollectionsWriter,
    private readonly bulk: BulkWriter,
    private readonly settings: WriterSettings,
  ) {}

  async write(groups: ReadonlyArray<WriteGroup>, signal?: AbortSignal): Promise<WriteResult[][]> {
    signal?.throwIfAborted();
    const results = groups.map((g) => new Array<WriteResult | undefined>(g.ops.length).fill(undefined));
    const items: Array<{ group: number; index: number; item: Item }> = [];
    for (const [g, group] of groups.entries()) {
      const objectType = objectTypeOf(group.objectType);
      const names = [...new Set(group.ops.flatMap((op) => Object.keys(op.fields)))];
      const described = await this.metadata.check(objectType, names, signal);
      group.ops.forEach((op, index) => {
        if (
          op.kind === 'update' &&
          (!ID.test(op.id) || (described.keyPrefix && !op.id.startsWith(described.keyPrefix)))
        ) {
          (results[g] as Array<WriteResult | undefined>)[index] = {
            ref: op.ref,
            status: 'not-found',
            message: `'${op.id}' is not the id of a Salesforce ${objectType}.`,
          };
          return;
        }
        items.push({ group: g, index, item: { objectType, op, values: this.values(objectType, op) } });
      });
    }

    // Phases: each large enough (object type, kind) as a Bulk API 2.0 job, everything else through Collections.
    const phases: Array<{ items: typeof items; run: (batch: Item[]) => Promise<WriteResult[]> }> = [];
    const rest: typeof items = [];
    for (const objectType of new Set(items.map((i) => i.item.objectType))) {
      for (const kind of ['create', 'update'] as const) {
        const part = items.filter((i) => i.item.objectType === objectType && i.item.op.kind === kind);
        if (part.length >= this.settings.bulkThreshold) {
          phases.push({ items: part, run: (batch) => this.bulk.write(objectType, batch, signal) });
        } else rest.push(...part);
      }
    }
    if (rest.length > 0) phases.push({ items: rest, run: (batch) => this.collections.write(batch, signal) });

    let saved = false;
    for (const phase of phases) {
      let outcome: WriteResult[];
      try {
        outcome = await phase.run(phase.items.map((i) => i.item));
      } catch (error) {
        // Nothing saved yet: throwing loses nothing. Otherwise the saved records' results must reach the engine.
        if (signal?.aborted || !saved) throw error;
        outcome = phase.items.map((i) => requestFailed(i.item.op, error));
      }
      phase.items.forEach((entry, j) => {
        const result = outcome[j] as WriteResult;
        (results[entry.group] as Array<WriteResult | undefined>)[entry.index] = result;
        if (result.status === 'created' || result.status === 'updated') saved = true;
      });
    }
    return results.map((list, g) =>
      list.map(
        (r, i) =>
          r ?? {
            ref: (groups[g]?.ops[i] as WriteOp).ref,
            status: 'failed',
            code: 'NO_RESULT',
            message: 'No result.',
            retryable: true,
          },
      ),
    );
  }

  /** The values to send: a required name left blank gets the placeholder (Salesforce refuses the record otherwise). */
  private values(objectType: ObjectType, op: WriteOp): FieldValues {
    const values: FieldValues = { ...op.fields };
    const placeholder = this.settings.placeholder;
    if (placeholder === undefined) return values;
    for (const name of placeholderFields(objectType)) {
      const given = name in values;
      if ((op.kind === 'create' || given) && blank(values[name])) values[name] = placeholder;
    }
    return values;
  }
}
