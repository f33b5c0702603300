/**
 * Record writes as the org performs them, shared by the sObject Rows resource, sObject Collections and Bulk API
 * 2.0: the input is read against the object's fields (as the integration user sees them), then each record goes
 * through the platform's order of execution: system validation (read-only fields, lengths, email format,
 * required fields), validation rules, duplicate rules, save.
 * https://developer.salesforce.com/docs/atlas.en-us.apexcode.meta/apexcode/apex_triggers_order_of_execution.htm
 * Messages follow the API's wording for each status code:
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm#statuscode
 */
import { formatDate, formatDateTime, parseDate, parseDateTime } from './datetime';
import { ApiError, type DuplicateResult, type RecordError } from './errors';
import { normalizeId } from './ids';
import { FieldSecurity } from './fieldsecurity';
import { ruleFires, type DuplicateRuleSettings, type ValidationRule } from './rules';
import { isDataObject, isTextType, KEY_PREFIXES, type DataObjectName, type FieldDef, type ObjectName } from './schema';
import type { SandboxStore, StoredRecord, Value } from './store';

export type Operation = 'create' | 'update';

/** Input fields matched to the object's fields; values not yet converted. */
export type ResolvedInput = Array<{ field: FieldDef; raw: unknown }>;

export interface SaveResult {
  id?: string;
  success: boolean;
  errors: RecordError[];
  /** Bulk API 2.0 reports whether a row made a record. */
  created?: boolean;
}

/** A source of record-write failures (the lock-contention fault). */
export interface WriteFaults {
  lockFails(): boolean;
}

