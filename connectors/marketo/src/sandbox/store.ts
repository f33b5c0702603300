/**
 * The sandbox's in-memory Marketo instance: persons, the activity log (which is also the change log that drives
 * paging tokens and `leadchanges`), custom activity types and access tokens. No HTTP here: `server.ts` maps
 * requests onto these methods, and the control hooks call them directly.
 */
import { randomUUID } from 'node:crypto';
import { samplePeople, SANDBOX_SEED, type SamplePerson } from '@tandem/core/testing';
import { FIELD_BY_NAME, LEAD_FIELDS } from './fields';

export type SandboxValue = string | number | boolean | null;

export interface Person {
  id: number;
  createdAt: string;
  updatedAt: string;
  values: Record<string, SandboxValue>;
}

export interface ActivityRecord {
  id: number;
  marketoGUID: string;
  leadId: number;
  activityDate: string;
  activityTypeId: number;
  primaryAttributeValueId?: number;
  primaryAttributeValue?: string;
  attributes: Array<{ name: string; value: SandboxValue }>;
  /** Change Data Value / New Lead: the changed fields, as `leadchanges` reports them. */
  fields?: Array<{ id: number; name: string; newValue: SandboxValue; oldValue?: SandboxValue }>;
}

export interface CustomActivityType {
  id: number;
  apiName: string;
  name: string;
  description?: string;
  triggerName: string;
  filterName: string;
  status: 'draft' | 'approved';
  createdAt: string;
  updatedAt: string;
  primaryAttribute: { apiName: string; name: string; description?: string; dataType: string };
  attributes: Array<{ apiName: string; name: string; description?: string; dataType: string }>;
}

export const ACTIVITY = { newLead: 12, changeDataValue: 13, deleteLead: 37 } as const;

/** Marketo's datetime format for lead fields: seconds precision, `Z`. */
export function marketoDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Activity dates use the `+0000` offset form in the docs' examples. */
function activityDate(ms: number): string {
  return marketoDate(ms).replace(/Z$/, '+0000');
}

/** The Marketo fields of a sample person (seeding, tests, benchmarks). */
export function sampleValues(p: SamplePerson): Record<string, SandboxValue> {
  return {
    email: p.email,
    firstName: p.firstName,
    lastName: p.lastName,
    title: p.title,
    phone: p.phone,
    company: p.company,
    city: p.city,
    country: p.country,
    unsubscribed: false,
    doNotCall: false,
    leadScore: (p.index * 7) % 100,
  };
}

export interface WriteRecordResult {
  id?: number;
  status: 'created' | 'updated' | 'skipped';
  reasons?: Array<{ code: string; message: string }>;
}

export class SandboxStore {
  readonly persons = new Map<number, Person>();
  readonly activities: ActivityRecord[] = [];
  readonly customTypes = new Map<string, CustomActivityType>();
  private nextPersonId = 1;
  private nextActivityId = 1;
  private nextTypeId = 100001;
  /** The clock; tests never need to move it, but one place to read it keeps dates consistent. */
  now = (): number => Date.now();

  seed(count: number = SANDBOX_SEED.marketo.count, from: number = SANDBOX_SEED.marketo.from): Person[] {
    const created: Person[] = [];
    for (const p of samplePeople(count, from)) created.push(this.createPerson(sampleValues(p), 'Sandbox seed'));
    return created;
  }

  /** Creates a person and logs a New Lead activity, as Marketo does for every new person. */
  createPerson(values: Record<string, SandboxValue>, source = 'Marketo UI'): Person {
    const now = this.now();
    const person: Person = {
      id: this.nextPersonId++,
      createdAt: marketoDate(now),
      updatedAt: marketoDate(now),
      values: {},
    };
    for (const field of LEAD_FIELDS) if (field.updateable) person.values[field.name] = null;
    for (const [name, value] of Object.entries(values))
      if (FIELD_BY_NAME.get(name)?.updateable) person.values[name] = value;
    this.persons.set(person.id, person);
    const fullName = [person.values.firstName, person.values.lastName].filter((v) => v).join(' ');
    this.log({
      leadId: person.id,
      activityTypeId: ACTIVITY.newLead,
      primaryAttributeValueId: person.id,
      primaryAttributeValue: fullName,
      attributes: [
        { name: 'Created Date', value: person.createdAt.slice(0, 10) },
        { name: 'Source Type', value: source === 'Web service API' ? 'Web service API' : 'New person' },
      ],
      fields: [],
    });
    return person;
  }

