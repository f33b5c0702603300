/**
 * The org's data: Contact and Lead records (deleted ones stay in the Recycle Bin, `IsDeleted = true`, until
 * they are purged), the delete log that `sobjects/<Type>/deleted` reads, and the one Organization record.
 * Every change stamps `SystemModstamp` (to the second); user changes also stamp `LastModifiedDate`.
 */
import { type SandboxClock, toMinute, toSecond } from './clock';
import { IdFactory } from './ids';
import {
  isDataObject,
  makeSchema,
  type DataObjectName,
  type FieldDef,
  type ObjectDef,
  type ObjectName,
} from './schema';

export type Value = string | number | boolean | null;

export interface StoredRecord {
  type: ObjectName;
  id: string;
  /** Field values by API name; datetimes and dates as epoch milliseconds. */
  values: Record<string, Value>;
}

export interface DeleteLogEntry {
  id: string;
  deletedDate: number;
}

/**
 * Deleted records stay in the Recycle Bin, and in the delete log, for 15 days; then they are purged.
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-getdeleted.md
 */
export const RECYCLE_BIN_MS = 15 * 24 * 3600 * 1000;

export interface StoreSnapshot {
  tables: Map<ObjectName, Map<string, StoredRecord>>;
  deleteLog: Map<DataObjectName, DeleteLogEntry[]>;
}

export interface OrgIdentity {
  orgId: string;
  userId: string;
  orgName: string;
  username: string;
}

export class SandboxStore {
  readonly schema: Record<ObjectName, ObjectDef>;
  private readonly tables = new Map<ObjectName, Map<string, StoredRecord>>();
  private readonly deleteLog = new Map<DataObjectName, DeleteLogEntry[]>();
  /** When each object's delete log last lost entries to the purge (its `earliestDateAvailable`). */
  private readonly purgedUpTo = new Map<DataObjectName, number>();
  readonly ids = new IdFactory();
  readonly createdAt: number;

  constructor(
    readonly clock: SandboxClock,
    readonly identity: OrgIdentity,
    extras: boolean,
  ) {
    this.schema = makeSchema(extras);
    for (const name of Object.keys(this.schema) as ObjectName[]) this.tables.set(name, new Map());
    this.deleteLog.set('Contact', []);
    this.deleteLog.set('Lead', []);
    this.createdAt = toSecond(clock.now());
    const org: StoredRecord = {
      type: 'Organization',
      id: identity.orgId,
      values: {
        Id: identity.orgId,
        Name: identity.orgName,
        OrganizationType: 'Enterprise Edition',
        InstanceName: 'SBX1',
        IsSandbox: false,
        LanguageLocaleKey: 'en_US',
        TimeZoneSidKey: 'America/Los_Angeles',
        DefaultLocaleSidKey: 'en_US',
        CreatedDate: this.createdAt,
        CreatedById: identity.userId,
        LastModifiedDate: this.createdAt,
        LastModifiedById: identity.userId,
        SystemModstamp: this.createdAt,
      },
    };
    this.table('Organization').set(org.id, org);
  }

  object(name: ObjectName): ObjectDef {
    return this.schema[name];
  }

  field(object: ObjectName, name: string): FieldDef | undefined {
    const lower = name.toLowerCase();
    return this.schema[object].fields.find((f) => f.name.toLowerCase() === lower);
  }

  table(name: ObjectName): Map<string, StoredRecord> {
    this.purge();
    const t = this.tables.get(name);
    if (!t) throw new Error(`no table ${name}`);
    return t;
  }

  /** Every record of the object, deleted ones included (the caller filters), in creation order. */
  all(name: ObjectName): StoredRecord[] {
    return [...this.table(name).values()];
  }

  get(name: ObjectName, id: string): StoredRecord | undefined {
    return this.table(name).get(id);
  }

  /** Which data object an id belongs to, from its key prefix. */
  objectOfId(id: string): ObjectName | undefined {
    const prefix = id.slice(0, 3);
    return (Object.values(this.schema) as ObjectDef[]).find((o) => o.keyPrefix === prefix)?.name as
      ObjectName | undefined;
  }

  now(): number {
    return toSecond(this.clock.now());
  }

  /** Inserts a record whose values are already checked; fills the platform's fields. */
  insert(type: DataObjectName, values: Record<string, Value>): StoredRecord {
    const now = this.now();
    const id = this.ids.next(this.schema[type].keyPrefix);
    const record: StoredRecord = { type, id, values: {} };
    for (const f of this.schema[type].fields) {
      if (f.defaultValue !== undefined) record.values[f.name] = f.defaultValue;
      else if (f.nillable) record.values[f.name] = null;
    }
    Object.assign(record.values, values, {
      Id: id,
      IsDeleted: false,
      MasterRecordId: null,
      OwnerId: values.OwnerId ?? this.identity.userId,
      CreatedDate: now,
      CreatedById: this.identity.userId,
      LastModifiedDate: now,
      LastModifiedById: this.identity.userId,
      SystemModstamp: now,
    });
    record.values.Name = fullName(record.values);
    this.table(type).set(id, record);
    return record;
  }

