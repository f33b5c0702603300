/**
 * The documented REST endpoints, as pure functions of a request onto the store. Auth, limits and fault
 * injection happen before these run (see `server.ts`); these only implement each endpoint's semantics.
 */
import { DEFAULT_READ_FIELDS, FIELD_BY_NAME, LEAD_FIELDS, SEARCHABLE_FIELDS, type SandboxField } from './fields';
import { MarketoApiError, csv, decodeToken, issueToken, type SuccessBody } from './envelope';
import { ACTIVITY, type ActivityRecord, type SandboxStore, type SandboxValue, type WriteRecordResult } from './store';

export interface RestRequest {
  query: Record<string, unknown>;
  params: Record<string, string>;
  body: unknown;
}

const MAX_BATCH = 300;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function required(query: Record<string, unknown>, name: string): string {
  const value = query[name];
  if (typeof value !== 'string' || value.trim() === '') throw new MarketoApiError('701', `${name} cannot be blank`);
  return value;
}

function batchSize(query: Record<string, unknown>): number {
  if (query.batchSize === undefined) return MAX_BATCH;
  const size = Number(query.batchSize);
  if (!Number.isInteger(size) || size < 1 || size > MAX_BATCH) throw new MarketoApiError('1003', 'Invalid batchSize');
  return size;
}

function knownFields(names: string[]): string[] {
  for (const name of names)
    if (!FIELD_BY_NAME.has(name)) throw new MarketoApiError('1006', `Field '${name}' not found`);
  return names;
}

function body(req: RestRequest): Record<string, unknown> {
  if (!isRecord(req.body)) throw new MarketoApiError('609', 'Invalid JSON');
  return req.body;
}

function input(req: RestRequest): unknown[] {
  const list = body(req).input;
  if (!Array.isArray(list) || list.length === 0) throw new MarketoApiError('701', 'input cannot be blank');
  if (list.length > MAX_BATCH) throw new MarketoApiError('1003', `Batch size exceeds ${MAX_BATCH}`);
  return list;
}

export function describe(): SuccessBody {
  return {
    result: LEAD_FIELDS.map((field) => ({
      id: field.id,
      displayName: field.displayName,
      dataType: field.dataType,
      ...(field.length ? { length: field.length } : {}),
      rest: { name: field.name, readOnly: !field.updateable },
      soap: { name: field.name, readOnly: !field.updateable },
    })),
  };
}

export function describe2(): SuccessBody {
  return {
    result: [
      {
        name: 'API Lead',
        searchableFields: SEARCHABLE_FIELDS.map((name) => [name]),
        fields: LEAD_FIELDS.map((field) => ({
          name: field.name,
          displayName: field.displayName,
          dataType: field.dataType,
          ...(field.length ? { length: field.length } : {}),
          updateable: field.updateable,
          crmManaged: field.crmManaged,
        })),
      },
    ],
  };
}

/** Get Leads by filter type: `filterType`/`filterValues` (≤300), `fields`, `batchSize`, `nextPageToken`. */
export function getLeads(store: SandboxStore, req: RestRequest): SuccessBody {
  const filterType = required(req.query, 'filterType');
  const values = csv(required(req.query, 'filterValues'));
  if (!(SEARCHABLE_FIELDS as readonly string[]).includes(filterType)) {
    throw new MarketoApiError('1011', `Field '${filterType}' not supported`);
  }
  if (values.length > MAX_BATCH) throw new MarketoApiError('1003', `filterValues exceeds ${MAX_BATCH}`);
  const fields = req.query.fields === undefined ? [...DEFAULT_READ_FIELDS] : knownFields(csv(req.query.fields));
  const size = batchSize(req.query);
  const seen = new Set<number>();
  const matches = values
    .flatMap((value) => store.find(filterType, value))
    .filter((p) => !seen.has(p.id) && seen.add(p.id));
  if (matches.length > 1000) throw new MarketoApiError('1003', 'Too many results match the filter');
  const offset = typeof req.query.nextPageToken === 'string' ? decodeToken('leads', req.query.nextPageToken) : 0;
  const page = matches.slice(offset, offset + size);
  const more = offset + size < matches.length;
  return {
    result: page.map((person) => store.view(person, fields)),
    ...(more ? { moreResult: true, nextPageToken: issueToken('leads', offset + size) } : {}),
  };
}

