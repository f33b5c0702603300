/**
 * An in-memory business system, the remote side of `MemoryConnector`: object types with described fields,
 * records with versions, a change feed (every create, change and delete gets the next sequence number of its
 * object type), write rules (access flags, value types and lengths, business rules), and an activity log.
 * `MemorySystem` is also the suite's `RemoteControl`: its `create`/`update`/`delete` are changes made in the
 * system by someone else (the system's own users), which bypass access flags and rules, as a UI would not
 * but a test needs.
 */
import { randomUUID } from 'node:crypto';
import {
  TandemError,
  type ActivityEvent,
  type FieldDescription,
  type FieldValue,
  type FieldValues,
  type ObjectDescription,
  type WriteOp,
  type WriteResult,
} from '../plugin';
import type { ReadOnlyWriteBehaviour, RemoteControl } from './conformance/harness';

export type IdStyle = 'numeric' | 'uuid';

/** A write the system is asked to make, as its business rules see it. */
export interface WriteAttempt {
  objectType: string;
  kind: 'create' | 'update';
  /** The record's id, for an update. */
  id?: string;
  /** The values to write (fields the system ignores left out). */
  fields: FieldValues;
  /** What the record holds before an update. */
  current?: Readonly<FieldValues>;
}

export interface Refusal {
  code: string;
  message: string;
}

/** A business rule (a validation rule, a plug-in): a refusal for a write it does not accept, else `undefined`. */
export type RejectionRule = (attempt: WriteAttempt) => Refusal | undefined;

export interface MemoryObjectOptions {
  objectType: string;
  /** The id field (default `id`): described readable, neither creatable nor updatable. */
  idField?: string;
  /** The email field (default `email`), one of `fields`. */
  emailField?: string;
  /** `numeric` ids count up from 1 (Marketo); `uuid` ids are random (Dataverse). Default `numeric`. */
  idStyle?: IdStyle;
  /** Every field but the id, with what the connection's user may do with it. */
  fields: readonly FieldDescription[];
  /** Whether records carry an etag and updates with a stale one are conflicts (default false). */
  etags?: boolean;
  /** What a write of a non-creatable or non-updatable field does (default `rejected`). */
  readOnlyWrites?: ReadOnlyWriteBehaviour;
  rules?: readonly RejectionRule[];
  /** Datetime fields the system keeps itself: when a record was created, when it last changed. */
  timestamps?: { created?: string; modified?: string };
  /** Whether reads carry `fieldModifiedAt` (when each field last changed), as Marketo's change data do. */
  fieldTimes?: boolean;
}

export interface MemorySystemOptions {
  objects: readonly MemoryObjectOptions[];
  /** Who connectors are connected as (`check().identity`); default `memory-sync-user`. */
  identity?: string;
  /** The instance id (`check().instance`); default a random one. */
  instance?: string;
  /** The system's clock, for `modifiedAt` and timestamps; default the real one. */
  now?: () => Date;
}

/** A stored record. `values` holds every field but the id; a blank field is null or absent. */
export interface MemoryRecord {
  readonly id: string;
  readonly values: Readonly<FieldValues>;
  /** Goes up with every change; the etag is made from it. */
  readonly version: number;
  readonly modifiedAt: string;
  readonly fieldModifiedAt: Readonly<Record<string, string>>;
}

interface Row extends MemoryRecord {
  values: FieldValues;
  version: number;
  modifiedAt: string;
  fieldModifiedAt: Record<string, string>;
  /** Creation order, for the initial scan. */
  readonly ordinal: number;
  /** The change-feed position of its creation and of its last change. */
  readonly createdSeq: number;
  changedSeq: number;
}

