/**
 * The sandbox's in-memory Marketo instance: persons, the activity log (which is also the change log that drives
 * paging tokens and `leadchanges`), custom activity types and the lead schema. No HTTP here: `server.ts` maps
 * requests onto these methods, and the control hooks call them directly.
 */
import { randomUUID } from 'node:crypto';
import { samplePeople, SANDBOX_SEED, type SamplePerson } from '@tandem/core/testing';
import { LeadSchema } from './fields';

export type SandboxValue = string | number | boolean | null;

export interface Person {
  id: number;
  /** Epoch milliseconds, whole seconds (Marketo datetimes have no fraction). */
  createdAt: number;
  updatedAt: number;
  values: Record<string, SandboxValue>;
}

export interface ActivityRecord {
  id: number;
  marketoGUID: string;
  leadId: number;
  /** Epoch milliseconds, whole seconds. */
  at: number;
  activityTypeId: number;
  primaryAttributeValueId?: number;
  primaryAttributeValue?: string;
  attributes: Array<{ name: string; value: SandboxValue }>;
  /** Change Data Value: the changed field, as `leadchanges` reports it. */
  fields?: Array<{ id: number; name: string; newValue: SandboxValue; oldValue: SandboxValue }>;
}

export interface CustomActivityType {
  id: number;
  apiName: string;
  name: string;
  description?: string;
  triggerName: string;
  filterName: string;
  /** A new type is a draft; a change to an approved type makes it "approved with draft" (activities.md). */
  status: 'draft' | 'approved' | 'approved with draft';
  createdAt: number;
  updatedAt: number;
  primaryAttribute: { apiName: string; name: string; description?: string; dataType: string };
  /** The attributes activities are recorded with (the approved version). */
  attributes: Array<{ apiName: string; name: string; description?: string; dataType: string }>;
  /** Attributes added since the last approval, live once approved. */
  draftAttributes: Array<{ apiName: string; name: string; description?: string; dataType: string }>;
}

export const ACTIVITY = { newLead: 12, changeDataValue: 13, deleteLead: 37 } as const;

/**
 * Lead datetimes as Get Leads documents them: UTC to the second, `2015-03-17T00:18:40Z` (leads.md, "Query").
 */
export function marketoDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Activity dates in the offset form of the Get Lead Changes and Get Deleted Leads examples (activities.md). */
export function offsetDate(ms: number): string {
  return marketoDate(ms).replace(/Z$/, '+0000');
}

/** The Marketo fields of a sample person (seeding, tests, benchmarks): standard fields only. */
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

/** Who made a change, as the activity log's Reason and Source attributes say it. */
export type ChangeSource = 'Web service API' | 'Marketo UI' | 'Sandbox seed';

export class SandboxStore {
  readonly persons = new Map<number, Person>();
  readonly activities: ActivityRecord[] = [];
  readonly customTypes = new Map<string, CustomActivityType>();
  private nextPersonId: number;
  private nextActivityId = 1;
  private nextTypeId = 100001;
  /** The clock; tests may move it. Marketo datetimes are whole seconds, so it is read to the second. */
  now = (): number => Date.now();

  constructor(
    readonly schema: LeadSchema = new LeadSchema(false),
    firstPersonId = 1,
  ) {
    this.nextPersonId = firstPersonId;
  }

  private second(): number {
    return Math.floor(this.now() / 1000) * 1000;
  }

  seed(count: number = SANDBOX_SEED.people.count, from: number = SANDBOX_SEED.people.from): Person[] {
    const created: Person[] = [];
    for (const p of samplePeople(count, from)) created.push(this.createPerson(sampleValues(p), 'Sandbox seed'));
    return created;
  }