export function getLead(store: SandboxStore, req: RestRequest): SuccessBody {
  const fields = req.query.fields === undefined ? [...DEFAULT_READ_FIELDS] : knownFields(csv(req.query.fields));
  const person = store.persons.get(Number(req.params.id));
  return { result: person ? [store.view(person, fields)] : [] };
}

const skip = (code: string, message: string): WriteRecordResult => ({
  status: 'skipped',
  reasons: [{ code, message }],
});

/** Checks one value against its field's type; returns a reason message, or undefined if it is fine. */
function invalidValue(field: SandboxField, value: unknown): string | undefined {
  if (value === null) return undefined;
  switch (field.dataType) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `Invalid value for field '${field.name}'`;
    case 'integer':
      return Number.isInteger(value) ? undefined : `Invalid value for field '${field.name}'`;
    case 'email':
      // Marketo allows only ASCII in email values ([MK-DEV] leads.md).
      return typeof value === 'string' && /^[\x20-\x7e]*$/.test(value) ? undefined : 'Invalid email address';
    default:
      if (typeof value !== 'string' && typeof value !== 'number') return `Invalid value for field '${field.name}'`;
      return field.length && String(value).length > field.length
        ? `Value too long for field '${field.name}'`
        : undefined;
  }
}

/** Sync Leads: the four actions, lookupField, and one record-level status per input, in input order. */
export function syncLeads(store: SandboxStore, req: RestRequest): SuccessBody {
  const records = input(req);
  const action = body(req).action ?? 'createOrUpdate';
  const lookupField = body(req).lookupField ?? 'email';
  if (
    typeof action !== 'string' ||
    !['createOnly', 'updateOnly', 'createOrUpdate', 'createDuplicate'].includes(action)
  ) {
    throw new MarketoApiError('1003', `Invalid action '${String(action)}'`);
  }
  if (typeof lookupField !== 'string' || !(SEARCHABLE_FIELDS as readonly string[]).includes(lookupField)) {
    throw new MarketoApiError('1011', `Field '${String(lookupField)}' not supported`);
  }
  const result = records.map((record): WriteRecordResult => {
    if (!isRecord(record)) return skip('1003', 'Invalid data');
    const values: Record<string, SandboxValue> = {};
    for (const [name, value] of Object.entries(record)) {
      const field = FIELD_BY_NAME.get(name);
      if (!field) return skip('1006', `Field '${name}' not found`);
      if (name === 'id') continue;
      if (!field.updateable) continue;
      const problem = invalidValue(field, value);
      if (problem) return skip('1003', problem);
      values[name] = value as SandboxValue;
    }
    if (record.id !== undefined && action !== 'updateOnly')
      return skip('1003', "Field 'id' is not allowed for this action");
    const key = record[lookupField];
    const matches = key === undefined || key === null || key === '' ? [] : store.find(lookupField, String(key));
    if (action === 'createDuplicate' || (action !== 'updateOnly' && matches.length === 0)) {
      if (action === 'createOnly' && matches.length > 0) return skip('1005', 'Lead already exists');
      return { id: store.createPerson(values, 'Web service API').id, status: 'created' };
    }
    if (action === 'createOnly') return skip('1005', 'Lead already exists');
    if (key === undefined || key === null || key === '')
      return skip('1003', `Value for lookup field '${lookupField}' not specified`);
    const [match, ...others] = matches;
    if (!match) return skip('1004', 'Lead not found');
    if (others.length > 0) return skip('1007', 'Multiple lead match lookup criteria');
    store.editPerson(match.id, values, 'Web service API');
    return { id: match.id, status: 'updated' };
  });
  return { result };
}

