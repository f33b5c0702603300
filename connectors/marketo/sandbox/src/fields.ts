/**
 * The lead fields of a vanilla Marketo Engage instance, in the shape Describe and Describe2 document
 * (https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/leads, "Describe").
 *
 * - The standard fields are Marketo's list, with their REST names and labels:
 *   https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/list-of-standard-fields
 * - Their data types and lengths are the documented ones where a page shows the field (leads.md: company,
 *   firstName, middleName, lastName, salutation, email, phone, mobilePhone, fax, title, unsubscribed,
 *   dateOfBirth; companies.md and named-accounts.md: website, site, mainPhone, annualRevenue, industry,
 *   sicCode; the Describe2 excerpt on the developer blog: address, anonymousIP). The others take the type
 *   their description names (field-types.md: "Integer score" is an integer, a preference or a status that is
 *   "set to true" a boolean); free text that can be long (reasons, bounce messages) a text area.
 * - Fields the list marks "System managed" (not "Partially") are not updateable, nor are `id`, `createdAt`
 *   and `updatedAt`.
 * - Besides the list: `id`, and the system fields Get Leads by Filter Type names as filter types on every
 *   instance (Swagger `getLeadsByFilterUsingGET`: cookies, email, facebookId, id, leadPartitionId, linkedInId,
 *   sfdcAccountId, sfdcContactId, sfdcLeadId, sfdcLeadOwnerId, sfdcOpptyId, twitterId). They are kept
 *   read-only here: no page documents writing them through Sync Leads.
 *
 * The extras (`extras: true`) are what a vanilla instance lacks: the person fields Marketo's own Dynamics
 * sync adds, "Microsoft Type" and "Microsoft is Deleted", whose real REST names no public page gives (the names
 * here are this sandbox's), and one custom string field, which Describe2 lists as searchable (leads.md: custom
 * fields of type string, email and integer are valid filter types).
 */
export type SandboxDataType =
  'integer' | 'float' | 'currency' | 'string' | 'text' | 'email' | 'phone' | 'url' | 'boolean' | 'date' | 'datetime';

export interface SandboxField {
  id: number;
  /** The REST API name. */
  name: string;
  displayName: string;
  dataType: SandboxDataType;
  /** Maximum length, for string-like types. */
  length?: number;
  updateable: boolean;
  /** Owned by a native CRM sync (Describe2 `crmManaged`); a vanilla instance has none. */
  crmManaged: boolean;
  /** A custom field (not one of Marketo's standard fields). */
  custom: boolean;
}

type Spec = [
  name: string,
  displayName: string,
  dataType: SandboxDataType,
  options?: { length?: number; readOnly?: true },
];

/** String-like types carry a length (255 unless the documentation shows another). */
const LENGTHS: Partial<Record<SandboxDataType, number>> = { string: 255, email: 255, phone: 255, url: 255 };

const STANDARD: Spec[] = [
  ['id', 'Id', 'integer', { readOnly: true }],
  ['address', 'Address', 'text'],
  ['annualRevenue', 'Annual Revenue', 'currency'],
  ['anonymousIP', 'Anonymous IP', 'string'],
  ['billingCity', 'Billing City', 'string'],
  ['billingCountry', 'Billing Country', 'string'],
  ['billingPostalCode', 'Billing Postal Code', 'string'],
  ['billingState', 'Billing State', 'string'],
  ['billingStreet', 'Billing Address', 'text'],
  ['city', 'City', 'string'],
  ['company', 'Company Name', 'string'],
  ['country', 'Country', 'string'],
  ['dateOfBirth', 'Date of Birth', 'date'],
  ['department', 'Department', 'string'],
  ['doNotCall', 'Do Not Call', 'boolean'],
  ['doNotCallReason', 'Do Not Call Reason', 'string'],
  ['email', 'Email Address', 'email'],
  ['fax', 'Fax Number', 'phone'],
  ['firstName', 'First Name', 'string'],
  ['industry', 'Industry', 'string'],
  ['inferredCompany', 'Inferred Company', 'string'],
  ['inferredCountry', 'Inferred Country', 'string'],
  ['lastName', 'Last Name', 'string'],
  ['leadRole', 'Role', 'string'],
  ['leadScore', 'Lead Score', 'integer'],
  ['leadSource', 'Lead Source', 'string'],
  ['leadStatus', 'Lead Status', 'string'],
  ['mainPhone', 'Main Phone', 'string'],
  ['jigsawContactId', 'Marketo Data.com ID', 'string'],
  ['jigsawContactStatus', 'Marketo Data.com Status', 'string'],
  ['middleName', 'Middle Name', 'string'],
  ['mobilePhone', 'Mobile Phone Number', 'phone'],
  ['numberOfEmployees', 'Num Employees', 'integer'],
  ['phone', 'Phone Number', 'phone'],
  ['postalCode', 'Postal Code', 'string'],
  ['rating', 'Lead Rating', 'string'],
  ['salutation', 'Salutation', 'string'],
  ['sicCode', 'SIC Code', 'string', { length: 40 }],
  ['site', 'Site', 'string'],
  ['state', 'State', 'string'],
  ['title', 'Job Title', 'string'],
  ['unsubscribed', 'Unsubscribed', 'boolean'],
  ['unsubscribedReason', 'Unsubscribed Reason', 'text'],
  ['website', 'Website', 'url'],
  ['createdAt', 'Created At', 'datetime', { readOnly: true }],
  ['updatedAt', 'Updated At', 'datetime', { readOnly: true }],
  ['emailInvalid', 'Email Invalid', 'boolean'],
  ['emailInvalidCause', 'Email Invalid Cause', 'text'],
  ['inferredCity', 'Inferred City', 'string'],
  ['inferredMetropolitanArea', 'Inferred Metropolitan Area', 'string'],
  ['inferredPhoneAreaCode', 'Inferred Phone Area Code', 'string'],
  ['inferredPostalCode', 'Inferred Postal Code', 'string'],
  ['inferredStateRegion', 'Inferred State Region', 'string'],
  ['isAnonymous', 'Is Anonymous', 'boolean', { readOnly: true }],
  ['priority', 'Priority', 'integer', { readOnly: true }],
  ['relativeScore', 'Relative Score', 'integer', { readOnly: true }],
  ['urgency', 'Urgency', 'integer', { readOnly: true }],
  // System fields the documentation names as filter types (see above).
  ['cookies', 'Cookies', 'string', { readOnly: true }],
  ['facebookId', 'Facebook Id', 'string', { readOnly: true }],
  ['leadPartitionId', 'Lead Partition Id', 'integer', { readOnly: true }],
  ['linkedInId', 'LinkedIn Id', 'string', { readOnly: true }],
  ['sfdcAccountId', 'SFDC Account Id', 'string', { readOnly: true }],
  ['sfdcContactId', 'SFDC Contact Id', 'string', { readOnly: true }],
  ['sfdcLeadId', 'SFDC Lead Id', 'string', { readOnly: true }],
  ['sfdcLeadOwnerId', 'SFDC Lead Owner Id', 'string', { readOnly: true }],
  ['sfdcOpptyId', 'SFDC Oppty Id', 'string', { readOnly: true }],
  ['twitterId', 'Twitter Id', 'string', { readOnly: true }],
];

