/**
 * A complete, well-behaved `Connector` over a `MemorySystem`: for engine unit tests (no sandbox, no network),
 * and the reference example for connector authors, as it passes every conformance check.
 *
 *   const system = new MemorySystem({ objects: [memoryPeopleObject('contact', { idStyle: 'uuid', etags: true })] });
 *   const connector = new MemoryConnector(system, { pageSize: 50 });
 *   system.create('contact', { email: 'ada@example.com', firstName: 'Ada' });   // someone else's change
 *   for await (const page of connector.readChanges('contact', null, { fields: ['email'] })) ...
 *
 * What it does, as the contract asks:
 * - Every call first rejects with the signal's reason if it is aborted, then checks object type and field
 *   names (`UNKNOWN_FIELD`, before anything is written), then makes one "request" (`stats().requests`), which
 *   yields to the event loop as a network call would, so an abort meanwhile stops the call.
 * - `readChanges(null)` scans records in creation order as they existed when the load began, then hands on
 *   the changes made since (creates, changes, deletes), each page with the cursor to resume after it. A
 *   cursor is JSON naming the system instance and its cursor epoch; one of another instance or epoch is a
 *   `CursorExpiredError`. Each record comes once per read unless it changed during the read.
 * - Reads answer the requested fields only: readable ones with their value or `null`; unreadable ones are
 *   left out (unknown).
 * - Writes answer one result per op in order, as the system decides each op (see `MemoryTable.write`).
 * - The loop guard (`inSync`): a record whose confirmed write is the last change it had is left out of
 *   `readChanges` once (`stats().echoesSkipped`).
 */
import {
  CursorExpiredError,
  OwnWrites,
  TandemError,
  type ActivityEvent,
  type ChangePage,
  type CheckResult,
  type Connector,
  type ConnectorStats,
  type FieldValue,
  type FieldValues,
  type ObjectDescription,
  type ReadOptions,
  type RemoteRecord,
  type WriteGroup,
  type WriteOp,
  type WriteOptions,
  type WriteResult,
} from '../plugin';
import { etagOf, type MemoryRecord, type MemorySystem, type MemoryTable } from './memory-system';

export interface MemoryConnectorOptions {
  /** The connector id (default `memory`). */
  id?: string;
  /** The most records one `readChanges` page holds (default 100). */
  pageSize?: number;
}

/** Where a read stands: in the initial scan (after a creation ordinal), or in the changes after a feed position. */
type Position = { phase: 'initial'; after: number; since: number } | { phase: 'changes'; seq: number };

interface CursorJson {
  memory: 1;
  instance: string;
  epoch: number;
  objectType: string;
  position: Position;
}

export class MemoryConnector implements Connector {
  readonly id: string;
  readonly objectTypes: readonly string[];
  private readonly pageSize: number;
  private readonly counters = { requests: 0, echoesSkipped: 0 };
  /** The version each of our writes left a record at, keyed `objectType/id`. */
  private readonly ownWrites = new OwnWrites<{ version: number }>();

