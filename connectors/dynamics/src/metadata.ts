/**
 * describe(): column metadata from `EntityDefinitions(...)/Attributes` (types, IsValidFor*, IsSecured), string
 * lengths through the StringAttributeMetadata cast, and column-level security for *this* user: WhoAmI gives the
 * user id, `RetrievePrincipalAttributePrivileges` lists the secured columns its profiles reach, keyed by the
 * column's MetadataId. A secured column without a CanRead grant is not readable, so reads leave it out
 * (unknown) instead of passing on Dataverse's "no data" as a blank.
 */
import { ConnectorAuthError, type FieldDescription, type FieldType, type ObjectDescription } from '@tandem/core/plugin';
import type { Logger } from 'pino';
import type { DataverseClient } from './client';
import type { EntityInfo } from './objects/entities';

export interface WhoAmI {
  UserId: string;
  BusinessUnitId: string;
  OrganizationId: string;
}

interface Attribute {
  LogicalName: string;
  MetadataId: string;
  AttributeType: string;
  label?: string;
  IsValidForCreate: boolean;
  IsValidForUpdate: boolean;
  IsValidForRead: boolean;
  IsSecured: boolean;
  /** The column this one extends (a lookup's name or type column): set for columns that are no Web API property. */
  AttributeOf: string;
}

/** Field security privileges are Int32 (0 not allowed, 4 allowed). */
interface Privilege {
  canCreate: boolean;
  canRead: boolean;
  canUpdate: boolean;
}

const CACHE_MS = 10 * 60_000;

function values(payload: Record<string, unknown>): Array<Record<string, unknown>> {
  const v = payload.value;
  return Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : [];
}

const bool = (v: unknown) => v === true;
const str = (v: unknown) => (typeof v === 'string' ? v : '');

function fieldType(attributeType: string, format: string | undefined): FieldType {
  switch (attributeType) {
    case 'String':
      if (format === 'Email') return 'email';
      if (format === 'Phone') return 'phone';
      if (format === 'Url') return 'url';
      if (format === 'TextArea') return 'text';
      return 'string';
    case 'Memo':
      return 'text';
    case 'Integer':
    case 'BigInt':
      return 'integer';
    case 'Decimal':
    case 'Double':
      return 'float';
    case 'Money':
      return 'currency';
    case 'Boolean':
      return 'boolean';
    case 'DateTime':
      return 'datetime';
    case 'Picklist':
    case 'State':
    case 'Status':
      return 'picklist';
    case 'Lookup':
    case 'Customer':
    case 'Owner':
      return 'reference';
    default:
      return 'other';
  }
}

export class MetadataService {
  private readonly cache = new Map<string, { at: number; description: ObjectDescription }>();
  private readonly tracking = new Map<string, boolean>();

  constructor(
    private readonly client: DataverseClient,
    private readonly logger: Logger,
  ) {}

  async whoAmI(signal?: AbortSignal): Promise<WhoAmI> {
    const r = await this.client.json({ method: 'GET', url: 'WhoAmI', signal });
    if (typeof r.UserId !== 'string') throw new ConnectorAuthError('Dataverse WhoAmI returned no UserId.');
    return { UserId: r.UserId, BusinessUnitId: str(r.BusinessUnitId), OrganizationId: str(r.OrganizationId) };
  }

  /** `EntityMetadata.ChangeTrackingEnabled` for the table (cached: once on, it cannot be turned off). */
  async changeTrackingEnabled(entity: EntityInfo, signal?: AbortSignal): Promise<boolean> {
    const known = this.tracking.get(entity.logicalName);
    if (known === true) return known;
    const r = await this.client.json({
      method: 'GET',
      url: `EntityDefinitions(LogicalName='${entity.logicalName}')?$select=LogicalName,ChangeTrackingEnabled`,
      signal,
    });
    // An entity by key answers the entity itself; the metadata article's example shows it wrapped in `value`, so
    // both are read.
    const definition = Array.isArray(r.value) && typeof r.value[0] === 'object' ? (r.value[0] as typeof r) : r;
    const enabled = definition.ChangeTrackingEnabled === true;
    this.tracking.set(entity.logicalName, enabled);
    return enabled;
  }

  /**
   * Forgets what is known of the table's columns: the org said a column does not exist (deleted after the
   * description was read), so the next plan or describe reads the metadata again.
   */
  forget(entity: EntityInfo): void {
    if (this.cache.delete(entity.logicalName)) {
      this.logger.info({ table: entity.logicalName }, 'dynamics: a column is gone; the table is described again');
    }
  }

