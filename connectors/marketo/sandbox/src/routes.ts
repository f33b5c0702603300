/**
 * The documented REST endpoints, as pure functions of a request onto the store. Auth, limits and fault
 * injection happen before these run (see `server.ts`); these only implement each endpoint's semantics.
 * Pages cited: https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/ + `lead-database/leads`,
 * `activities`, `paging-tokens`, `error-codes`; the Swagger at https://developer.adobe.com/marketo-apis/api/mapi.
 */
import { DEFAULT_READ_FIELDS, type SandboxField } from './fields';
import { MarketoApiError, csv, decodeToken, issueToken, type SuccessBody } from './envelope';
import {
  ACTIVITY,
  marketoDate,
  offsetDate,
  type ActivityRecord,
  type CustomActivityType,
  type SandboxStore,
  type SandboxValue,
  type WriteRecordResult,
} from './store';

export interface RestRequest {
  query: Record<string, unknown>;
  params: Record<string, string>;
  body: unknown;
}

/** Records per call, filter values per call and the largest `batchSize` (leads.md; lead-database.md). */
const MAX_BATCH = 300;
/** More matches than this for Get Leads by Filter Type is "1003, Too many results match the filter" (leads.md). */
const MAX_FILTER_MATCHES = 1000;
/** Text area fields hold up to 30,000 bytes (field-types.md). */
const TEXT_AREA_BYTES = 30_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A missing required parameter is 701 "%s cannot be blank" (error-codes.md). */
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

/** Field names of a `fields` parameter; one the instance lacks is 1006 "Field '%s' not found" (error-codes.md). */
function knownFields(store: SandboxStore, names: string[]): string[] {
  for (const name of names)
    if (!store.schema.field(name)) throw new MarketoApiError('1006', `Field '${name}' not found`);
  return names;
}