  /**
   * Changes a person's fields, logging one Change Data Value activity per changed field (that is how Marketo
   * records both a marketer's edit and an API write, and how our own writes come back through `leadchanges`).
   */
  editPerson(id: number, values: Record<string, SandboxValue>, source = 'Marketo UI'): Person | undefined {
    const person = this.persons.get(id);
    if (!person) return undefined;
    let changed = false;
    for (const [name, value] of Object.entries(values)) {
      const field = FIELD_BY_NAME.get(name);
      if (!field?.updateable) continue;
      const oldValue = person.values[name] ?? null;
      if (oldValue === value) continue;
      person.values[name] = value;
      changed = true;
      this.log({
        leadId: id,
        activityTypeId: ACTIVITY.changeDataValue,
        primaryAttributeValueId: field.id,
        primaryAttributeValue: field.displayName,
        attributes: [
          { name: 'New Value', value },
          { name: 'Old Value', value: oldValue },
          { name: 'Reason', value: source },
          { name: 'Source', value: source },
          { name: 'Lead ID', value: id },
        ],
        fields: [{ id: field.id, name, newValue: value, oldValue }],
      });
    }
    if (changed) person.updatedAt = marketoDate(this.now());
    return person;
  }

  deletePerson(id: number): boolean {
    const person = this.persons.get(id);
    if (!person) return false;
    this.persons.delete(id);
    const fullName = [person.values.firstName, person.values.lastName].filter((v) => v).join(' ');
    this.log({
      leadId: id,
      activityTypeId: ACTIVITY.deleteLead,
      primaryAttributeValueId: id,
      primaryAttributeValue: fullName,
      attributes: [],
    });
    return true;
  }

  /** Persons whose `field` equals `value` (emails compare case-insensitively, as Marketo dedupes them). */
  find(field: string, value: string): Person[] {
    if (field === 'id') {
      const person = this.persons.get(Number(value));
      return person && String(person.id) === value.trim() ? [person] : [];
    }
    const wanted = value.trim().toLowerCase();
    return [...this.persons.values()].filter((p) => {
      const v = p.values[field];
      return v !== null && v !== undefined && String(v).trim().toLowerCase() === wanted;
    });
  }

  /** A person as Get Leads returns it: `id` plus the requested fields; blank fields are left out, as Marketo does. */
  view(person: Person, fields: readonly string[]): Record<string, SandboxValue> {
    const out: Record<string, SandboxValue> = { id: person.id };
    for (const name of fields) {
      if (name === 'id') continue;
      if (name === 'createdAt') out.createdAt = person.createdAt;
      else if (name === 'updatedAt') out.updatedAt = person.updatedAt;
      else if (person.values[name] !== null && person.values[name] !== undefined) out[name] = person.values[name];
    }
    return out;
  }

  log(
    activity: Omit<ActivityRecord, 'id' | 'marketoGUID' | 'activityDate'> & { activityDate?: string },
  ): ActivityRecord {
    const id = this.nextActivityId++;
    const record: ActivityRecord = {
      ...activity,
      id,
      marketoGUID: String(id),
      activityDate: activity.activityDate ?? activityDate(this.now()),
    };
    this.activities.push(record);
    return record;
  }

  /** The position (count of activities) of the first activity at or after `sinceMs`. */
  positionAt(sinceMs: number): number {
    const index = this.activities.findIndex((a) => Date.parse(a.activityDate.replace(/\+0000$/, 'Z')) >= sinceMs);
    return index === -1 ? this.activities.length : index;
  }

  createType(
    input: Omit<CustomActivityType, 'id' | 'status' | 'createdAt' | 'updatedAt' | 'attributes'>,
  ): CustomActivityType {
    const now = marketoDate(this.now());
    const type: CustomActivityType = {
      ...input,
      id: this.nextTypeId++,
      status: 'draft',
      createdAt: now,
      updatedAt: now,
      attributes: [],
    };
    this.customTypes.set(type.apiName, type);
    return type;
  }

  newGuid(): string {
    return randomUUID();
  }
}
