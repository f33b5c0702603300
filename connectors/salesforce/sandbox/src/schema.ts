/**
 * The objects of a vanilla org that the sandbox serves, with their standard fields as the Object Reference lists
 * them (name, type, length, whether the API can create or update them, nillable, defaulted on create):
 * https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_contact.htm
 * https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_lead.htm
 * https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_organization.htm
 * Lengths: https://developer.salesforce.com/docs/platform/field-reference/references/field-reference/salesforce-field-reference-contact.html
 * Fields that need another object the sandbox does not simulate (Contact.AccountId, ReportsToId, …) are left
 * out rather than answered wrongly.
 */

export type FieldType =
  | 'id'
  | 'string'
  | 'textarea'
  | 'email'
  | 'phone'
  | 'url'
  | 'picklist'
  | 'boolean'
  | 'datetime'
  | 'date'
  | 'reference'
  | 'double'
  | 'currency'
  | 'int'
  /** A compound address: read-only, its value is built from its component fields. */
  | 'address';

export interface PicklistValue {
  value: string;
  label: string;
  defaultValue: boolean;
}

export interface FieldDef {
  name: string;
  label: string;
  type: FieldType;
  /** Characters, for text types; 18 for ids and references. */
  length: number;
  /** Digits, for numbers. */
  precision?: number;
  scale?: number;
  createable: boolean;
  updateable: boolean;
  nillable: boolean;
  defaultedOnCreate: boolean;
  /** The value a create gets when the field is left out. */
  defaultValue?: string | boolean;
  filterable: boolean;
  sortable: boolean;
  idLookup: boolean;
  custom: boolean;
  /** Set by the platform itself (CreatedDate, SystemModstamp, …), never by a client. */
  system: boolean;
  /** Computed from other fields (Name). */
  calculated: boolean;
  picklistValues?: PicklistValue[];
  /** A picklist that refuses values outside its list (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST). */
  restrictedPicklist?: boolean;
  referenceTo?: string[];
  relationshipName?: string;
  /** The compound field this field is a component of (`MailingAddress` for `MailingCity`, `Name` for `FirstName`). */
  compoundFieldName?: string;
  /** For an address: the component fields its value is built from. */
  addressParts?: AddressParts;
}

/** The component fields of a compound address, by the key each has in the address value. */
export interface AddressParts {
  city: string;
  country: string;
  geocodeAccuracy: string;
  latitude: string;
  longitude: string;
  postalCode: string;
  state: string;
  street: string;
}

export interface ObjectDef {
  name: string;
  label: string;
  labelPlural: string;
  keyPrefix: string;
  createable: boolean;
  updateable: boolean;
  deletable: boolean;
  mergeable: boolean;
  replicateable: boolean;
  custom: boolean;
  fields: FieldDef[];
}

export type ObjectName = 'Contact' | 'Lead' | 'Organization';
export const DATA_OBJECTS = ['Contact', 'Lead'] as const;
export type DataObjectName = (typeof DATA_OBJECTS)[number];

type FieldSpec = Partial<FieldDef> & Pick<FieldDef, 'name' | 'label' | 'type'>;

const TEXT_TYPES: ReadonlySet<FieldType> = new Set(['string', 'textarea', 'email', 'phone', 'url', 'picklist']);

export function isTextType(type: FieldType): boolean {
  return TEXT_TYPES.has(type);
}

/** A field the client can set: createable, updateable, nillable unless told otherwise. */
function field(spec: FieldSpec): FieldDef {
  const longText = spec.type === 'textarea' && (spec.length ?? 0) > 255;
  return {
    length: 0,
    createable: true,
    updateable: true,
    nillable: true,
    defaultedOnCreate: false,
    // Long text areas can be neither filtered nor sorted on (SOQL reference, fieldExpression).
    filterable: !longText,
    sortable: !longText,
    idLookup: false,
    custom: false,
    system: false,
    calculated: false,
    ...spec,
  };
}