  /** A user's change: new values, `LastModifiedDate` and `SystemModstamp` move (even when nothing differs). */
  update(record: StoredRecord, values: Record<string, Value>): StoredRecord {
    const now = this.now();
    Object.assign(record.values, values, {
      LastModifiedDate: now,
      LastModifiedById: this.identity.userId,
      SystemModstamp: now,
    });
    record.values.Name = fullName(record.values);
    return record;
  }

  /**
   * A system job's change (a recalculation, a sharing or a background update): only `SystemModstamp` moves.
   * https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/system_fields.htm
   */
  touch(record: StoredRecord, values: Record<string, Value> = {}): StoredRecord {
    Object.assign(record.values, values, { SystemModstamp: this.now() });
    record.values.Name = fullName(record.values);
    return record;
  }

  /** Moves a record to the Recycle Bin: `IsDeleted`, a delete-log entry; `masterRecordId` when merged away. */
  softDelete(record: StoredRecord, masterRecordId: string | null = null): void {
    if (!isDataObject(record.type)) throw new Error(`${record.type} records cannot be deleted`);
    const now = this.now();
    Object.assign(record.values, { IsDeleted: true, MasterRecordId: masterRecordId, SystemModstamp: now });
    this.deleteLog.get(record.type)?.push({ id: record.id, deletedDate: now });
  }

  deletedSince(type: DataObjectName): DeleteLogEntry[] {
    this.purge();
    return [...(this.deleteLog.get(type) ?? [])];
  }

  /**
   * The delete log's `earliestDateAvailable`: when it last lost entries to the purge, or the org's creation
   * (both to the minute, as the documented example shows).
   */
  earliestDateAvailable(type: DataObjectName): number {
    this.purge();
    return toMinute(this.purgedUpTo.get(type) ?? this.createdAt);
  }

  /** A deep copy of the data, so that an all-or-none request can be rolled back. */
  snapshot(): StoreSnapshot {
    const tables = new Map<ObjectName, Map<string, StoredRecord>>();
    for (const [name, rows] of this.tables) {
      tables.set(name, new Map([...rows].map(([id, r]) => [id, { ...r, values: { ...r.values } }])));
    }
    const deleteLog = new Map<DataObjectName, DeleteLogEntry[]>();
    for (const [name, log] of this.deleteLog)
      deleteLog.set(
        name,
        log.map((e) => ({ ...e })),
      );
    return { tables, deleteLog };
  }

  /** Puts the data back as a snapshot had it; records keep their identity (callers may hold them). */
  restore(snapshot: StoreSnapshot): void {
    for (const [name, rows] of snapshot.tables) {
      const live = this.tables.get(name) ?? new Map<string, StoredRecord>();
      for (const id of [...live.keys()]) if (!rows.has(id)) live.delete(id);
      for (const [id, saved] of rows) {
        const current = live.get(id);
        if (current) current.values = saved.values;
        else live.set(id, saved);
      }
      this.tables.set(name, live);
    }
    for (const [name, log] of snapshot.deleteLog) this.deleteLog.set(name, log);
  }

  /** Drops Recycle Bin records and delete-log entries older than 15 days (Salesforce does this in background). */
  private purge(): void {
    const horizon = this.clock.now() - RECYCLE_BIN_MS;
    for (const type of ['Contact', 'Lead'] as const) {
      const log = this.deleteLog.get(type) ?? [];
      const keep = log.filter((e) => e.deletedDate >= horizon);
      if (keep.length === log.length) continue;
      const dropped = log.filter((e) => e.deletedDate < horizon);
      this.deleteLog.set(type, keep);
      this.purgedUpTo.set(type, Math.max(this.purgedUpTo.get(type) ?? 0, ...dropped.map((e) => e.deletedDate)));
      const table = this.tables.get(type);
      for (const e of dropped) table?.delete(e.id);
    }
  }
}

/** `Name` of a Contact or Lead: first and last name (the Object Reference: FirstName, MiddleName, LastName). */
function fullName(values: Record<string, Value>): Value {
  if (!('LastName' in values)) return values.Name ?? null;
  const parts = [values.FirstName, values.LastName].filter((p): p is string => typeof p === 'string' && p !== '');
  return parts.join(' ');
}