export function deleteLeads(store: SandboxStore, req: RestRequest): SuccessBody {
  return {
    result: input(req).map((record) => {
      const id = isRecord(record) ? Number(record.id) : NaN;
      return store.deletePerson(id) ? { id, status: 'deleted' } : { id, ...skip('1004', 'Lead not found') };
    }),
  };
}

export function pagingToken(store: SandboxStore, req: RestRequest): SuccessBody {
  const since = required(req.query, 'sinceDatetime');
  // A full datetime with an offset or Z is required ([MK-DEV] paging-tokens.md).
  const ms = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(since) ? Date.parse(since) : NaN;
  if (Number.isNaN(ms)) throw new MarketoApiError('704', 'Invalid date format');
  return { nextPageToken: issueToken('act', store.positionAt(ms)) };
}

function attributesOf(activity: ActivityRecord): Array<{ name: string; value: SandboxValue }> {
  // Attributes with empty values are left out ([MK-DEV] activities.md).
  return activity.attributes.filter((a) => a.value !== null && a.value !== '');
}

/** Scans up to `batchSize` activities from the token's position; pages may hold fewer matches than that. */
function scan(
  store: SandboxStore,
  req: RestRequest,
  keep: (a: ActivityRecord) => boolean,
): { items: ActivityRecord[]; next: string; more: boolean } {
  const from = decodeToken('act', required(req.query, 'nextPageToken'));
  const size = batchSize(req.query);
  const leadIds = csv(req.query.leadIds).map(Number);
  if (leadIds.length > 30) throw new MarketoApiError('1003', 'leadIds exceeds 30');
  const end = Math.min(from + size, store.activities.length);
  const items = store.activities
    .slice(from, end)
    .filter((a) => (leadIds.length === 0 || leadIds.includes(a.leadId)) && keep(a));
  return { items, next: issueToken('act', end), more: end < store.activities.length };
}

function page(items: unknown[], next: string, more: boolean): SuccessBody {
  // With nothing found Marketo leaves `result` out but still answers `nextPageToken` and `moreResult`.
  return { ...(items.length > 0 ? { result: items } : {}), nextPageToken: next, moreResult: more };
}

/** The members every activity item carries (lead changes, activities, deleted leads). */
function activityBase(a: ActivityRecord) {
  return {
    id: a.id,
    marketoGUID: a.marketoGUID,
    leadId: a.leadId,
    activityDate: a.activityDate,
    activityTypeId: a.activityTypeId,
  };
}

/** Lead changes: New Lead (12) and Change Data Value (13) for the requested fields only. */
export function leadChanges(store: SandboxStore, req: RestRequest): SuccessBody {
  const fields = new Set(knownFields(csv(required(req.query, 'fields'))));
  const { items, next, more } = scan(
    store,
    req,
    (a) =>
      a.activityTypeId === ACTIVITY.newLead ||
      (a.activityTypeId === ACTIVITY.changeDataValue && (a.fields ?? []).some((f) => fields.has(f.name))),
  );
  return page(
    items.map((a) => ({
      ...activityBase(a),
      ...(a.activityTypeId === ACTIVITY.newLead
        ? { primaryAttributeValueId: a.primaryAttributeValueId, primaryAttributeValue: a.primaryAttributeValue }
        : {}),
      fields: (a.fields ?? []).filter((f) => fields.has(f.name)),
      attributes: attributesOf(a),
    })),
    next,
    more,
  );
}