/** A read-only field the platform maintains. */
function systemField(spec: FieldSpec): FieldDef {
  return field({ createable: false, updateable: false, system: true, ...spec });
}

function picklist(values: string[], defaultValue?: string): PicklistValue[] {
  return values.map((value) => ({ value, label: value, defaultValue: value === defaultValue }));
}

const SALUTATIONS = picklist(['Mr.', 'Ms.', 'Mrs.', 'Dr.', 'Prof.', 'Mx.']);
const LEAD_SOURCES = picklist(['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other']);
/** The vanilla lead status picklist; "Open - Not Contacted" is its default value. */
export const LEAD_STATUSES = picklist(
  ['Open - Not Contacted', 'Working - Contacted', 'Closed - Converted', 'Closed - Not Converted'],
  'Open - Not Contacted',
);
const INDUSTRIES = picklist([
  'Agriculture',
  'Apparel',
  'Banking',
  'Biotechnology',
  'Chemicals',
  'Communications',
  'Construction',
  'Consulting',
  'Education',
  'Electronics',
  'Energy',
  'Engineering',
  'Entertainment',
  'Environmental',
  'Finance',
  'Food & Beverage',
  'Government',
  'Healthcare',
  'Hospitality',
  'Insurance',
  'Machinery',
  'Manufacturing',
  'Media',
  'Not For Profit',
  'Recreation',
  'Retail',
  'Shipping',
  'Technology',
  'Telecommunications',
  'Transportation',
  'Utilities',
  'Other',
]);
const RATINGS = picklist(['Hot', 'Warm', 'Cold']);
const GEOCODE_ACCURACIES = picklist([
  'Address',
  'NearAddress',
  'Block',
  'Street',
  'ExtendedZip',
  'Zip',
  'Neighborhood',
  'City',
  'County',
  'State',
  'Unknown',
]);

/**
 * A standard address: its component fields (street, city, state, postal code, country, and the geocode: latitude,
 * longitude, accuracy) and the read-only compound field of type address that reads them as one value.
 * https://developer.salesforce.com/docs/platform/object-reference/guide/compound-fields-address.html
 * Lengths: https://developer.salesforce.com/docs/platform/field-reference/references/field-reference/salesforce-field-reference-contact.html
 */
function addressFields(prefix: string, compound: string, labelPrefix: string): FieldDef[] {
  const name = (part: string) => `${prefix}${part}`;
  const label = (part: string) => `${labelPrefix}${part}`.trim();
  const parts: AddressParts = {
    city: name('City'),
    country: name('Country'),
    geocodeAccuracy: name('GeocodeAccuracy'),
    latitude: name('Latitude'),
    longitude: name('Longitude'),
    postalCode: name('PostalCode'),
    state: name('State'),
    street: name('Street'),
  };
  const component = (spec: FieldSpec) => field({ compoundFieldName: compound, ...spec });
  return [
    component({ name: parts.street, label: label('Street'), type: 'textarea', length: 255 }),
    component({ name: parts.city, label: label('City'), type: 'string', length: 40 }),
    component({ name: parts.state, label: label('State/Province'), type: 'string', length: 80 }),
    component({ name: parts.postalCode, label: label('Zip/Postal Code'), type: 'string', length: 20 }),
    component({ name: parts.country, label: label('Country'), type: 'string', length: 80 }),
    component({ name: parts.latitude, label: label('Latitude'), type: 'double', precision: 18, scale: 15 }),
    component({ name: parts.longitude, label: label('Longitude'), type: 'double', precision: 18, scale: 15 }),
    component({
      name: parts.geocodeAccuracy,
      label: label('Geocode Accuracy'),
      type: 'picklist',
      length: 40,
      picklistValues: GEOCODE_ACCURACIES,
      restrictedPicklist: true,
    }),
    // "Compound fields are read-only" (describe: Filter, Nillable; SOQL filters on one only through DISTANCE()).
    field({
      name: compound,
      label: `${labelPrefix}Address`.trim(),
      type: 'address',
      createable: false,
      updateable: false,
      sortable: false,
      addressParts: parts,
    }),
  ];
}