/** One entry of the change feed: a record as it is now, or the id of a deleted one. */
export type FeedItem = { seq: number; record: MemoryRecord } | { seq: number; deletedId: string };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Why `value` does not fit `field`'s type and length, or `undefined` when it does. */
export function invalidValue(field: FieldDescription, value: FieldValue): Refusal | undefined {
  if (value === null) return undefined;
  const wrong = {
    code: 'INVALID_VALUE',
    message: `'${field.name}' takes a ${field.type}, not ${JSON.stringify(value)}`,
  };
  switch (field.type) {
    case 'integer':
      return Number.isInteger(value) ? undefined : wrong;
    case 'float':
    case 'currency':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : wrong;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : wrong;
    case 'date':
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value))
        ? undefined
        : wrong;
    case 'datetime':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? undefined : wrong;
    default: {
      if (typeof value !== 'string') return wrong;
      if (field.length !== undefined && value.length > field.length) {
        return {
          code: 'TOO_LONG',
          message: `'${field.name}' holds at most ${field.length} characters, not ${value.length}`,
        };
      }
      const email = value.trim();
      if (field.type === 'email' && email !== '' && !EMAIL.test(email)) {
        return { code: 'INVALID_EMAIL', message: `'${field.name}': ${JSON.stringify(value)} is not an email address` };
      }
      return undefined;
    }
  }
}

export function etagOf(record: MemoryRecord): string {
  return `W/"${record.version}"`;
}

/** One object type's records and change feed. */
export class MemoryTable {
  readonly description: ObjectDescription;
  private readonly byName: Map<string, FieldDescription>;
  private readonly rows = new Map<string, Row>();
  /** Deleted ids, with the feed position of the delete. */
  private readonly tombstones = new Map<string, number>();
  private seq = 0;
  private ordinals = 0;
  private numbers = 0;

  constructor(
    readonly options: MemoryObjectOptions,
    private readonly now: () => Date,
  ) {
    const idField = options.idField ?? 'id';
    const emailField = options.emailField ?? 'email';
    const id: FieldDescription = { name: idField, type: 'string', readable: true, creatable: false, updatable: false };
    const fields = [id, ...options.fields.filter((f) => f.name !== idField)];
    this.byName = new Map(fields.map((f) => [f.name, f]));
    if (!this.byName.has(emailField))
      throw new Error(`${options.objectType}: the email field '${emailField}' is not among the fields`);
    this.description = { objectType: options.objectType, idField, emailField, fields };
  }

  get objectType(): string {
    return this.options.objectType;
  }

  /** The feed's position now: the sequence number of the last create, change or delete. */
  get position(): number {
    return this.seq;
  }

  field(name: string): FieldDescription | undefined {
    return this.byName.get(name);
  }

  get(id: string): MemoryRecord | undefined {
    return this.rows.get(id);
  }

  /** Every record, in creation order. */
  list(): MemoryRecord[] {
    return [...this.rows.values()];
  }

  /** Stores a new record (no access flags or rules: the caller decided). */
  insert(values: FieldValues): MemoryRecord {
    const id = this.options.idStyle === 'uuid' ? randomUUID() : String(++this.numbers);
    const at = this.now().toISOString();
    const seq = ++this.seq;
    const row: Row = {
      id,
      values: {},
      version: 1,
      modifiedAt: at,
      fieldModifiedAt: {},
      ordinal: ++this.ordinals,
      createdSeq: seq,
      changedSeq: seq,
    };
    const { created, modified } = this.options.timestamps ?? {};
    this.set(row, { ...values, ...(created ? { [created]: at } : {}), ...(modified ? { [modified]: at } : {}) }, at);
    this.rows.set(id, row);
    return row;
  }

  /** Changes a record's values (a change in the feed even if no value differs, as in most systems). */
  change(id: string, values: FieldValues): MemoryRecord | undefined {
    const row = this.rows.get(id);
    if (!row) return undefined;
    const at = this.now().toISOString();
    const modified = this.options.timestamps?.modified;
    this.set(row, { ...values, ...(modified ? { [modified]: at } : {}) }, at);
    row.version += 1;
    row.modifiedAt = at;
    row.changedSeq = ++this.seq;
    return row;
  }

  remove(id: string): boolean {
    if (!this.rows.delete(id)) return false;
    this.tombstones.set(id, ++this.seq);
    return true;
  }

