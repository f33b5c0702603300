/**
 * Field-level security for the integration user: a field it cannot read does not exist for it (absent from
 * describe, "No such column" in queries and writes); a field it can read but not edit is read-only
 * (INVALID_FIELD_FOR_INSERT_UPDATE when written). Universally required fields and the platform's own fields
 * cannot be restricted, as in Setup.
 * https://help.salesforce.com/s/articleView?id=sf.admin_fls.htm
 */
import type { FieldDef, ObjectName } from './schema';

export interface FieldAccess {
  read: boolean;
  edit: boolean;
}

export class FieldSecurity {
  private readonly access = new Map<string, FieldAccess>();

  set(object: ObjectName, field: FieldDef, access: FieldAccess): void {
    if (!field.nillable || field.system || field.calculated) {
      throw new Error(`${object}.${field.name} is required or maintained by the platform; its security cannot change`);
    }
    this.access.set(`${object}.${field.name}`, { read: access.read, edit: access.read && access.edit });
  }

  reset(): void {
    this.access.clear();
  }

  canRead(object: ObjectName, field: FieldDef): boolean {
    return this.access.get(`${object}.${field.name}`)?.read ?? true;
  }

  canEdit(object: ObjectName, field: FieldDef): boolean {
    return this.access.get(`${object}.${field.name}`)?.edit ?? true;
  }
}