function readFields(store: SandboxStore, req: RestRequest): string[] {
  return req.query.fields === undefined ? [...DEFAULT_READ_FIELDS] : knownFields(store, csv(req.query.fields));
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

export function describe(store: SandboxStore): SuccessBody {
  return {
    result: store.schema.fields.map((field) => ({
      id: field.id,
      displayName: field.displayName,
      dataType: field.dataType,
      ...(field.length ? { length: field.length } : {}),
      rest: { name: field.name, readOnly: !field.updateable },
      soap: { name: field.name.charAt(0).toUpperCase() + field.name.slice(1), readOnly: !field.updateable },
    })),
  };
}

/** Describe2: `searchableFields` is a list of keys, each a list of field names (Swagger `LeadAttribute2`). */
export function describe2(store: SandboxStore): SuccessBody {
  return {
    result: [
      {
        name: 'API Lead',
        searchableFields: store.schema.searchable.map((name) => [name]),
        fields: store.schema.fields.map((field) => ({
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

/** A filter type or lookup field that is no searchable field: 1011 "Field '%s' not supported" (or 1006). */
function searchable(store: SandboxStore, name: string): string {
  if (store.schema.searchable.includes(name)) return name;
  if (!store.schema.field(name)) throw new MarketoApiError('1006', `Field '${name}' not found`);
  throw new MarketoApiError('1011', `Field '${name}' not supported`);
}

/** Get Leads by Filter Type: `filterType`/`filterValues` (≤300), `fields`, `batchSize`, `nextPageToken`. */
export function getLeads(store: SandboxStore, req: RestRequest): SuccessBody {
  const filterType = searchable(store, required(req.query, 'filterType'));
  const values = csv(required(req.query, 'filterValues'));
  if (values.length > MAX_BATCH) throw new MarketoApiError('1003', `filterValues exceeds ${MAX_BATCH}`);
  const fields = readFields(store, req);
  const size = batchSize(req.query);
  const seen = new Set<number>();
  const matches = values
    .flatMap((value) => store.find(filterType, value))
    .filter((p) => !seen.has(p.id) && seen.add(p.id));
  if (matches.length > MAX_FILTER_MATCHES) throw new MarketoApiError('1003', 'Too many results match the filter');
  const offset = typeof req.query.nextPageToken === 'string' ? decodeToken('leads', req.query.nextPageToken) : 0;
  const page = matches.slice(offset, offset + size);
  const more = offset + size < matches.length;
  // No match is success with an empty result array (leads.md).
  return {
    result: page.map((person) => store.view(person, fields)),
    ...(more ? { moreResult: true, nextPageToken: issueToken('leads', offset + size) } : {}),
  };
}

/** Get Lead by Id. What an unknown id answers is not documented; here an empty result. */
export function getLead(store: SandboxStore, req: RestRequest): SuccessBody {
  const fields = readFields(store, req);
  const person = store.persons.get(Number(req.params.id));
  return { result: person ? [store.view(person, fields)] : [] };
}

const skip = (code: string, message: string): WriteRecordResult => ({
  status: 'skipped',
  reasons: [{ code, message }],
});

const typeMismatch = (value: unknown, field: SandboxField) =>
  skip('1001', `Invalid value '${String(value)}'. Required of type '${field.dataType}'`);

/** Checks one value against its field's type (field-types.md); returns the skip reason, if any. */
function invalidValue(field: SandboxField, value: unknown): WriteRecordResult | undefined {
  if (value === null) return undefined;
  switch (field.dataType) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : typeMismatch(value, field);
    case 'integer':
      return Number.isInteger(value) ? undefined : typeMismatch(value, field);
    case 'float':
    case 'currency':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : typeMismatch(value, field);
    case 'date':
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value))
        ? undefined
        : typeMismatch(value, field);
    case 'datetime':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? undefined : typeMismatch(value, field);
    case 'email':
      // Only ASCII characters are supported in email values (leads.md, "Create and Update").
      if (typeof value !== 'string') return typeMismatch(value, field);
      if (!/^[\x20-\x7e]*$/.test(value)) return skip('1003', 'Invalid data');
      return value.length > (field.length ?? Infinity) ? skip('1003', 'Invalid data') : undefined;
    case 'text':
      if (typeof value !== 'string') return typeMismatch(value, field);
      return Buffer.byteLength(value) > TEXT_AREA_BYTES ? skip('1003', 'Invalid data') : undefined;
    default:
      if (typeof value !== 'string' && typeof value !== 'number') return typeMismatch(value, field);
      return field.length && String(value).length > field.length ? skip('1003', 'Invalid data') : undefined;
  }
}

const ACTIONS = ['createOnly', 'updateOnly', 'createOrUpdate', 'createDuplicate'];

/** Sync Leads: the four actions, lookupField, and one record-level status per input, in input order. */
export function syncLeads(store: SandboxStore, req: RestRequest): SuccessBody {
  const records = input(req);
  const action = body(req).action ?? 'createOrUpdate';
  const lookupField = body(req).lookupField ?? 'email';
  if (typeof action !== 'string' || !ACTIONS.includes(action)) {
    throw new MarketoApiError('1003', `Invalid action '${String(action)}'`);
  }
  if (typeof lookupField !== 'string') throw new MarketoApiError('1003', 'Invalid lookupField');
  searchable(store, lookupField);
  const result = records.map((record): WriteRecordResult => {
    if (!isRecord(record)) return skip('1003', 'Invalid data');
    const values: Record<string, SandboxValue> = {};
    for (const [name, value] of Object.entries(record)) {
      const field = store.schema.field(name);
      if (!field) return skip('1006', `Field '${name}' not found`);
      if (name === 'id' || !field.updateable) continue;
      const problem = invalidValue(field, value);
      if (problem) return problem;
      values[name] = value as SandboxValue;
    }
    // `id` is system managed: only updateOnly takes it (leads.md), else 1003 (error-codes.md).
    if (record.id !== undefined && action !== 'updateOnly') return skip('1003', 'Invalid data');
    const key = record[lookupField];
    const matches = key === undefined || key === null || key === '' ? [] : store.find(lookupField, String(key));
    if (action === 'createDuplicate' || (action !== 'updateOnly' && matches.length === 0)) {
      return { id: store.createPerson(values, 'Web service API').id, status: 'created' };
    }
    if (action === 'createOnly') return skip('1005', 'Lead already exists');
    if (key === undefined || key === null || key === '')
      return skip('1002', `Missing value for the required parameter '${lookupField}'`);
    const [match, ...others] = matches;
    if (!match) return skip('1004', 'Lead not found');
    if (others.length > 0) return skip('1007', 'Multiple leads match the lookup criteria');
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

/** A date-based paging token: `sinceDatetime` a full ISO 8601 datetime with an offset or `Z` (paging-tokens.md). */
export function pagingToken(store: SandboxStore, req: RestRequest): SuccessBody {
  const since = required(req.query, 'sinceDatetime');
  const ms = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(since) ? Date.parse(since) : NaN;
  if (Number.isNaN(ms)) throw new MarketoApiError('704', 'Invalid date format');
  // No `result` member: `{requestId, success, nextPageToken}` (paging-tokens.md).
  return { nextPageToken: issueToken('act', store.positionAt(ms)) };
}

/** Attributes with empty values are left out of an activity (activities.md, "Describe"). */
function present(attributes: ActivityRecord['attributes']): ActivityRecord['attributes'] {
  return attributes.filter((a) => a.value !== null && a.value !== '');
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

/**
 * An activities page. These endpoints always answer `nextPageToken`, and `moreResult` may be true on a page
 * shorter than `batchSize` (activities.md, "Page through results"). With nothing found the `result` member is
 * left out, as the paging token answer leaves it out (clients must read a missing `result` as empty).
 */
function page(items: unknown[], next: string, more: boolean): SuccessBody {
  return { ...(items.length > 0 ? { result: items } : {}), nextPageToken: next, moreResult: more };
}

/** The members every activity item carries (lead changes, activities, deleted leads). */
function activityBase(a: ActivityRecord, date: (ms: number) => string) {
  return {
    id: a.id,
    marketoGUID: a.marketoGUID,
    leadId: a.leadId,
    activityDate: date(a.at),
    activityTypeId: a.activityTypeId,
  };
}

/** A changed value as Get Lead Changes reports it: text (Swagger `LeadChangeField`: newValue, oldValue strings). */
function asText(value: SandboxValue): string | null {
  return value === null ? null : String(value);
}

/**
 * Lead changes: New Lead (12) and Change Data Value (13) for the requested fields only. A change item is shaped
 * as activities.md's example (`fields` with id, name, newValue, oldValue; Reason, Source and Lead ID
 * attributes), a New Lead item as the developer blog's lead-changes sample (no `fields`; the lead id and name
 * as primary attribute; Created Date and Source Type). Dates in the `+0000` form of the example.
 */
export function leadChanges(store: SandboxStore, req: RestRequest): SuccessBody {
  const fields = new Set(knownFields(store, csv(required(req.query, 'fields'))));
  const { items, next, more } = scan(
    store,
    req,
    (a) =>
      a.activityTypeId === ACTIVITY.newLead ||
      (a.activityTypeId === ACTIVITY.changeDataValue && (a.fields ?? []).some((f) => fields.has(f.name))),
  );
  return page(
    items.map((a) => {
      if (a.activityTypeId === ACTIVITY.newLead) {
        return {
          ...activityBase(a, offsetDate),
          primaryAttributeValueId: a.primaryAttributeValueId,
          primaryAttributeValue: a.primaryAttributeValue,
          attributes: present(a.attributes),
        };
      }
      return {
        ...activityBase(a, offsetDate),
        fields: (a.fields ?? [])
          .filter((f) => fields.has(f.name))
          .map((f) => ({ id: f.id, name: f.name, newValue: asText(f.newValue), oldValue: asText(f.oldValue) })),
        attributes: present(a.attributes.filter((attr) => attr.name !== 'New Value' && attr.name !== 'Old Value')),
      };
    }),
    next,
    more,
  );
}

/** Get Lead Activities: up to 10 `activityTypeIds`; dates in the `Z` form of its example (activities.md). */
export function activities(store: SandboxStore, req: RestRequest): SuccessBody {
  const types = csv(required(req.query, 'activityTypeIds')).map(Number);
  if (types.length > 10) throw new MarketoApiError('1003', 'activityTypeIds exceeds 10');
  const { items, next, more } = scan(store, req, (a) => types.includes(a.activityTypeId));
  return page(
    items.map((a) => ({
      ...activityBase(a, marketoDate),
      ...(a.primaryAttributeValueId === undefined ? {} : { primaryAttributeValueId: a.primaryAttributeValueId }),
      ...(a.primaryAttributeValue === undefined ? {} : { primaryAttributeValue: a.primaryAttributeValue }),
      attributes: present(a.attributes),
    })),
    next,
    more,
  );
}

export function deletedLeads(store: SandboxStore, req: RestRequest): SuccessBody {
  const { items, next, more } = scan(store, req, (a) => a.activityTypeId === ACTIVITY.deleteLead);
  return page(
    items.map((a) => ({
      ...activityBase(a, offsetDate),
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
      attributes: [
        { name: 'Created Date', dataType: 'date' },
        { name: 'Source Type', dataType: 'string' },
      ],
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
  // Custom types are listed too, without saying which are custom (activities.md, "Query Types").
  const custom = [...store.customTypes.values()]
    .filter((t) => t.status !== 'draft')
    .map((t) => ({
      id: t.id,
      name: t.name,
      description: t.description ?? '',
      primaryAttribute: { name: t.primaryAttribute.name, dataType: t.primaryAttribute.dataType },
      attributes: t.attributes.map((a) => ({ name: a.name, dataType: a.dataType })),
    }));
  return { result: [...standard, ...custom] };
}

/** A type as Get Custom Activity Types lists it (activities.md, "Get types"). */
function listedType(t: CustomActivityType): Record<string, unknown> {
  return {
    id: t.id,
    apiName: t.apiName,
    name: t.name,
    ...(t.description === undefined ? {} : { description: t.description }),
    triggerName: t.triggerName,
    filterName: t.filterName,
    createdAt: marketoDate(t.createdAt),
    updatedAt: marketoDate(t.updatedAt),
    status: t.status,
  };
}

/** A type with its attributes (Describe Custom Activity Type; the draft's attributes with `draft=true`). */
function describedType(t: CustomActivityType, draft = false): Record<string, unknown> {
  const attributes = draft ? [...t.attributes, ...t.draftAttributes] : t.attributes;
  return { ...listedType(t), primaryAttribute: t.primaryAttribute, attributes };
}

export function customTypes(store: SandboxStore): SuccessBody {
  return { result: [...store.customTypes.values()].map(listedType) };
}

function str(record: Record<string, unknown>, name: string): string {
  const value = record[name];
  if (typeof value !== 'string' || value.trim() === '') throw new MarketoApiError('701', `${name} cannot be blank`);
  return value;
}

/** Create Custom Activity Type: a draft, answered as the example answers it (no id: activities.md, "Create type"). */
export function createCustomType(store: SandboxStore, req: RestRequest): SuccessBody {
  const b = body(req);
  const apiName = str(b, 'apiName');
  const primary = isRecord(b.primaryAttribute) ? b.primaryAttribute : undefined;
  if (!primary) throw new MarketoApiError('701', 'primaryAttribute cannot be blank');
  if (store.customTypes.has(apiName)) throw new MarketoApiError('1017', 'Object already exists');
  if (store.customTypes.size >= 10) throw new MarketoApiError('1027', 'Max Activity Type Limit Reached');
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
  const { apiName: api, name, description, triggerName, filterName, status, primaryAttribute } = type;
  return {
    result: [
      {
        apiName: api,
        name,
        ...(description === undefined ? {} : { description }),
        triggerName,
        filterName,
        status,
        primaryAttribute,
      },
    ],
  };
}

function typeByApiName(store: SandboxStore, req: RestRequest): CustomActivityType {
  const type = store.customTypes.get(req.params.apiName ?? '');
  if (!type) throw new MarketoApiError('1013', 'Object not found');
  return type;
}

/** Valid attribute data types (activities.md, "Custom Activity Type Attributes"). */
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

/** Adds secondary attributes to the type's draft (an approved type becomes "approved with draft"). */
export function createCustomTypeAttributes(store: SandboxStore, req: RestRequest): SuccessBody {
  const type = typeByApiName(store, req);
  const list = body(req).attributes;
  if (!Array.isArray(list) || list.length === 0) throw new MarketoApiError('701', 'attributes cannot be blank');
  if (type.attributes.length + type.draftAttributes.length + list.length > 20)
    throw new MarketoApiError('1028', 'Max field limit reached');
  for (const item of list) {
    if (!isRecord(item)) throw new MarketoApiError('1003', 'Invalid data');
    const dataType = str(item, 'dataType');
    if (!ATTRIBUTE_TYPES.includes(dataType)) throw new MarketoApiError('1003', 'Invalid data');
    type.draftAttributes.push({
      apiName: str(item, 'apiName'),
      name: str(item, 'name'),
      dataType,
      ...(typeof item.description === 'string' ? { description: item.description } : {}),
    });
  }
  if (type.status === 'approved') type.status = 'approved with draft';
  type.updatedAt = Date.now();
  return { result: [describedType(type, true)] };
}

export function approveCustomType(store: SandboxStore, req: RestRequest): SuccessBody {
  const type = typeByApiName(store, req);
  type.attributes.push(...type.draftAttributes.splice(0));
  type.status = 'approved';
  return { result: [describedType(type)] };
}

export function describeCustomType(store: SandboxStore, req: RestRequest): SuccessBody {
  return { result: [describedType(typeByApiName(store, req), req.query.draft === 'true')] };
}

/** Add Custom Activities: record-level failures come under `errors` here, not `reasons` (activities.md). */
export function addCustomActivities(store: SandboxStore, req: RestRequest): SuccessBody {
  const records = input(req);
  return {
    result: records.map((record) => {
      const fail = (code: string, message: string) => ({ status: 'skipped', errors: [{ code, message }] });
      if (!isRecord(record)) return fail('1003', 'Invalid data');
      for (const name of ['leadId', 'activityDate', 'activityTypeId', 'primaryAttributeValue', 'attributes']) {
        if (record[name] === undefined) return fail('1002', `Missing value for the required parameter '${name}'`);
      }
      // A type takes activities once approved (activities.md, "Create type").
      const type = [...store.customTypes.values()].find((t) => t.id === record.activityTypeId && t.status !== 'draft');
      if (!type) return fail('1013', 'Object not found');
      const leadId = Number(record.leadId);
      if (!store.persons.has(leadId)) return fail('1004', 'Lead not found');
      if (!Array.isArray(record.attributes)) return fail('1003', 'Invalid data');
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
      if (Buffer.byteLength(JSON.stringify(record.attributes)) > 65536)
        return fail('1049', 'Failed to Create Activity');
      const date = typeof record.activityDate === 'string' ? Date.parse(record.activityDate) : NaN;
      if (Number.isNaN(date)) return fail('1003', 'Invalid data');
      const activity = store.log({
        leadId,
        activityTypeId: type.id,
        primaryAttributeValue: String(record.primaryAttributeValue),
        attributes,
        at: Math.floor(date / 1000) * 1000,
      });
      return { id: activity.id, marketoGUID: activity.marketoGUID, status: 'added' };
    }),
  };
}
