/**
 * sObject Describe and sObject Basic Information as the integration user sees them: fields hidden by
 * field-level security are absent; fields it can read but not edit are neither createable nor updateable.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm
 * Field properties: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm
 */
import type { FieldDef, ObjectDef } from './schema';

export interface FieldView {
  field: FieldDef;
  createable: boolean;
  updateable: boolean;
}

const SOAP_TYPES: Record<FieldDef['type'], string> = {
  id: 'tns:ID',
  reference: 'tns:ID',
  string: 'xsd:string',
  textarea: 'xsd:string',
  email: 'xsd:string',
  phone: 'xsd:string',
  url: 'xsd:string',
  picklist: 'xsd:string',
  boolean: 'xsd:boolean',
  datetime: 'xsd:dateTime',
  date: 'xsd:date',
  double: 'xsd:double',
  currency: 'xsd:double',
  int: 'xsd:int',
  address: 'urn:address',
};

/** Types whose values are numbers with a precision and scale in describe. */
const DECIMAL_TYPES: ReadonlySet<FieldDef['type']> = new Set(['double', 'currency']);

export function describeField(view: FieldView): Record<string, unknown> {
  const f = view.field;
  const text = ['string', 'textarea', 'email', 'phone', 'url', 'picklist', 'id', 'reference'].includes(f.type);
  return {
    aggregatable: f.type !== 'textarea' || f.length <= 255,
    aiPredictionField: false,
    autoNumber: false,
    byteLength: text ? f.length * 3 : 0,
    calculated: f.calculated,
    calculatedFormula: null,
    cascadeDelete: false,
    caseSensitive: false,
    compoundFieldName: f.compoundFieldName ?? null,
    controllerName: null,
    createable: view.createable,
    custom: f.custom,
    defaultValue: f.defaultValue ?? null,
    defaultValueFormula: null,
    defaultedOnCreate: f.defaultedOnCreate,
    dependentPicklist: false,
    deprecatedAndHidden: false,
    digits: f.type === 'int' ? (f.precision ?? 0) : 0,
    displayLocationInDecimal: false,
    encrypted: false,
    externalId: false,
    extraTypeInfo: f.type === 'textarea' && f.length <= 255 ? 'plaintextarea' : null,
    filterable: f.filterable,
    filteredLookupInfo: null,
    formulaTreatNullNumberAsZero: false,
    groupable: f.sortable && !DECIMAL_TYPES.has(f.type) && f.type !== 'datetime',
    highScaleNumber: false,
    htmlFormatted: false,
    idLookup: f.idLookup,
    inlineHelpText: null,
    label: f.label,
    length: text ? f.length : 0,
    mask: null,
    maskType: null,
    name: f.name,
    nameField: f.name === 'Name',
    namePointing: false,
    nillable: f.nillable,
    permissionable: f.nillable && !f.system && !f.calculated && !f.addressParts && f.name !== 'OwnerId',
    picklistValues: (f.picklistValues ?? []).map((p) => ({
      active: true,
      defaultValue: p.defaultValue,
      label: p.label,
      validFor: null,
      value: p.value,
    })),
    polymorphicForeignKey: f.name === 'OwnerId',
    precision: DECIMAL_TYPES.has(f.type) ? (f.precision ?? 0) : 0,
    queryByDistance: false,
    referenceTargetField: null,
    referenceTo: f.referenceTo ?? [],
    relationshipName: f.relationshipName ?? null,
    relationshipOrder: null,
    restrictedDelete: false,
    restrictedPicklist: f.restrictedPicklist ?? false,
    scale: DECIMAL_TYPES.has(f.type) ? (f.scale ?? 0) : 0,
    searchPrefilterable: false,
    soapType: SOAP_TYPES[f.type],
    sortable: f.sortable,
    type: f.type,
    unique: false,
    updateable: view.updateable,
    writeRequiresMasterRead: false,
  };
}

function urls(version: string, def: ObjectDef): Record<string, string> {
  const base = `/services/data/${version}/sobjects/${def.name}`;
  return {
    rowTemplate: `${base}/{ID}`,
    defaultValues: `${base}/defaultValues?recordTypeId&fields`,
    describe: `${base}/describe`,
    sobject: base,
  };
}

function objectSummary(version: string, def: ObjectDef): Record<string, unknown> {
  return {
    activateable: false,
    createable: def.createable,
    custom: def.custom,
    customSetting: false,
    deepCloneable: false,
    deletable: def.deletable,
    deprecatedAndHidden: false,
    feedEnabled: false,
    hasSubtypes: false,
    isInterface: false,
    isSubtype: false,
    keyPrefix: def.keyPrefix,
    label: def.label,
    labelPlural: def.labelPlural,
    layoutable: def.createable,
    mergeable: def.mergeable,
    mruEnabled: def.createable,
    name: def.name,
    queryable: true,
    replicateable: def.replicateable,
    retrieveable: true,
    searchable: def.createable,
    triggerable: def.createable,
    undeletable: def.deletable,
    updateable: def.updateable,
    urls: urls(version, def),
  };
}

export function describeObject(version: string, def: ObjectDef, fields: FieldView[]): Record<string, unknown> {
  return {
    ...objectSummary(version, def),
    actionOverrides: [],
    childRelationships: [],
    compactLayoutable: def.createable,
    fields: fields.map(describeField),
    namedLayoutInfos: [],
    networkScopeFieldName: null,
    recordTypeInfos: [],
    searchLayoutable: def.createable,
    supportedScopes: [],
  };
}

/** `GET sobjects/<Type>`: the object's summary and the user's recently viewed items (none here). */
export function basicInfo(version: string, def: ObjectDef): Record<string, unknown> {
  return { objectDescribe: objectSummary(version, def), recentItems: [] };
}

/** `GET sobjects`: the Describe Global list. */
export function describeGlobal(version: string, defs: ObjectDef[]): Record<string, unknown> {
  return { encoding: 'UTF-8', maxBatchSize: 200, sobjects: defs.map((d) => objectSummary(version, d)) };
}