/** Fields the platform keeps about a user's use of the record, and the photo URL: read-only. */
function usageFields(): FieldDef[] {
  return [
    systemField({ name: 'PhotoUrl', label: 'Photo URL', type: 'url', length: 255 }),
    systemField({ name: 'LastViewedDate', label: 'Last Viewed Date', type: 'datetime' }),
    systemField({ name: 'LastReferencedDate', label: 'Last Referenced Date', type: 'datetime' }),
  ];
}

function auditFields(): FieldDef[] {
  return [
    systemField({
      name: 'CreatedDate',
      label: 'Created Date',
      type: 'datetime',
      nillable: false,
      defaultedOnCreate: true,
    }),
    systemField({
      name: 'CreatedById',
      label: 'Created By ID',
      type: 'reference',
      length: 18,
      nillable: false,
      defaultedOnCreate: true,
      referenceTo: ['User'],
      relationshipName: 'CreatedBy',
    }),
    systemField({
      name: 'LastModifiedDate',
      label: 'Last Modified Date',
      type: 'datetime',
      nillable: false,
      defaultedOnCreate: true,
    }),
    systemField({
      name: 'LastModifiedById',
      label: 'Last Modified By ID',
      type: 'reference',
      length: 18,
      nillable: false,
      defaultedOnCreate: true,
      referenceTo: ['User'],
      relationshipName: 'LastModifiedBy',
    }),
    systemField({
      name: 'SystemModstamp',
      label: 'System Modstamp',
      type: 'datetime',
      nillable: false,
      defaultedOnCreate: true,
    }),
    systemField({ name: 'LastActivityDate', label: 'Last Activity', type: 'date' }),
  ];
}

function personFields(object: 'Contact' | 'Lead'): FieldDef[] {
  return [
    systemField({
      name: 'Id',
      label: `${object} ID`,
      type: 'id',
      length: 18,
      nillable: false,
      defaultedOnCreate: true,
      idLookup: true,
    }),
    systemField({ name: 'IsDeleted', label: 'Deleted', type: 'boolean', nillable: false, defaultedOnCreate: true }),
    systemField({
      name: 'MasterRecordId',
      label: 'Master Record ID',
      type: 'reference',
      length: 18,
      referenceTo: [object],
      relationshipName: 'MasterRecord',
    }),
    field({
      name: 'LastName',
      label: 'Last Name',
      type: 'string',
      length: 80,
      nillable: false,
      compoundFieldName: 'Name',
    }),
    field({ name: 'FirstName', label: 'First Name', type: 'string', length: 40, compoundFieldName: 'Name' }),
    field({
      name: 'Salutation',
      label: 'Salutation',
      type: 'picklist',
      length: 40,
      picklistValues: SALUTATIONS,
      compoundFieldName: 'Name',
    }),
    systemField({
      name: 'Name',
      label: 'Full Name',
      type: 'string',
      length: 121,
      nillable: false,
      system: false,
      calculated: true,
    }),
    field({ name: 'Title', label: 'Title', type: 'string', length: 128 }),
    field({ name: 'Email', label: 'Email', type: 'email', length: 80, idLookup: true }),
    field({ name: 'Phone', label: object === 'Contact' ? 'Business Phone' : 'Phone', type: 'phone', length: 40 }),
    field({ name: 'MobilePhone', label: 'Mobile Phone', type: 'phone', length: 40 }),
    field({ name: 'Fax', label: object === 'Contact' ? 'Business Fax' : 'Fax', type: 'phone', length: 40 }),
    field({ name: 'LeadSource', label: 'Lead Source', type: 'picklist', length: 40, picklistValues: LEAD_SOURCES }),
    field({ name: 'Description', label: `${object} Description`, type: 'textarea', length: 32000 }),
    field({
      name: 'OwnerId',
      label: 'Owner ID',
      type: 'reference',
      length: 18,
      nillable: false,
      defaultedOnCreate: true,
      referenceTo: ['User'],
      relationshipName: 'Owner',
    }),
    field({
      name: 'HasOptedOutOfEmail',
      label: 'Email Opt Out',
      type: 'boolean',
      nillable: false,
      defaultedOnCreate: true,
      defaultValue: false,
    }),
    field({
      name: 'HasOptedOutOfFax',
      label: 'Fax Opt Out',
      type: 'boolean',
      nillable: false,
      defaultedOnCreate: true,
      defaultValue: false,
    }),
    field({
      name: 'DoNotCall',
      label: 'Do Not Call',
      type: 'boolean',
      nillable: false,
      defaultedOnCreate: true,
      defaultValue: false,
    }),
    field({ name: 'EmailBouncedReason', label: 'Email Bounced Reason', type: 'string', length: 255 }),
    field({ name: 'EmailBouncedDate', label: 'Email Bounced Date', type: 'datetime' }),
    ...usageFields(),
    ...auditFields(),
  ];
}