const EMAIL =
  /^[^\s@"(),:;<>[\\\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

export class RecordService {
  readonly security = new FieldSecurity();
  readonly validationRules: ValidationRule[] = [];
  readonly duplicateRules = new Map<DataObjectName, DuplicateRuleSettings>();
  recordWrites = 0;
  lockErrors = 0;

  constructor(
    readonly store: SandboxStore,
    private readonly faults: WriteFaults,
    private readonly apiVersion: () => string,
  ) {}

  // ---- what the integration user sees ----------------------------------------------------------------------

  visibleField(object: ObjectName, name: string): FieldDef | undefined {
    const f = this.store.field(object, name);
    return f && this.security.canRead(object, f) ? f : undefined;
  }

  visibleFields(object: ObjectName): FieldDef[] {
    return this.store.object(object).fields.filter((f) => this.security.canRead(object, f));
  }

  createable(object: ObjectName, f: FieldDef): boolean {
    return f.createable && this.security.canEdit(object, f);
  }

  updateable(object: ObjectName, f: FieldDef): boolean {
    return f.updateable && this.security.canEdit(object, f);
  }

  // ---- reading input ---------------------------------------------------------------------------------------

  /**
   * Matches input keys to fields. A key that names no field the user can see fails the whole request, as the
   * API fails to deserialize the body: 400 INVALID_FIELD "No such column 'X' on sobject of type Contact".
   */
  resolve(
    object: ObjectName,
    input: Record<string, unknown>,
    ignore: readonly string[] = ['attributes'],
  ): ResolvedInput {
    const out: ResolvedInput = [];
    for (const [key, raw] of Object.entries(input)) {
      if (ignore.includes(key)) continue;
      const f = this.visibleField(object, key);
      if (!f) throw new ApiError(400, 'INVALID_FIELD', `No such column '${key}' on sobject of type ${object}`);
      out.push({ field: f, raw });
    }
    return out;
  }

  /**
   * A JSON value as the field's stored value. A value of the wrong JSON type fails the whole request as the
   * API's deserializer does (JSON_PARSER_ERROR).
   */
  jsonValue(f: FieldDef, raw: unknown): Value | { invalid: string } {
    if (raw === null || raw === undefined) return null;
    const fail = (): never => {
      throw new ApiError(
        400,
        'JSON_PARSER_ERROR',
        `Cannot deserialize instance of ${f.type} from ${typeof raw === 'string' ? 'VALUE_STRING' : typeof raw === 'number' ? 'VALUE_NUMBER_INT' : 'VALUE_TRUE'} value ${String(raw)} or request may be missing a required field`,
      );
    };
    switch (f.type) {
      case 'boolean':
        return typeof raw === 'boolean' ? raw : fail();
      case 'double':
      case 'currency':
      case 'int':
        if (typeof raw === 'number') return raw;
        if (typeof raw === 'string' && raw.trim() !== '' && !Number.isNaN(Number(raw))) return Number(raw);
        return fail();
      case 'datetime':
        if (typeof raw !== 'string') return fail();
        return parseDateTime(raw) ?? fail();
      case 'date':
        if (typeof raw !== 'string') return fail();
        return parseDate(raw) ?? fail();
      default:
        if (typeof raw === 'object') return fail();
        return String(raw);
    }
  }

  /** A CSV cell (Bulk API 2.0) as the field's value; `#N/A` is null. A bad value fails only its row. */
  csvValue(f: FieldDef, cell: string): Value | { invalid: string } {
    if (cell === '#N/A') return null;
    const invalid = { invalid: `${f.label}: value not of required type: ${cell}` };
    switch (f.type) {
      case 'boolean': {
        const lower = cell.toLowerCase();
        if (lower === 'true' || lower === '1') return true;
        if (lower === 'false' || lower === '0') return false;
        return invalid;
      }
      case 'double':
      case 'currency':
      case 'int':
        return cell.trim() !== '' && !Number.isNaN(Number(cell)) ? Number(cell) : invalid;
      case 'datetime':
        return parseDateTime(cell) ?? invalid;
      case 'date':
        return parseDate(cell) ?? invalid;
      default:
        return cell;
    }
  }

  // ---- saving ----------------------------------------------------------------------------------------------

  /** Checks and saves one record. `existing` is the record an update changes. */
  save(
    object: DataObjectName,
    op: Operation,
    input: Array<{ field: FieldDef; value: Value | { invalid: string } }>,
    existing?: StoredRecord,
  ): SaveResult {
    this.recordWrites += 1;
    const id = existing?.id;
    const failed = (errors: RecordError[]): SaveResult => ({ ...(id ? { id } : {}), success: false, errors });
    if (this.faults.lockFails()) {
      this.lockErrors += 1;
      return failed([lockError(id)]);
    }
    if (existing?.type === 'Lead' && existing.values.IsConverted === true) {
      // A converted lead is read-only. Public report of the answer:
      // https://gitlab.com/gitlab-org/customers-gitlab-com/-/issues/272
      return failed([
        { statusCode: 'CANNOT_UPDATE_CONVERTED_LEAD', message: 'cannot reference converted lead', fields: [] },
      ]);
    }

    const readOnly = input.filter(({ field }) =>
      op === 'create' ? !this.createable(object, field) : !this.updateable(object, field),
    );
    if (readOnly.length > 0) {
      const names = readOnly.map((i) => i.field.name);
      return failed([
        {
          statusCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
          message: `Unable to create/update fields: ${names.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
          fields: names,
        },
      ]);
    }

    const values: Record<string, Value> = {};
    for (const { field, value } of input) {
      if (value !== null && typeof value === 'object') {
        return failed([
          { statusCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD', message: value.invalid, fields: [field.name] },
        ]);
      }
      const problem = this.checkValue(field, value);
      if (problem) return failed([problem]);
      values[field.name] = storedValue(field, value);
    }

    const merged: Record<string, Value> = { ...(existing?.values ?? this.defaults(object)), ...values };
    const missing = this.store
      .object(object)
      .fields.filter((f) => !f.nillable && (f.createable || f.updateable) && !f.system)
      .filter((f) => merged[f.name] === null || merged[f.name] === undefined || merged[f.name] === '')
      .map((f) => f.name);
    if (missing.length > 0) {
      return failed([
        {
          statusCode: 'REQUIRED_FIELD_MISSING',
          message: `Required fields are missing: [${missing.join(', ')}]`,
          fields: missing,
        },
      ]);
    }

    const ruleErrors = this.validationRules
      .filter((r) => r.object === object && ruleFires(r, merged, op))
      .map((r) => ({
        statusCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
        message: r.message,
        fields: r.errorDisplayField ? [this.store.field(object, r.errorDisplayField)?.name ?? r.errorDisplayField] : [],
      }));
    if (ruleErrors.length > 0) return failed(ruleErrors);

    const duplicate = this.duplicateOf(object, merged, id);
    if (duplicate) return failed([duplicate]);

    if (existing) {
      this.store.update(existing, values);
      return { id: existing.id, success: true, errors: [], created: false };
    }
    const record = this.store.insert(object, values);
    return { id: record.id, success: true, errors: [], created: true };
  }

  /** Deletes one record (to the Recycle Bin). */
  delete(record: StoredRecord | undefined, rawId: string): SaveResult {
    this.recordWrites += 1;
    const id = normalizeId(rawId);
    if (!id)
      return { success: false, errors: [{ statusCode: 'MALFORMED_ID', message: `malformed id ${rawId}`, fields: [] }] };
    if (this.faults.lockFails()) {
      this.lockErrors += 1;
      return { id, success: false, errors: [lockError(id)] };
    }
    if (!record) {
      return {
        id,
        success: false,
        errors: [{ statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] }],
      };
    }
    if (record.values.IsDeleted === true) {
      return {
        id,
        success: false,
        errors: [{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }],
      };
    }
    this.store.softDelete(record);
    return { id, success: true, errors: [] };
  }

  /** The values a new record starts from (defaults; the platform fills the rest on insert). */
  private defaults(object: DataObjectName): Record<string, Value> {
    const out: Record<string, Value> = {};
    for (const f of this.store.object(object).fields) {
      if (f.defaultValue !== undefined) out[f.name] = f.defaultValue;
    }
    out.OwnerId = this.store.identity.userId;
    return out;
  }

  private checkValue(f: FieldDef, value: Value): RecordError | undefined {
    if (value === null) return undefined;
    if (typeof value === 'string' && isTextType(f.type) && value.length > f.length) {
      return {
        statusCode: 'STRING_TOO_LONG',
        message: `${f.label}: data value too large: ${value} (max length=${f.length})`,
        fields: [f.name],
      };
    }
    if (f.type === 'email' && typeof value === 'string' && value !== '' && !EMAIL.test(value)) {
      return {
        statusCode: 'INVALID_EMAIL_ADDRESS',
        message: `${f.label}: invalid email address: ${value}`,
        fields: [f.name],
      };
    }
    if (
      f.type === 'picklist' &&
      f.restrictedPicklist &&
      typeof value === 'string' &&
      !f.picklistValues?.some((p) => p.value === value)
    ) {
      // https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm#statuscode
      return {
        statusCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
        message: `${f.label}: bad value for restricted picklist field: ${value}`,
        fields: [f.name],
      };
    }
    if (f.type === 'reference' && typeof value === 'string') {
      const id = normalizeId(value);
      const target = id ? f.referenceTo?.find((t) => KEY_PREFIXES[t] === id.slice(0, 3)) : undefined;
      if (!id || !target) {
        return {
          statusCode: 'MALFORMED_ID',
          message: `${f.label}: id value of incorrect type: ${value}`,
          fields: [f.name],
        };
      }
      if (!this.referenceExists(target, id)) {
        return { statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: `invalid cross reference id`, fields: [f.name] };
      }
    }
    return undefined;
  }

  /** Whether a reference may point at this id: the integration user, a live Contact or Lead (the org has no others). */
  private referenceExists(target: string, id: string): boolean {
    if (target === 'User') return id === this.store.identity.userId;
    if (target === 'Contact' || target === 'Lead') {
      const record = this.store.get(target, id);
      return record !== undefined && record.values.IsDeleted !== true;
    }
    return false;
  }

  /** The duplicate rule on Email: another live record of the object with the same email (any case). */
  private duplicateOf(object: DataObjectName, merged: Record<string, Value>, selfId?: string): RecordError | undefined {
    const rule = this.duplicateRules.get(object);
    const email = merged.Email;
    if (!rule || rule.allowSave || typeof email !== 'string' || email === '') return undefined;
    const lower = email.toLowerCase();
    const matches = this.store
      .all(object)
      .filter((r) => r.id !== selfId && r.values.IsDeleted !== true)
      .filter((r) => typeof r.values.Email === 'string' && r.values.Email.toLowerCase() === lower);
    if (matches.length === 0) return undefined;
    const message = 'Use one of these records?';
    const duplicateResult: DuplicateResult = {
      allowSave: false,
      duplicateRule: `Standard_${object}_Duplicate_Rule`,
      duplicateRuleEntityType: object,
      errorMessage: message,
      matchResults: [
        {
          entityType: object,
          errors: [],
          matchEngine: 'ExactMatchEngine',
          matchRecords: matches.map((r) => ({
            additionalInformation: [],
            fieldDiffs: [],
            matchConfidence: 100,
            record: { attributes: { type: object, url: this.recordUrl(object, r.id) }, Id: r.id },
          })),
          rule: `Standard_${object}_Match_Rule_v1_1`,
          size: matches.length,
          success: true,
        },
      ],
    };
    return { statusCode: 'DUPLICATES_DETECTED', message, fields: [], duplicateResult };
  }

  // ---- reading records -------------------------------------------------------------------------------------

  recordUrl(object: ObjectName, id: string): string {
    return `/services/data/${this.apiVersion()}/sobjects/${object}/${id}`;
  }

  /** A record as the REST API shows it: `attributes`, then the fields in the order given. */
  serialize(record: StoredRecord, fields: FieldDef[], version: string = this.apiVersion()): Record<string, unknown> {
    const out: Record<string, unknown> = {
      attributes: { type: record.type, url: `/services/data/${version}/sobjects/${record.type}/${record.id}` },
    };
    for (const f of fields) out[f.name] = fieldJson(f, record.values);
    return out;
  }

  /** Looks up a record of the object by a raw id from a URL or body. */
  find(object: ObjectName, rawId: string): { id?: string; record?: StoredRecord } {
    const id = normalizeId(rawId);
    if (!id || id.slice(0, 3) !== this.store.object(object).keyPrefix) return {};
    return { id, record: this.store.get(object, id) };
  }

  isDataObject(object: ObjectName): object is DataObjectName {
    return isDataObject(object);
  }
}

/**
 * A checked value as the org stores it: an empty text becomes null, an empty checkbox false, and an email address
 * is lower-cased. Salesforce keeps Email fields in lower case whatever case a client sends (the documentation is
 * silent; it is the behaviour public reports describe:
 * https://salesforce.stackexchange.com/questions/246995/deploying-a-custom-email-field-set-to-unique-fails ("Email
 * fields ... automatically lowercase values"), https://github.com/mattermost/mattermost-data-warehouse/pull/1251
 * ("Emails are always lowercased in salesforce")). A client comparing what it wrote with what it reads back must
 * compare email addresses without regard to case.
 */
export function storedValue(f: FieldDef, value: Value): Value {
  if (value === '') return null;
  if (f.type === 'boolean' && value === null) return false;
  if (f.type === 'email' && typeof value === 'string') return value.toLowerCase();
  return value;
}

/**
 * A field of a record as the API writes it. A compound address is an object of its components (keys as the REST API
 * names them), or null when every component is empty.
 * https://developer.salesforce.com/docs/platform/object-reference/guide/compound-fields-address.html
 */
export function fieldJson(f: FieldDef, values: Readonly<Record<string, Value>>): unknown {
  if (f.addressParts) {
    const parts = Object.entries(f.addressParts).map(([key, name]) => [key, values[name] ?? null] as const);
    return parts.every(([, v]) => v === null) ? null : Object.fromEntries(parts);
  }
  return jsonOf(f, values[f.name] ?? null);
}

export function jsonOf(f: FieldDef, v: Value): unknown {
  if (v === null) return null;
  if (f.type === 'datetime' && typeof v === 'number') return formatDateTime(v);
  if (f.type === 'date' && typeof v === 'number') return formatDate(v);
  return v;
}

function lockError(id: string | undefined): RecordError {
  return {
    statusCode: 'UNABLE_TO_LOCK_ROW',
    message: `unable to obtain exclusive access to this record or 1 records: ${id ?? ''}`.trimEnd(),
    fields: [],
  };
}