  /** The table's fields as this user may use them; cached for ten minutes. */
  async describe(entity: EntityInfo, signal?: AbortSignal, fresh = false): Promise<ObjectDescription> {
    const cached = this.cache.get(entity.logicalName);
    if (!fresh && cached && Date.now() - cached.at < CACHE_MS) return cached.description;
    const base = `EntityDefinitions(LogicalName='${entity.logicalName}')/Attributes`;
    const [all, strings] = await Promise.all([
      this.client.json({
        method: 'GET',
        url: `${base}?$select=LogicalName,MetadataId,AttributeType,DisplayName,IsValidForCreate,IsValidForUpdate,IsValidForRead,IsSecured,AttributeOf`,
        signal,
      }),
      this.client.json({
        method: 'GET',
        url: `${base}/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength,FormatName`,
        signal,
      }),
    ]);
    const attributes: Attribute[] = values(all).map((a) => {
      const display = a.DisplayName as { UserLocalizedLabel?: { Label?: unknown } } | undefined;
      return {
        LogicalName: str(a.LogicalName),
        MetadataId: str(a.MetadataId).toLowerCase(),
        AttributeType: str(a.AttributeType),
        label: typeof display?.UserLocalizedLabel?.Label === 'string' ? display.UserLocalizedLabel.Label : undefined,
        IsValidForCreate: bool(a.IsValidForCreate),
        IsValidForUpdate: bool(a.IsValidForUpdate),
        IsValidForRead: bool(a.IsValidForRead),
        IsSecured: bool(a.IsSecured),
        AttributeOf: str(a.AttributeOf),
      };
    });
    const lengths = new Map<string, { max?: number; format?: string }>();
    for (const s of values(strings)) {
      const format = (s.FormatName as { Value?: unknown } | undefined)?.Value;
      lengths.set(str(s.LogicalName), {
        max: typeof s.MaxLength === 'number' ? s.MaxLength : undefined,
        format: typeof format === 'string' ? format : undefined,
      });
    }
    const privileges = attributes.some((a) => a.IsSecured)
      ? await this.privileges(signal)
      : new Map<string, Privilege>();
    const fields: FieldDescription[] = attributes
      // A column with AttributeOf set (e.g. a lookup's `…name`) only extends another: the Web API has no property of
      // that name (its value comes as the lookup's FormattedValue annotation), so `$select` of it would fail
      // (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-properties).
      .filter((a) => a.LogicalName && a.AttributeType !== 'Virtual' && !a.AttributeOf)
      .map((a) => {
        const s = lengths.get(a.LogicalName);
        const field: FieldDescription = {
          name: a.LogicalName,
          type: fieldType(a.AttributeType, s?.format),
          readable: a.IsValidForRead,
          creatable: a.IsValidForCreate,
          updatable: a.IsValidForUpdate,
        };
        if (a.label) field.label = a.label;
        if (s?.max !== undefined) field.length = s.max;
        const notes: string[] = [];
        if (!a.IsValidForUpdate && !a.IsValidForCreate)
          notes.push('read-only in Dataverse (not valid for create or update)');
        if (a.IsSecured) {
          field.secured = true;
          const p = privileges.get(a.MetadataId);
          if (!p?.canRead) {
            field.readable = false;
            notes.push('column security: the sync user has no read permission, so its value is unknown');
          }
          if (!p?.canCreate && field.creatable) {
            field.creatable = false;
            notes.push('column security: no create permission');
          }
          if (!p?.canUpdate && field.updatable) {
            field.updatable = false;
            notes.push('column security: no update permission');
          }
        }
        if (notes.length > 0) field.note = notes.join('; ');
        return field;
      });
    const description: ObjectDescription = {
      objectType: entity.objectType,
      idField: entity.idField,
      emailField: entity.emailField,
      fields,
    };
    this.cache.set(entity.logicalName, { at: Date.now(), description });
    return description;
  }

  /** The sync user's secured-column grants by column MetadataId. */
  private async privileges(signal?: AbortSignal): Promise<Map<string, Privilege>> {
    const me = await this.whoAmI(signal);
    const r = await this.client.json({
      method: 'GET',
      url: `systemusers(${me.UserId})/Microsoft.Dynamics.CRM.RetrievePrincipalAttributePrivileges()`,
      signal,
    });
    const list = Array.isArray(r.AttributePrivileges) ? r.AttributePrivileges : [];
    const out = new Map<string, Privilege>();
    for (const p of list) {
      if (typeof p !== 'object' || p === null) continue;
      const { AttributeId, CanCreate, CanRead, CanUpdate } = p as Record<string, unknown>;
      if (typeof AttributeId !== 'string') continue;
      // Documented as Int32 (0 not allowed, 4 allowed); a Boolean is read the same way.
      const granted = (v: unknown) => v === true || (typeof v === 'number' && v > 0);
      out.set(AttributeId.toLowerCase(), {
        canCreate: granted(CanCreate),
        canRead: granted(CanRead),
        canUpdate: granted(CanUpdate),
      });
    }
    this.logger.debug({ secured: out.size }, 'dynamics: column security privileges read');
    return out;
  }
}