const CONTACT: ObjectDef = {
  name: 'Contact',
  label: 'Contact',
  labelPlural: 'Contacts',
  keyPrefix: '003',
  createable: true,
  updateable: true,
  deletable: true,
  mergeable: true,
  replicateable: true,
  custom: false,
  fields: [
    ...personFields('Contact'),
    ...addressFields('Mailing', 'MailingAddress', 'Mailing '),
    ...addressFields('Other', 'OtherAddress', 'Other '),
    field({ name: 'HomePhone', label: 'Home Phone', type: 'phone', length: 40 }),
    field({ name: 'OtherPhone', label: 'Other Phone', type: 'phone', length: 40 }),
    field({ name: 'AssistantName', label: "Assistant's Name", type: 'string', length: 40 }),
    field({ name: 'AssistantPhone', label: 'Asst. Phone', type: 'phone', length: 40 }),
    // A vanilla org's lookups to its accounts and to the contact's manager: nothing to point at until a record
    // exists (the sandbox simulates no Account records).
    field({
      name: 'AccountId',
      label: 'Account ID',
      type: 'reference',
      length: 18,
      referenceTo: ['Account'],
      relationshipName: 'Account',
    }),
    field({
      name: 'ReportsToId',
      label: 'Reports To ID',
      type: 'reference',
      length: 18,
      referenceTo: ['Contact'],
      relationshipName: 'ReportsTo',
    }),
    field({ name: 'Department', label: 'Department', type: 'string', length: 80 }),
    field({ name: 'Birthdate', label: 'Birthdate', type: 'date' }),
  ],
};

const LEAD: ObjectDef = {
  name: 'Lead',
  label: 'Lead',
  labelPlural: 'Leads',
  keyPrefix: '00Q',
  createable: true,
  updateable: true,
  deletable: true,
  mergeable: true,
  replicateable: true,
  custom: false,
  fields: [
    ...personFields('Lead'),
    field({ name: 'Company', label: 'Company', type: 'string', length: 255, nillable: false }),
    ...addressFields('', 'Address', ''),
    field({ name: 'Website', label: 'Website', type: 'url', length: 255 }),
    field({ name: 'AnnualRevenue', label: 'Annual Revenue', type: 'currency', precision: 18, scale: 0 }),
    field({
      name: 'Status',
      label: 'Status',
      type: 'picklist',
      length: 40,
      nillable: false,
      defaultedOnCreate: true,
      defaultValue: 'Open - Not Contacted',
      picklistValues: LEAD_STATUSES,
    }),
    field({ name: 'Industry', label: 'Industry', type: 'picklist', length: 40, picklistValues: INDUSTRIES }),
    field({ name: 'Rating', label: 'Rating', type: 'picklist', length: 40, picklistValues: RATINGS }),
    field({ name: 'NumberOfEmployees', label: 'Employees', type: 'int', precision: 8, scale: 0 }),
    field({
      name: 'IsConverted',
      label: 'Converted',
      type: 'boolean',
      nillable: false,
      defaultedOnCreate: true,
      defaultValue: false,
      updateable: false,
    }),
    systemField({ name: 'ConvertedDate', label: 'Converted Date', type: 'date' }),
    ...(['Account', 'Contact', 'Opportunity'] as const).map((target) =>
      systemField({
        name: `Converted${target}Id`,
        label: `Converted ${target} ID`,
        type: 'reference',
        length: 18,
        referenceTo: [target],
        relationshipName: `Converted${target}`,
      }),
    ),
    field({
      name: 'IsUnreadByOwner',
      label: 'Unread By Owner',
      type: 'boolean',
      nillable: false,
      defaultedOnCreate: true,
      defaultValue: false,
    }),
  ],
};