export function activities(store: SandboxStore, req: RestRequest): SuccessBody {
  const types = csv(required(req.query, 'activityTypeIds')).map(Number);
  if (types.length > 10) throw new MarketoApiError('1003', 'activityTypeIds exceeds 10');
  const { items, next, more } = scan(store, req, (a) => types.includes(a.activityTypeId));
  return page(
    items.map((a) => ({
      ...activityBase(a),
      ...(a.primaryAttributeValueId === undefined ? {} : { primaryAttributeValueId: a.primaryAttributeValueId }),
      ...(a.primaryAttributeValue === undefined ? {} : { primaryAttributeValue: a.primaryAttributeValue }),
      attributes: attributesOf(a),
    })),
    next,
    more,
  );
}

export function deletedLeads(store: SandboxStore, req: RestRequest): SuccessBody {
  const { items, next, more } = scan(store, req, (a) => a.activityTypeId === ACTIVITY.deleteLead);
  return page(
    items.map((a) => ({
      ...activityBase(a),
      primaryAttributeValueId: a.primaryAttributeValueId,
      primaryAttributeValue: a.primaryAttributeValue,
      attributes: [],
    })),
    next,
    more,
  );
}

export function activityTypes(store: SandboxStore): SuccessBody {
  const standard = [
    {
      id: ACTIVITY.newLead,
      name: 'New Lead',
      description: 'New person',
      primaryAttribute: { name: 'Lead ID', dataType: 'integer' },
      attributes: [],
    },
    {
      id: ACTIVITY.changeDataValue,
      name: 'Change Data Value',
      description: 'Changed attribute value for a person',
      primaryAttribute: { name: 'Attribute Name', dataType: 'integer' },
      attributes: [
        { name: 'New Value', dataType: 'string' },
        { name: 'Old Value', dataType: 'string' },
        { name: 'Reason', dataType: 'string' },
        { name: 'Source', dataType: 'string' },
      ],
    },
    {
      id: ACTIVITY.deleteLead,
      name: 'Delete Lead',
      description: 'Delete a person',
      primaryAttribute: { name: 'Lead ID', dataType: 'integer' },
      attributes: [],
    },
  ];
  const custom = [...store.customTypes.values()]
    .filter((t) => t.status === 'approved')
    .map((t) => ({
      id: t.id,
      name: t.name,
      description: t.description ?? '',
      primaryAttribute: { name: t.primaryAttribute.name, dataType: t.primaryAttribute.dataType },
      attributes: t.attributes.map((a) => ({ name: a.name, dataType: a.dataType })),
    }));
  return { result: [...standard, ...custom] };
}

function typeView(t: ReturnType<SandboxStore['createType']>): Record<string, unknown> {
  return { ...t };
}

export function customTypes(store: SandboxStore): SuccessBody {
  return { result: [...store.customTypes.values()].map(typeView) };
}

function str(record: Record<string, unknown>, name: string): string {
  const value = record[name];
  if (typeof value !== 'string' || value.trim() === '') throw new MarketoApiError('701', `${name} cannot be blank`);
  return value;
}

export function createCustomType(store: SandboxStore, req: RestRequest): SuccessBody {
  const b = body(req);
  const apiName = str(b, 'apiName');
  const primary = isRecord(b.primaryAttribute) ? b.primaryAttribute : undefined;
  if (!primary) throw new MarketoApiError('701', 'primaryAttribute cannot be blank');
  if (store.customTypes.has(apiName)) throw new MarketoApiError('1003', `Activity type '${apiName}' already exists`);
  if (store.customTypes.size >= 10)
    throw new MarketoApiError('1027', 'Maximum number of custom activity types reached');
  const type = store.createType({
    apiName,
    name: str(b, 'name'),
    ...(typeof b.description === 'string' ? { description: b.description } : {}),
    triggerName: str(b, 'triggerName'),
    filterName: str(b, 'filterName'),
    primaryAttribute: {
      apiName: str(primary, 'apiName'),
      name: str(primary, 'name'),
      ...(typeof primary.description === 'string' ? { description: primary.description } : {}),
      dataType: 'string',
    },
  });
  return { result: [typeView(type)] };
}