const EXTRAS: Spec[] = [
  ['microsoftType', 'Microsoft Type', 'string'],
  ['microsoftIsDeleted', 'Microsoft is Deleted', 'boolean'],
  ['sandboxSegment', 'Sandbox Segment', 'string'],
];

/**
 * Filter types every instance accepts (Swagger `getLeadsByFilterUsingGET`); Describe2 also lists the custom
 * fields of type string, email and integer.
 */
const STANDARD_SEARCHABLE = [
  'cookies',
  'email',
  'facebookId',
  'id',
  'leadPartitionId',
  'linkedInId',
  'sfdcAccountId',
  'sfdcContactId',
  'sfdcLeadId',
  'sfdcLeadOwnerId',
  'sfdcOpptyId',
  'twitterId',
];

const SEARCHABLE_CUSTOM_TYPES: ReadonlySet<SandboxDataType> = new Set(['string', 'email', 'integer']);

function build(specs: Spec[], firstId: number, custom: boolean): SandboxField[] {
  return specs.map(([name, displayName, dataType, options], i) => {
    const length = options?.length ?? LENGTHS[dataType];
    return {
      id: firstId + i,
      name,
      displayName,
      dataType,
      ...(length === undefined ? {} : { length }),
      updateable: options?.readOnly !== true,
      crmManaged: false,
      custom,
    };
  });
}

export const STANDARD_FIELDS: readonly SandboxField[] = build(STANDARD, 1, false);
export const EXTRA_FIELDS: readonly SandboxField[] = build(EXTRAS, 1001, true);

/** Fields Get Lead(s) return when `fields` is not given (leads.md, "Query"). */
export const DEFAULT_READ_FIELDS = ['id', 'email', 'updatedAt', 'createdAt', 'firstName', 'lastName'] as const;

/**
 * One instance's lead schema: the standard fields, the extras when asked for, minus any field hidden since
 * (Marketo fields are never deleted, only hidden: leads.md, "Create Fields"; a hidden field is gone from the
 * API user's Describe and answers 1006 "Field not found").
 */
export class LeadSchema {
  private readonly all: readonly SandboxField[];
  private readonly hidden = new Set<string>();

  constructor(extras: boolean) {
    this.all = extras ? [...STANDARD_FIELDS, ...EXTRA_FIELDS] : STANDARD_FIELDS;
  }

  get fields(): SandboxField[] {
    return this.all.filter((f) => !this.hidden.has(f.name));
  }

  field(name: string): SandboxField | undefined {
    return this.hidden.has(name) ? undefined : this.all.find((f) => f.name === name);
  }

  /** Hides a field; false if there is no such visible field. */
  hide(name: string): boolean {
    if (!this.field(name)) return false;
    this.hidden.add(name);
    return true;
  }

  /** What `filterType` and `lookupField` accept (Describe2 `searchableFields`). */
  get searchable(): string[] {
    const custom = this.fields.filter((f) => f.custom && SEARCHABLE_CUSTOM_TYPES.has(f.dataType)).map((f) => f.name);
    return [...STANDARD_SEARCHABLE.filter((name) => this.field(name)), ...custom];
  }
}