const ORGANIZATION: ObjectDef = {
  name: 'Organization',
  label: 'Organization',
  labelPlural: 'Organizations',
  keyPrefix: '00D',
  createable: false,
  updateable: false,
  deletable: false,
  mergeable: false,
  replicateable: false,
  custom: false,
  fields: [
    systemField({ name: 'Id', label: 'Organization ID', type: 'id', length: 18, nillable: false, idLookup: true }),
    systemField({ name: 'Name', label: 'Name', type: 'string', length: 80, nillable: false }),
    systemField({ name: 'OrganizationType', label: 'Edition', type: 'picklist', length: 40 }),
    systemField({ name: 'InstanceName', label: 'Instance Name', type: 'string', length: 5 }),
    systemField({ name: 'IsSandbox', label: 'Is Sandbox', type: 'boolean', nillable: false }),
    systemField({ name: 'LanguageLocaleKey', label: 'Language', type: 'picklist', length: 40 }),
    systemField({ name: 'TimeZoneSidKey', label: 'Time Zone', type: 'picklist', length: 40 }),
    systemField({ name: 'DefaultLocaleSidKey', label: 'Locale', type: 'picklist', length: 40 }),
    ...auditFields().filter((f) => f.name !== 'LastActivityDate'),
  ],
};

/** Custom fields that `extras: true` adds to Contact and Lead (a vanilla org has none). */
export function extraFields(): FieldDef[] {
  return [
    field({ name: 'Lead_Score__c', label: 'Lead Score', type: 'double', precision: 18, scale: 0, custom: true }),
    field({ name: 'Segment__c', label: 'Segment', type: 'string', length: 255, custom: true }),
  ];
}

/** The object definitions of one sandbox (fresh copies, so options and extras never leak between sandboxes). */
export function makeSchema(extras: boolean): Record<ObjectName, ObjectDef> {
  const copy = (def: ObjectDef, more: FieldDef[]): ObjectDef => ({
    ...def,
    fields: [...def.fields, ...more].map((f) => ({ ...f })),
  });
  return {
    Contact: copy(CONTACT, extras ? extraFields() : []),
    Lead: copy(LEAD, extras ? extraFields() : []),
    Organization: copy(ORGANIZATION, []),
  };
}

export const OBJECT_NAMES: readonly ObjectName[] = ['Contact', 'Lead', 'Organization'];

/** Key prefixes (the first three characters of an id, naming its object) of the objects references point at. */
export const KEY_PREFIXES: Readonly<Record<string, string>> = {
  Account: '001',
  Contact: '003',
  User: '005',
  Opportunity: '006',
  Lead: '00Q',
  Organization: '00D',
};

/** The object an API name means (case-insensitive, as Salesforce reads object names in URLs and SOQL). */
export function objectNamed(name: string): ObjectName | undefined {
  const lower = name.toLowerCase();
  return OBJECT_NAMES.find((n) => n.toLowerCase() === lower);
}

export function isDataObject(name: ObjectName): name is DataObjectName {
  return name === 'Contact' || name === 'Lead';
}