  constructor(
    readonly system: MemorySystem,
    options: MemoryConnectorOptions = {},
  ) {
    this.id = options.id ?? 'memory';
    this.objectTypes = system.objectTypes;
    this.pageSize = options.pageSize ?? 100;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1) throw new Error('pageSize must be a positive integer');
  }

  async check(signal?: AbortSignal): Promise<CheckResult> {
    await this.request(signal);
    return { ok: true, identity: this.system.identity, instance: this.system.instance };
  }

  async describe(objectType: string, signal?: AbortSignal): Promise<ObjectDescription> {
    signal?.throwIfAborted();
    const table = this.system.table(objectType);
    await this.request(signal);
    return structuredClone(table.description);
  }

  async *readChanges(objectType: string, cursor: string | null, options: ReadOptions): AsyncGenerator<ChangePage> {
    options.signal?.throwIfAborted();
    const table = this.system.table(objectType);
    const fields = this.knownFields(table, options.fields);
    let position = cursor === null ? undefined : this.decode(table, cursor);
    for (;;) {
      await this.request(options.signal);
      // An initial load begins at its first request: what exists then is scanned, later changes follow.
      position ??= { phase: 'initial', after: 0, since: table.position };
      const { page, next } = this.page(table, position, fields);
      yield page;
      if (page.done) return;
      position = next;
    }
  }

  async get(objectType: string, ids: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    options.signal?.throwIfAborted();
    const table = this.system.table(objectType);
    const fields = this.knownFields(table, options.fields);
    if (ids.length === 0) return [];
    await this.request(options.signal);
    const records: RemoteRecord[] = [];
    for (const id of new Set(ids)) {
      const record = table.get(id);
      if (record) records.push(this.toRemote(table, record, fields));
    }
    return records;
  }

  async findByEmail(objectType: string, emails: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    options.signal?.throwIfAborted();
    const table = this.system.table(objectType);
    const fields = this.knownFields(table, options.fields);
    const wanted = new Set(emails.map(normaliseEmail).filter((e) => e !== ''));
    if (wanted.size === 0) return [];
    await this.request(options.signal);
    const emailField = table.description.emailField;
    return table
      .list()
      .filter((record) => wanted.has(normaliseEmail(record.values[emailField])))
      .map((record) => this.toRemote(table, record, fields));
  }

  async write(objectType: string, ops: readonly WriteOp[], options: WriteOptions = {}): Promise<WriteResult[]> {
    const [results] = await this.writeMany([{ objectType, ops }], options);
    return results as WriteResult[];
  }

  /** Every group in one request, as a Dataverse `$batch` would carry them. */
  async writeMany(groups: ReadonlyArray<WriteGroup>, options: WriteOptions = {}): Promise<WriteResult[][]> {
    options.signal?.throwIfAborted();
    // Every name is checked before anything is written: a call naming an unknown field writes nothing.
    const tables = groups.map(({ objectType, ops }) => {
      const table = this.system.table(objectType);
      for (const op of ops) this.knownFields(table, Object.keys(op.fields));
      return table;
    });
    if (groups.every((g) => g.ops.length === 0)) return groups.map((): WriteResult[] => []);
    await this.request(options.signal);
    return groups.map((group, i) => {
      const table = tables[i] as MemoryTable;
      return group.ops.map((op) => {
        const result = table.write(op);
        if (result.status === 'created' || result.status === 'updated') {
          const version = (table.get(result.id) as MemoryRecord).version;
          this.ownWrites.wrote(ownKey(table, result.id), { version });
        }
        return result;
      });
    });
  }

  inSync(objectType: string, ids: readonly string[]): void {
    const table = this.system.table(objectType);
    this.ownWrites.confirm(ids.map((id) => ownKey(table, id)));
  }

  async logActivity(objectType: string, events: readonly ActivityEvent[], signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.system.table(objectType);
    if (events.length === 0) return;
    await this.request(signal);
    const log = this.system.activities.get(objectType) ?? [];
    log.push(...events.map((e) => ({ ...e })));
    this.system.activities.set(objectType, log);
  }

  stats(): ConnectorStats {
    return { ...this.counters };
  }

  /**
   * One round trip. The system answers synchronously; yielding once, as a network call would, lets an abort
   * issued meanwhile stop the call, so tests of cancellation see what they would see with a real connector.
   */
  private async request(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    this.counters.requests += 1;
    await new Promise<void>((resolve) => setImmediate(resolve));
    signal?.throwIfAborted();
  }

  private knownFields(table: MemoryTable, names: readonly string[]): readonly string[] {
    const unknown = names.find((name) => !table.field(name));
    if (unknown !== undefined) {
      throw new TandemError('UNKNOWN_FIELD', `${table.objectType} has no field '${unknown}'`, {
        status: 400,
        details: { objectType: table.objectType, field: unknown },
      });
    }
    return names;
  }

  private page(
    table: MemoryTable,
    position: Position,
    fields: readonly string[],
  ): { page: ChangePage; next: Position } {
    const toRemote = (record: MemoryRecord) => this.toRemote(table, record, fields);
    if (position.phase === 'initial') {
      const { records, more } = table.scan(position.after, position.since, this.pageSize);
      const last = records.at(-1);
      const next: Position = more
        ? { phase: 'initial', after: last?.ordinal ?? position.after, since: position.since }
        : { phase: 'changes', seq: position.since };
      // The scan's last page is the read's last when nothing changed since the load began.
      const done = !more && table.changesSince(position.since, 1).items.length === 0;
      const cursor = done ? { phase: 'changes' as const, seq: table.position } : next;
      return {
        page: {
          records: records.filter((r) => !this.isEcho(table, r)).map(toRemote),
          deletedIds: [],
          cursor: this.encode(table, cursor),
          done,
          progress: { phase: 'initial' },
        },
        next,
      };
    }
    const { items, more } = table.changesSince(position.seq, this.pageSize);
    const next: Position = { phase: 'changes', seq: more ? (items.at(-1)?.seq ?? position.seq) : table.position };
    const records: RemoteRecord[] = [];
    const deletedIds: string[] = [];
    for (const item of items) {
      if ('deletedId' in item) deletedIds.push(item.deletedId);
      else if (!this.isEcho(table, item.record)) records.push(toRemote(item.record));
    }
    return {
      page: { records, deletedIds, cursor: this.encode(table, next), done: !more, progress: { phase: 'incremental' } },
      next,
    };
  }

  /** Whether `record` is our own confirmed write coming back unchanged since; forgotten as it is asked. */
  private isEcho(table: MemoryTable, record: MemoryRecord): boolean {
    const written = this.ownWrites.take(ownKey(table, record.id));
    if (written?.version !== record.version) return false;
    this.counters.echoesSkipped += 1;
    return true;
  }

  private toRemote(table: MemoryTable, record: MemoryRecord, fields: readonly string[]): RemoteRecord {
    const { idField } = table.description;
    const values: FieldValues = {};
    const times: Record<string, string> = {};
    for (const name of fields) {
      if (!table.field(name)?.readable) continue;
      values[name] = name === idField ? record.id : ((record.values[name] as FieldValue | undefined) ?? null);
      const at = record.fieldModifiedAt[name];
      if (at !== undefined) times[name] = at;
    }
    return {
      id: record.id,
      fields: values,
      modifiedAt: record.modifiedAt,
      ...(table.options.etags ? { etag: etagOf(record) } : {}),
      ...(table.options.fieldTimes ? { fieldModifiedAt: times } : {}),
    };
  }

  private encode(table: MemoryTable, position: Position): string {
    const cursor: CursorJson = {
      memory: 1,
      instance: this.system.instance,
      epoch: this.system.epoch,
      objectType: table.objectType,
      position,
    };
    return JSON.stringify(cursor);
  }

  private decode(table: MemoryTable, text: string): Position {
    let cursor: Partial<CursorJson>;
    try {
      cursor = JSON.parse(text) as Partial<CursorJson>;
    } catch {
      cursor = {};
    }
    const position = cursor.position;
    const valid =
      cursor.memory === 1 &&
      cursor.objectType === table.objectType &&
      ((position?.phase === 'initial' && Number.isInteger(position.after) && Number.isInteger(position.since)) ||
        (position?.phase === 'changes' && Number.isInteger(position.seq)));
    if (!valid || !position) {
      throw new TandemError(
        'BAD_REQUEST',
        `Not a memory connector cursor of ${table.objectType}: ${text.slice(0, 80)}`,
        {
          status: 400,
        },
      );
    }
    if (cursor.instance !== this.system.instance || cursor.epoch !== this.system.epoch) {
      throw new CursorExpiredError(
        `The ${table.objectType} cursor is of another instance or has expired: read again from the start`,
      );
    }
    return position;
  }
}

function ownKey(table: MemoryTable, id: string): string {
  return `${table.objectType}/${id}`;
}

function normaliseEmail(value: FieldValue | undefined): string {
  return typeof value === 'string' ? value.trim().toLowerCase() : '';
}