  private set(row: Row, values: FieldValues, at: string): void {
    for (const [name, value] of Object.entries(values)) {
      row.values[name] = value;
      row.fieldModifiedAt[name] = at;
    }
  }

  /**
   * The initial scan: records in creation order after `afterOrdinal`, leaving out those created after feed
   * position `since` (the changes from `since` on bring them, once).
   */
  scan(
    afterOrdinal: number,
    since: number,
    limit: number,
  ): { records: Array<MemoryRecord & { ordinal: number }>; more: boolean } {
    const records: Row[] = [];
    for (const row of this.rows.values()) {
      if (row.ordinal <= afterOrdinal || row.createdSeq > since) continue;
      if (records.length === limit) return { records, more: true };
      records.push(row);
    }
    return { records, more: false };
  }

  /** Creates, changes and deletes after feed position `since`, oldest first, each record once (as it is now). */
  changesSince(since: number, limit: number): { items: FeedItem[]; more: boolean } {
    const items: FeedItem[] = [];
    for (const row of this.rows.values()) if (row.changedSeq > since) items.push({ seq: row.changedSeq, record: row });
    for (const [deletedId, seq] of this.tombstones) if (seq > since) items.push({ seq, deletedId });
    items.sort((a, b) => a.seq - b.seq);
    return { items: items.slice(0, limit), more: items.length > limit };
  }

  /**
   * The system's write API: one op, answered as the system would (access flags, types, rules, etags). The
   * caller checks field names first; an unknown one here is a programming error.
   */
  write(op: WriteOp): WriteResult {
    const { ref } = op;
    const row = op.kind === 'update' ? this.rows.get(op.id) : undefined;
    if (op.kind === 'update' && !row)
      return { ref, status: 'not-found', message: `No ${this.objectType} has the id '${op.id}'` };
    if (row && op.kind === 'update' && this.options.etags && op.etag !== undefined && op.etag !== etagOf(row)) {
      return {
        ref,
        status: 'conflict',
        message: `${this.objectType} ${row.id} changed since it was read (etag ${op.etag})`,
      };
    }
    const values: FieldValues = {};
    for (const [name, value] of Object.entries(op.fields)) {
      const field = this.byName.get(name);
      if (!field) throw new TandemError('UNKNOWN_FIELD', `${this.objectType} has no field '${name}'`, { status: 400 });
      const allowed = op.kind === 'create' ? field.creatable : field.updatable;
      if (!allowed) {
        if ((this.options.readOnlyWrites ?? 'rejected') === 'ignored') continue;
        const access = op.kind === 'create' ? 'creatable' : 'updatable';
        return {
          ref,
          status: 'rejected',
          code: 'READ_ONLY_FIELD',
          message: `'${name}' is not ${access} for this user`,
        };
      }
      const invalid = invalidValue(field, value);
      if (invalid) return { ref, status: 'rejected', ...invalid };
      values[name] = value;
    }
    for (const rule of this.options.rules ?? []) {
      const refusal = rule({
        objectType: this.objectType,
        kind: op.kind,
        fields: values,
        ...(row ? { id: row.id, current: row.values } : {}),
      });
      if (refusal) return { ref, status: 'rejected', ...refusal };
    }
    const written = row ? (this.change(row.id, values) as MemoryRecord) : this.insert(values);
    const etag = this.options.etags ? { etag: etagOf(written) } : {};
    return { ref, status: row ? 'updated' : 'created', id: written.id, ...etag };
  }
}

export class MemorySystem implements RemoteControl {
  readonly identity: string;
  readonly instance: string;
  /** Activity events posted through connectors, per object type, oldest first. */
  readonly activities = new Map<string, ActivityEvent[]>();
  /** Goes up with `expireCursors`: cursors taken before are refused as expired. */
  epoch = 0;
  private readonly tables: Map<string, MemoryTable>;

  constructor(options: MemorySystemOptions) {
    const now = options.now ?? (() => new Date());
    this.identity = options.identity ?? 'memory-sync-user';
    this.instance = options.instance ?? randomUUID();
    this.tables = new Map(options.objects.map((o) => [o.objectType, new MemoryTable(o, now)]));
  }

