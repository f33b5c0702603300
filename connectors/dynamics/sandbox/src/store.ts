/**
 * The sandbox's state: the org's table definitions, rows with a global, only-increasing version number (etag
 * `W/"<version>"`), tombstones for change tracking, users with their column-security grants, business rules and
 * per-table switches.
 */
import { randomUUID } from 'node:crypto';
import { entityDefs, fullName, type ColumnDef, type EntityDef, type EntityName } from './schema';

export type Value = string | number | boolean | null;

export interface Row {
  id: string;
  values: Record<string, Value>;
  version: number;
}

export interface Tombstone {
  id: string;
  version: number;
}

export interface ColumnGrant {
  read: boolean;
  create: boolean;
  update: boolean;
}

export interface SandboxUser {
  key: 'app' | 'ropc';
  id: string;
  name: string;
  /** Column-security grants: `<entity>.<column>` → rights. Secured columns not listed are denied. */
  grants: Map<string, ColumnGrant>;
}

/** A server-side rule that refuses a write the way a plug-in or business rule does (400, 0x80040265). */
export interface BusinessRule {
  entity: EntityName;
  column: string;
  /** The rule fires when the written value equals this (case-insensitive for strings). */
  equals: Value;
  message: string;
}

export class SandboxStore {
  readonly tables = new Map<EntityName, Map<string, Row>>();
  readonly tombstones = new Map<EntityName, Tombstone[]>();
  readonly changeTracking = new Map<EntityName, boolean>([
    ['contact', true],
    ['lead', true],
  ]);
  readonly rules: BusinessRule[] = [];
  readonly users: Record<'app' | 'ropc', SandboxUser> = {
    app: { key: 'app', id: randomUUID(), name: '# Tandem Sync (application user)', grants: new Map() },
    ropc: { key: 'ropc', id: randomUUID(), name: 'Tandem Sync User', grants: new Map() },
  };
  readonly defs: Record<EntityName, EntityDef>;
  readonly organizationId: string;
  readonly businessUnitId = randomUUID();
  version = 1000;
  /** Delta tokens below this version are refused as expired (Organization.ExpireChangeTrackingInDays). */
  deltaTokensValidFrom = 0;
  /** Added to the sandbox clock, to model a server whose clock differs from the client's. */
  clockSkewMs = 0;

  constructor(options: { extras?: boolean; organizationId?: string } = {}) {
    this.defs = entityDefs(options.extras ?? false);
    this.organizationId = options.organizationId ?? randomUUID();
    for (const name of Object.keys(this.defs) as EntityName[]) {
      this.tables.set(name, new Map());
      this.tombstones.set(name, []);
    }
  }

  table(entity: EntityName): Map<string, Row> {
    const t = this.tables.get(entity);
    if (!t) throw new Error(`no table ${entity}`);
    return t;
  }

  /** Dataverse stores modifiedon to the second, which is why same-second writes need a watermark overlap. */
  now(): string {
    return new Date(Date.now() + this.clockSkewMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  nextVersion(): number {
    this.version += 1;
    return this.version;
  }

  /** Inserts a row, bypassing validation (seeding and control hooks). */
  insert(entity: EntityName, values: Record<string, Value>, id: string = randomUUID()): Row {
    const def = this.def(entity);
    const now = this.now();
    const version = this.nextVersion();
    const defaults: Record<string, Value> = {};
    for (const col of def.columns) if (col.defaultValue !== undefined) defaults[col.name] = col.defaultValue;
    const row: Row = { id, version, values: { ...defaults, ...values } };
    row.values[def.idField] = id;
    row.values[def.primaryName] = fullName(row.values);
    row.values.createdon = now;
    row.values.modifiedon = now;
    row.values.versionnumber = version;
    this.table(entity).set(id, row);
    return row;
  }

  /** Applies changes to a row: a new version and modifiedon, as every Dataverse update does. */
  touch(entity: EntityName, row: Row, values: Record<string, Value>): Row {
    Object.assign(row.values, values);
    row.values[this.def(entity).primaryName] = fullName(row.values);
    row.version = this.nextVersion();
    row.values.versionnumber = row.version;
    row.values.modifiedon = this.now();
    return row;
  }

  /** Deletes a column from the table, as a customizer removing it does: its values go with it. */
  dropColumn(entity: EntityName, column: string): boolean {
    const def = this.def(entity);
    const i = def.columns.findIndex((c) => c.name === column);
    if (i < 0) return false;
    def.columns.splice(i, 1);
    for (const row of this.table(entity).values()) delete row.values[column];
    return true;
  }

  remove(entity: EntityName, id: string): boolean {
    const existed = this.table(entity).delete(id);
    if (existed) this.tombstones.get(entity)?.push({ id, version: this.nextVersion() });
    return existed;
  }

  grant(userKey: 'app' | 'ropc', entity: EntityName, column: string, grant: ColumnGrant): void {
    this.users[userKey].grants.set(`${entity}.${column}`, grant);
  }

  rights(user: SandboxUser, entity: EntityName, column: ColumnDef): ColumnGrant {
    if (!column.secured) return { read: true, create: true, update: true };
    return user.grants.get(`${entity}.${column.name}`) ?? { read: false, create: false, update: false };
  }

  /** A deep copy of the rows, so a change set can be rolled back. */
  snapshot(): Map<EntityName, Map<string, Row>> {
    const copy = new Map<EntityName, Map<string, Row>>();
    for (const [name, rows] of this.tables) {
      copy.set(name, new Map([...rows].map(([id, r]) => [id, { ...r, values: { ...r.values } }])));
    }
    return copy;
  }

  restore(snapshot: Map<EntityName, Map<string, Row>>): void {
    for (const [name, rows] of snapshot) this.tables.set(name, rows);
  }

  def(entity: EntityName): EntityDef {
    return this.defs[entity];
  }

  entityBySet(set: string): EntityDef | undefined {
    return Object.values(this.defs).find((e) => e.entitySet === set);
  }
}
