/**
 * The sandbox's tables and columns: a subset of the standard `contact` and `lead` columns of a vanilla org, with
 * the metadata Dataverse publishes for them (EntityDefinitions/Attributes). Names, types, MaxLength, FormatName,
 * RequiredLevel and IsValidForCreate/Update follow the table references:
 * https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact and
 * https://learn.microsoft.com/dynamics365/sales/developer/entities/lead (lead's mobilephone is 20 long, contact's
 * 50; lead's subject is ApplicationRequired; statecode is not valid for create and is SystemRequired).
 * `extras` adds what a vanilla org lacks: `mkt_leadscore`, a column of Marketo's own Dynamics solution, under
 * column-level security. Each sandbox gets its own copy, so a test can delete a column from one org.
 */
export type AttributeType =
  | 'String'
  | 'Memo'
  | 'Boolean'
  | 'Integer'
  | 'BigInt'
  | 'DateTime'
  | 'Picklist'
  | 'State'
  | 'Status'
  | 'Uniqueidentifier';

export type RequiredLevel = 'None' | 'Recommended' | 'ApplicationRequired' | 'SystemRequired';

export interface ColumnDef {
  name: string;
  label: string;
  type: AttributeType;
  /** StringAttributeMetadata.FormatName (Email, Phone, Text). */
  format?: 'Email' | 'Phone' | 'Text';
  maxLength?: number;
  requiredLevel: RequiredLevel;
  validForCreate: boolean;
  validForUpdate: boolean;
  validForRead: boolean;
  secured: boolean;
  /** A column of a solution rather than of the vanilla table (IsCustomAttribute). */
  custom: boolean;
  /** The value a create leaves in the column when none is given (DefaultValue, a default status). */
  defaultValue?: string | number | boolean;
  metadataId: string;
}

export type EntityName = 'contact' | 'lead';

export interface EntityDef {
  logicalName: EntityName;
  entitySet: string;
  idField: string;
  /** PrimaryNameAttribute: `fullname`, computed from first and last name. */
  primaryName: string;
  metadataId: string;
  columns: ColumnDef[];
}

type Column = Omit<ColumnDef, 'metadataId' | 'custom' | 'secured' | 'validForRead'> &
  Partial<Pick<ColumnDef, 'custom' | 'secured' | 'validForRead'>>;

const rw = { validForCreate: true, validForUpdate: true, requiredLevel: 'None' as RequiredLevel };
const ro = { validForCreate: false, validForUpdate: false, requiredLevel: 'None' as RequiredLevel };

function text(name: string, label: string, maxLength: number, format: ColumnDef['format'] = 'Text'): Column {
  return { name, label, type: 'String', maxLength, format, ...rw };
}

/** Columns both tables share, with the lengths and labels each reference gives. */
function personColumns(entity: EntityName): Column[] {
  const lead = entity === 'lead';
  return [
    {
      name: `${entity}id`,
      label: lead ? 'Lead' : 'Contact',
      type: 'Uniqueidentifier',
      ...rw,
      validForUpdate: false,
      requiredLevel: 'SystemRequired',
    },
    { ...text('firstname', 'First Name', 50), requiredLevel: 'Recommended' },
    { ...text('lastname', 'Last Name', 50), requiredLevel: 'ApplicationRequired' },
    { ...text('fullname', 'Full Name', 160), ...ro },
    text('emailaddress1', 'Email', 100, 'Email'),
    text('jobtitle', 'Job Title', 100),
    text('telephone1', 'Business Phone', 50, 'Phone'),
    text('mobilephone', 'Mobile Phone', lead ? 20 : 50, 'Phone'),
    text('address1_line1', lead ? 'Street 1' : 'Address 1: Street 1', 250),
    text('address1_city', lead ? 'City' : 'Address 1: City', 80),
    text('address1_stateorprovince', lead ? 'State/Province' : 'Address 1: State/Province', 50),
    text('address1_country', lead ? 'Country/Region' : 'Address 1: Country/Region', 80),
    text('address1_postalcode', lead ? 'ZIP/Postal Code' : 'Address 1: ZIP/Postal Code', 20),
    { name: 'donotbulkemail', label: 'Do not allow Bulk Emails', type: 'Boolean', ...rw, defaultValue: false },
    { name: 'donotphone', label: 'Do not allow Phone Calls', type: 'Boolean', ...rw, defaultValue: false },
    { name: 'leadsourcecode', label: 'Lead Source', type: 'Picklist', ...rw },
    {
      name: 'statecode',
      label: 'Status',
      type: 'State',
      ...rw,
      validForCreate: false,
      requiredLevel: 'SystemRequired',
      defaultValue: 0,
    },
    { name: 'statuscode', label: 'Status Reason', type: 'Status', ...rw, defaultValue: 1 },
    { name: 'createdon', label: 'Created On', type: 'DateTime', ...ro },
    { name: 'modifiedon', label: 'Modified On', type: 'DateTime', ...ro },
    { name: 'versionnumber', label: 'Version Number', type: 'BigInt', ...ro },
  ];
}

function leadColumns(): Column[] {
  return [
    { ...text('companyname', 'Company Name', 100), requiredLevel: 'Recommended' },
    { ...text('subject', 'Topic', 300), requiredLevel: 'ApplicationRequired' },
  ];
}

/** What Marketo's Dynamics solution adds: a lead score column, readable only through a field security profile. */
function extraColumns(): Column[] {
  return [{ name: 'mkt_leadscore', label: 'Lead Score', type: 'Integer', ...rw, secured: true, custom: true }];
}

function metadataId(entityIndex: number, columnIndex: number): string {
  return `a0000000-0000-4000-8000-${String(entityIndex).padStart(4, '0')}${String(columnIndex).padStart(8, '0')}`;
}

function complete(columns: Column[], entityIndex: number): ColumnDef[] {
  return columns.map((c, i) => ({
    validForRead: true,
    secured: false,
    custom: false,
    ...c,
    metadataId: metadataId(entityIndex, i + 1),
  }));
}

/** A fresh copy of both tables' definitions; `extras` adds the columns a vanilla org lacks. */
export function entityDefs(extras: boolean): Record<EntityName, EntityDef> {
  const more = extras ? extraColumns() : [];
  return {
    contact: {
      logicalName: 'contact',
      entitySet: 'contacts',
      idField: 'contactid',
      primaryName: 'fullname',
      metadataId: '608861bc-50a4-4c5f-a02c-21fe1943e2cf',
      columns: complete([...personColumns('contact'), ...more], 1),
    },
    lead: {
      logicalName: 'lead',
      entitySet: 'leads',
      idField: 'leadid',
      primaryName: 'fullname',
      metadataId: 'e3fe4ff2-a630-49bb-a1e9-debc3a076815',
      columns: complete([...personColumns('lead'), ...leadColumns(), ...more], 2),
    },
  };
}

export function isEntityName(name: string): name is EntityName {
  return name === 'contact' || name === 'lead';
}

/** `fullname` as Dataverse composes it by default (first name, a space, last name). */
export function fullName(values: Record<string, unknown>): string | null {
  const parts = [values.firstname, values.lastname].filter((v): v is string => typeof v === 'string' && v !== '');
  return parts.length > 0 ? parts.join(' ') : null;
}