function typeByApiName(store: SandboxStore, req: RestRequest): ReturnType<SandboxStore['createType']> {
  const type = store.customTypes.get(req.params.apiName ?? '');
  if (!type) throw new MarketoApiError('610', 'Requested resource not found');
  return type;
}

const ATTRIBUTE_TYPES = [
  'string',
  'boolean',
  'integer',
  'float',
  'link',
  'email',
  'currency',
  'date',
  'datetime',
  'phone',
  'text',
];

export function createCustomTypeAttributes(store: SandboxStore, req: RestRequest): SuccessBody {
  const type = typeByApiName(store, req);
  const list = body(req).attributes;
  if (!Array.isArray(list) || list.length === 0) throw new MarketoApiError('701', 'attributes cannot be blank');
  if (type.attributes.length + list.length > 20)
    throw new MarketoApiError('1028', 'Maximum of 20 secondary attributes reached');
  for (const item of list) {
    if (!isRecord(item)) throw new MarketoApiError('1003', 'Invalid attribute');
    const dataType = str(item, 'dataType');
    if (!ATTRIBUTE_TYPES.includes(dataType)) throw new MarketoApiError('1003', `Invalid dataType '${dataType}'`);
    type.attributes.push({
      apiName: str(item, 'apiName'),
      name: str(item, 'name'),
      dataType,
      ...(typeof item.description === 'string' ? { description: item.description } : {}),
    });
  }
  return { result: [typeView(type)] };
}

export function approveCustomType(store: SandboxStore, req: RestRequest): SuccessBody {
  const type = typeByApiName(store, req);
  type.status = 'approved';
  return { result: [typeView(type)] };
}

export function describeCustomType(store: SandboxStore, req: RestRequest): SuccessBody {
  return { result: [typeView(typeByApiName(store, req))] };
}

/** Add Custom Activities: record-level failures come under `errors` here, not `reasons` ([MK-DEV] activities.md). */
export function addCustomActivities(store: SandboxStore, req: RestRequest): SuccessBody {
  const records = input(req);
  return {
    result: records.map((record) => {
      const fail = (code: string, message: string) => ({ status: 'skipped', errors: [{ code, message }] });
      if (!isRecord(record)) return fail('1003', 'Invalid data');
      for (const name of ['leadId', 'activityDate', 'activityTypeId', 'primaryAttributeValue', 'attributes']) {
        if (record[name] === undefined) return fail('1002', `Missing value for required parameter '${name}'`);
      }
      const type = [...store.customTypes.values()].find(
        (t) => t.id === record.activityTypeId && t.status === 'approved',
      );
      if (!type) return fail('1013', 'Activity type not found');
      const leadId = Number(record.leadId);
      if (!store.persons.has(leadId)) return fail('1004', 'Lead not found');
      if (!Array.isArray(record.attributes)) return fail('1003', 'Invalid attributes');
      const attributes: Array<{ name: string; value: SandboxValue }> = [];
      for (const item of record.attributes) {
        const key = isRecord(item) ? (item.apiName ?? item.name) : undefined;
        const def = type.attributes.find((a) => a.apiName === key || a.name === key);
        if (!isRecord(item) || !def) return fail('1006', `Field '${String(key)}' not found`);
        const value = item.value;
        attributes.push({
          name: def.name,
          value: typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : null,
        });
      }
      if (JSON.stringify(attributes).length > 65536) return fail('1049', 'Failed to create activity');
      const date = typeof record.activityDate === 'string' ? Date.parse(record.activityDate) : NaN;
      if (Number.isNaN(date)) return fail('1003', 'Invalid activityDate');
      const activity = store.log({
        leadId,
        activityTypeId: type.id,
        primaryAttributeValue: String(record.primaryAttributeValue),
        attributes,
        activityDate: new Date(date).toISOString().replace(/\.\d{3}Z$/, '+0000'),
      });
      return { id: activity.id, marketoGUID: activity.marketoGUID, status: 'added' };
    }),
  };
}