  get objectTypes(): string[] {
    return [...this.tables.keys()];
  }

  /** The table of `objectType`; an object type the system does not have is a client's mistake. */
  table(objectType: string): MemoryTable {
    const table = this.tables.get(objectType);
    if (!table) {
      throw new TandemError('BAD_REQUEST', `The memory system has no object type '${objectType}'`, {
        status: 400,
        details: { objectType },
      });
    }
    return table;
  }

  /** Records of `objectType`, in creation order. */
  records(objectType: string): MemoryRecord[] {
    return this.table(objectType).list();
  }

  /** Makes every cursor taken so far expired, as a purged change-tracking token would be. */
  expireCursors(): void {
    this.epoch += 1;
  }

  // RemoteControl: changes by the system's own users.

  create(objectType: string, fields: FieldValues): string {
    const table = this.table(objectType);
    return table.insert(this.known(table, fields)).id;
  }

  update(objectType: string, id: string, fields: FieldValues): void {
    const table = this.table(objectType);
    if (!table.change(id, this.known(table, fields))) throw new Error(`No ${objectType} has the id '${id}'`);
  }

  delete(objectType: string, id: string): void {
    if (!this.table(objectType).remove(id)) throw new Error(`No ${objectType} has the id '${id}'`);
  }

  read(objectType: string, id: string): FieldValues | undefined {
    const table = this.table(objectType);
    const record = table.get(id);
    return record ? { ...record.values, [table.description.idField]: id } : undefined;
  }

  private known(table: MemoryTable, fields: FieldValues): FieldValues {
    for (const name of Object.keys(fields)) {
      if (!table.field(name) || name === table.description.idField) {
        throw new Error(`${table.objectType} has no settable field '${name}'`);
      }
    }
    return fields;
  }
}

/**
 * A person's fields as most systems have them: the email, names, title, company, phone, a score, an opt-out,
 * timestamps the system keeps, and a `salary` hidden from the connection's user by field-level security.
 */
export const PEOPLE_FIELDS: readonly FieldDescription[] = [
  { name: 'email', label: 'Email', type: 'email', length: 254, readable: true, creatable: true, updatable: true },
  {
    name: 'firstName',
    label: 'First Name',
    type: 'string',
    length: 80,
    readable: true,
    creatable: true,
    updatable: true,
  },
  {
    name: 'lastName',
    label: 'Last Name',
    type: 'string',
    length: 80,
    readable: true,
    creatable: true,
    updatable: true,
  },
  { name: 'title', label: 'Job Title', type: 'string', length: 128, readable: true, creatable: true, updatable: true },
  { name: 'company', label: 'Company', type: 'string', length: 160, readable: true, creatable: true, updatable: true },
  { name: 'phone', label: 'Phone', type: 'phone', length: 40, readable: true, creatable: true, updatable: true },
  { name: 'score', label: 'Score', type: 'integer', readable: true, creatable: true, updatable: true },
  { name: 'doNotEmail', label: 'Do Not Email', type: 'boolean', readable: true, creatable: true, updatable: true },
  { name: 'createdAt', label: 'Created', type: 'datetime', readable: true, creatable: false, updatable: false },
  { name: 'updatedAt', label: 'Updated', type: 'datetime', readable: true, creatable: false, updatable: false },
  {
    name: 'salary',
    label: 'Salary',
    type: 'currency',
    readable: false,
    creatable: false,
    updatable: false,
    secured: true,
    note: 'field-level security: hidden from this user',
  },
];

/** An object type of people (`PEOPLE_FIELDS`, system timestamps); `options` changes ids, etags, rules... */
export function memoryPeopleObject(
  objectType: string,
  options: Partial<Omit<MemoryObjectOptions, 'objectType'>> = {},
): MemoryObjectOptions {
  return {
    objectType,
    emailField: 'email',
    fields: PEOPLE_FIELDS,
    timestamps: { created: 'createdAt', modified: 'updatedAt' },
    ...options,
  };
}
