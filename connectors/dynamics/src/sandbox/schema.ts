/**
 * The sandbox's tables and columns: the subset of Dataverse's `contact` and `lead` that Tandem syncs, with the
 * metadata Dataverse publishes for them (EntityDefinitions/Attributes). Lengths follow the entity reference
 * (emailaddress1 100, lastname 50); MetadataIds are fixed so tests and secured-column privileges can refer to them.
 */
export type AttributeType =
  'String' | 'Memo' | 'Boolean' | 'Integer' | 'BigInt' | 'DateTime' | 'Picklist' | 'State' | 'Uniqueidentifier';

export interface ColumnDef {
  name: string;
  label: string;
  type: AttributeType;
  /** StringAttributeMetadata.FormatName (Email, Phone, Text). */
  format?: 'Email' | 'Phone' | 'Text';
  maxLength?: number;
  validForCreate: boolean;
  validForUpdate: boolean;
  validForRead: boolean;
  secured: boolean;
  metadataId: string;
}

export type EntityName = 'contact' | 'lead';

export interface EntityDef {
  logicalName: EntityName;
  entitySet: string;
  idField: string;
  metadataId: string;
  columns: ColumnDef[];
}

let counter = 0;
function meta(entityIndex: number): string {
  counter += 1;
  return `a0000000-0000-4000-8000-${String(entityIndex).padStart(4, '0')}${String(counter).padStart(8, '0')}`;
}

function str(name: string, label: string, maxLength: number, format: ColumnDef['format'] = 'Text') {
  return { name, label, type: 'String' as const, maxLength, format };
}

function columnsFor(entity: EntityName, index: number): ColumnDef[] {
  const idField = `${entity}id`;
  const rw = { validForCreate: true, validForUpdate: true, validForRead: true, secured: false };
  const ro = { validForCreate: false, validForUpdate: false, validForRead: true, secured: false };
  const cols: Array<Omit<ColumnDef, 'metadataId'>> = [
    {
      name: idField,
      label: entity === 'contact' ? 'Contact' : 'Lead',
      type: 'Uniqueidentifier',
      ...rw,
      validForUpdate: false,
    },
    { ...str('firstname', 'First Name', 50), ...rw },
    { ...str('lastname', 'Last Name', 50), ...rw },
    { ...str('emailaddress1', 'Email', 100, 'Email'), ...rw },
    { ...str('jobtitle', 'Job Title', 100), ...rw },
    { ...str('telephone1', 'Business Phone', 50, 'Phone'), ...rw },
    { ...str('mobilephone', 'Mobile Phone', 50, 'Phone'), ...rw },
    { ...str('address1_line1', 'Address 1: Street 1', 250), ...rw },
    { ...str('address1_city', 'Address 1: City', 80), ...rw },
    { ...str('address1_stateorprovince', 'Address 1: State/Province', 50), ...rw },
    { ...str('address1_country', 'Address 1: Country/Region', 80), ...rw },
    { ...str('address1_postalcode', 'Address 1: ZIP/Postal Code', 20), ...rw },
    { name: 'donotbulkemail', label: 'Do not allow Bulk Emails', type: 'Boolean', ...rw },
    { name: 'donotphone', label: 'Do not allow Phone Calls', type: 'Boolean', ...rw },
    // A custom column under column-level security: only profiles that grant it can read or write it.
    { name: 'mkt_leadscore', label: 'Lead Score', type: 'Integer', ...rw, secured: true },
    { name: 'createdon', label: 'Created On', type: 'DateTime', ...ro },
    { name: 'modifiedon', label: 'Modified On', type: 'DateTime', ...ro },
    { name: 'versionnumber', label: 'Version Number', type: 'BigInt', ...ro },
    { name: 'statecode', label: 'Status', type: 'State', ...rw, validForCreate: false },
  ];
  if (entity === 'lead') {
    cols.push(
      { ...str('companyname', 'Company Name', 100), ...rw },
      { ...str('subject', 'Topic', 300), ...rw },
      { name: 'leadsourcecode', label: 'Lead Source', type: 'Picklist', ...rw },
    );
  }
  return cols.map((c) => ({ ...c, metadataId: meta(index) }));
}

export const ENTITIES: Record<EntityName, EntityDef> = {
  contact: {
    logicalName: 'contact',
    entitySet: 'contacts',
    idField: 'contactid',
    metadataId: '608861bc-50a4-4c5f-a02c-21fe1943e2cf',
    columns: columnsFor('contact', 1),
  },
  lead: {
    logicalName: 'lead',
    entitySet: 'leads',
    idField: 'leadid',
    metadataId: 'e3fe4ff2-a630-49bb-a1e9-debc3a076815',
    columns: columnsFor('lead', 2),
  },
};

export function entityBySet(set: string): EntityDef | undefined {
  return Object.values(ENTITIES).find((e) => e.entitySet === set);
}

export function isEntityName(name: string): name is EntityName {
  return name === 'contact' || name === 'lead';
}
