/**
 * The lead fields the sandbox knows, in the shape Describe/Describe2 document ([MK-DEV] leads.md). The two
 * `microsoft*` fields stand in for the Dynamics-specific custom fields whose real REST names are unverified.
 */
export type SandboxDataType = 'integer' | 'string' | 'email' | 'phone' | 'text' | 'boolean' | 'datetime';

export interface SandboxField {
  id: number;
  name: string;
  displayName: string;
  dataType: SandboxDataType;
  length?: number;
  updateable: boolean;
  crmManaged: boolean;
}

function f(id: number, name: string, displayName: string, dataType: SandboxDataType, updateable = true): SandboxField {
  const length = dataType === 'string' || dataType === 'email' || dataType === 'phone' ? 255 : undefined;
  return { id, name, displayName, dataType, ...(length ? { length } : {}), updateable, crmManaged: false };
}

export const LEAD_FIELDS: readonly SandboxField[] = [
  f(1, 'id', 'Id', 'integer', false),
  f(2, 'email', 'Email Address', 'email'),
  f(3, 'firstName', 'First Name', 'string'),
  f(4, 'lastName', 'Last Name', 'string'),
  f(5, 'title', 'Job Title', 'string'),
  f(6, 'phone', 'Phone Number', 'phone'),
  f(7, 'mobilePhone', 'Mobile Phone Number', 'phone'),
  f(8, 'company', 'Company Name', 'string'),
  f(9, 'address', 'Address', 'text'),
  f(10, 'city', 'City', 'string'),
  f(11, 'state', 'State', 'string'),
  f(12, 'country', 'Country', 'string'),
  f(13, 'postalCode', 'Postal Code', 'string'),
  f(14, 'unsubscribed', 'Unsubscribed', 'boolean'),
  f(15, 'doNotCall', 'Do Not Call', 'boolean'),
  f(16, 'leadScore', 'Lead Score', 'integer'),
  f(17, 'microsoftType', 'Microsoft Type', 'string'),
  f(18, 'microsoftIsDeleted', 'Microsoft Is Deleted', 'boolean'),
  f(19, 'createdAt', 'Created At', 'datetime', false),
  f(20, 'updatedAt', 'Updated At', 'datetime', false),
];

export const FIELD_BY_NAME = new Map(LEAD_FIELDS.map((field) => [field.name, field]));

/** Fields `filterType` accepts (Describe2 `searchableFields`): id, email and custom string fields. */
export const SEARCHABLE_FIELDS = ['id', 'email', 'microsoftType'] as const;

/** Fields Get Leads returns when `fields` is not given ([MK-DEV] leads.md). */
export const DEFAULT_READ_FIELDS = ['id', 'email', 'updatedAt', 'createdAt', 'firstName', 'lastName'] as const;
