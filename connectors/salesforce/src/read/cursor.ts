/**
 * The change feed's cursor: JSON, opaque to the engine. At a read's end it says where the next read starts (the
 * query's lower bound on `SystemModstamp`, the delete log's start) and what each record changed in the overlap
 * held then (a digest per record), so a record read again unchanged is left out. While a read is under way it
 * also says where in it a page ended (the last record handed, the batch after it), what the read has seen so
 * far, and the deletes the delete log listed that are still to hand on.
 */
import { TandemError } from '@tandem/core/plugin';
import type { ObjectType } from '../objects';

/** A record seen: its id, its `SystemModstamp` (epoch seconds), the digest of its requested fields (or "gone"). */
export type Entry = [id: string, stamp: number, digest: string];

export interface ReadPosition {
  /** The last record handed on: its `SystemModstamp` (ms) and id (a keyset to resume after). */
  after: [stamp: number, id: string];
  /** `nextRecordsUrl` of the batch after the page, when the page ended a batch. */
  next?: string;
  /** Entries of the records this read has seen so far (pruned to those that can outlive it). */
  seen: Entry[];
  /** Deletes the delete log listed at the read's start that no record read since has explained: [id, deletedDate ms]. */
  pending: Array<[id: string, deletedAt: number]>;
  /** Where the delete log was covered to (the next read's `deletedFrom`). */
  deletedTo: number;
  /** Server time (ms) when the read began. */
  startedAt: number;
  soFar: number;
  total?: number;
}

export interface ChangeCursor {
  v: 1;
  object: ObjectType;
  phase: 'initial' | 'incremental';
  /** The next query's lower bound on `SystemModstamp` (ms); null before the first read has ended (every record). */
  from: number | null;
  /** Records seen at a stamp from `from` (or from `deletedFrom`, if earlier): what they held then. */
  entries: Entry[];
  /** Where the delete log is read from (ms, a whole minute). */
  deletedFrom: number;
  /** Present while a read is under way: where its last page ended. */
  read?: ReadPosition;
}

function isEntry(value: unknown): value is Entry {
  return (
    Array.isArray(value) &&
    value.length === 3 &&
    typeof value[0] === 'string' &&
    typeof value[1] === 'number' &&
    typeof value[2] === 'string'
  );
}

function badCursor(objectType: string, text: string): TandemError {
  return new TandemError(
    'BAD_REQUEST',
    `Not a Salesforce ${objectType} cursor (expected the JSON this connector stores): ${JSON.stringify(text.slice(0, 80))}`,
    { status: 400 },
  );
}

export function encodeCursor(cursor: ChangeCursor): string {
  return JSON.stringify(cursor);
}

export function decodeCursor(objectType: ObjectType, text: string): ChangeCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badCursor(objectType, text);
  }
  const c = parsed as Partial<ChangeCursor>;
  const valid =
    typeof parsed === 'object' &&
    parsed !== null &&
    c.v === 1 &&
    c.object === objectType &&
    (c.phase === 'initial' || c.phase === 'incremental') &&
    (c.from === null || typeof c.from === 'number') &&
    typeof c.deletedFrom === 'number' &&
    Array.isArray(c.entries) &&
    c.entries.every(isEntry) &&
    (c.read === undefined || validPosition(c.read));
  if (!valid) throw badCursor(objectType, text);
  return parsed as ChangeCursor;
}

function validPosition(read: unknown): boolean {
  const r = read as Partial<ReadPosition>;
  return (
    typeof read === 'object' &&
    read !== null &&
    Array.isArray(r.after) &&
    typeof r.after[0] === 'number' &&
    typeof r.after[1] === 'string' &&
    (r.next === undefined || typeof r.next === 'string') &&
    Array.isArray(r.seen) &&
    r.seen.every(isEntry) &&
    Array.isArray(r.pending) &&
    typeof r.deletedTo === 'number' &&
    typeof r.startedAt === 'number' &&
    typeof r.soFar === 'number'
  );
}