  /** Creates a person and logs a New Lead activity, as Marketo does for every new person. */
  createPerson(values: Record<string, SandboxValue>, source: ChangeSource = 'Marketo UI'): Person {
    const now = this.second();
    const person: Person = { id: this.nextPersonId++, createdAt: now, updatedAt: now, values: {} };
    for (const [name, value] of Object.entries(values))
      if (this.schema.field(name)?.updateable && value !== null) person.values[name] = value;
    this.persons.set(person.id, person);
    // The New Lead item of the developer blog's lead-changes sample: no `fields`, the lead id and full name as
    // primary attribute, "Created Date" and "Source Type" attributes.
    this.log({
      leadId: person.id,
      activityTypeId: ACTIVITY.newLead,
      primaryAttributeValueId: person.id,
      primaryAttributeValue: fullName(person),
      attributes: [
        { name: 'Created Date', value: marketoDate(now).slice(0, 10) },
        { name: 'Source Type', value: source === 'Web service API' ? 'Web service API' : 'New lead' },
      ],
    });
    return person;
  }

  /**
   * Changes a person's fields, logging one Change Data Value activity per changed field (that is how Marketo
   * records both a marketer's edit and an API write, and how our own writes come back through `leadchanges`).
   */
  editPerson(
    id: number,
    values: Record<string, SandboxValue>,
    source: ChangeSource = 'Marketo UI',
  ): Person | undefined {
    const person = this.persons.get(id);
    if (!person) return undefined;
    let changed = false;
    for (const [name, value] of Object.entries(values)) {
      const field = this.schema.field(name);
      if (!field?.updateable) continue;
      const oldValue = person.values[name] ?? null;
      if (oldValue === value) continue;
      if (value === null) delete person.values[name];
      else person.values[name] = value;
      changed = true;
      this.log({
        leadId: id,
        activityTypeId: ACTIVITY.changeDataValue,
        primaryAttributeValueId: field.id,
        primaryAttributeValue: field.displayName,
        // Get Lead Changes example (activities.md): Reason, Source and Lead ID; Get Activity Types lists New Value
        // and Old Value as attributes of type 13 too, which Get Lead Activities shows.
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
    if (changed) person.updatedAt = this.second();
    return person;
  }

  deletePerson(id: number): boolean {
    const person = this.persons.get(id);
    if (!person) return false;
    this.persons.delete(id);
    this.log({
      leadId: id,
      activityTypeId: ACTIVITY.deleteLead,
      primaryAttributeValueId: id,
      primaryAttributeValue: fullName(person),
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

  /** A person as Get Leads returns it: `id` plus the requested fields; blank fields are left out (leads.md). */
  view(person: Person, fields: readonly string[]): Record<string, SandboxValue> {
    const out: Record<string, SandboxValue> = { id: person.id };
    for (const name of fields) {
      if (name === 'id') continue;
      if (name === 'createdAt') out.createdAt = marketoDate(person.createdAt);
      else if (name === 'updatedAt') out.updatedAt = marketoDate(person.updatedAt);
      else if (person.values[name] !== undefined) out[name] = person.values[name];
    }
    return out;
  }

  log(activity: Omit<ActivityRecord, 'id' | 'marketoGUID' | 'at'> & { at?: number }): ActivityRecord {
    const id = this.nextActivityId++;
    const record: ActivityRecord = { ...activity, id, marketoGUID: String(id), at: activity.at ?? this.second() };
    this.activities.push(record);
    return record;
  }

  /** The position (count of activities) of the first activity at or after `sinceMs`. */
  positionAt(sinceMs: number): number {
    const index = this.activities.findIndex((a) => a.at >= sinceMs);
    return index === -1 ? this.activities.length : index;
  }

  createType(
    input: Omit<CustomActivityType, 'id' | 'status' | 'createdAt' | 'updatedAt' | 'attributes' | 'draftAttributes'>,
  ): CustomActivityType {
    const now = this.second();
    const type: CustomActivityType = {
      ...input,
      id: this.nextTypeId++,
      status: 'draft',
      createdAt: now,
      updatedAt: now,
      attributes: [],
      draftAttributes: [],
    };
    this.customTypes.set(type.apiName, type);
    return type;
  }

  newGuid(): string {
    return randomUUID();
  }
}

function fullName(person: Person): string {
  return [person.values.firstName, person.values.lastName].filter((v) => v).join(' ');
}
