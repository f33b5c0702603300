/**
 * sObject Collections: create, update, retrieve and delete up to 200 records in one request (retrieve: up to
 * 2,000 ids). Results come back in request order, one per record, with HTTP 200 even when records fail; with
 * `allOrNone: true` one failure rolls every change back and the records that would have succeeded report
 * ALL_OR_NONE_OPERATION_ROLLED_BACK.
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-create.html
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-update.html
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-retrieve.html
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-delete.html
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_header_allornoneheader.htm
 */
import { ApiError } from './errors';
import { normalizeId } from './ids';
import type { FieldDef } from './schema';
import { objectNamed, type DataObjectName } from './schema';
import type { RecordService, SaveResult } from './records';

export const MAX_COLLECTION_RECORDS = 200;
export const MAX_RETRIEVE_IDS = 2000;
/** Records of different types are saved in chunks, at most 10 a request. */
const MAX_CHUNKS = 10;

const ROLLED_BACK = {
  statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  message: 'Record rolled back because not all records were valid and the request was using AllOrNone header',
  fields: [] as string[],
};

interface Body {
  allOrNone: boolean;
  records: Record<string, unknown>[];
}

function readBody(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object with a records array');
  }
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.records)) {
    throw new ApiError(400, 'INVALID_FIELD', "Required parameter 'records' is missing or is not a list");
  }
  if (b.allOrNone !== undefined && typeof b.allOrNone !== 'boolean') {
    throw new ApiError(400, 'JSON_PARSER_ERROR', 'allOrNone must be true or false');
  }
  if (b.records.length > MAX_COLLECTION_RECORDS) throw tooMany();
  for (const r of b.records) {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      throw new ApiError(400, 'JSON_PARSER_ERROR', 'Each record must be a JSON object');
    }
  }
  return { allOrNone: b.allOrNone === true, records: b.records as Record<string, unknown>[] };
}

function tooMany(): ApiError {
  return new ApiError(
    400,
    'EXCEEDED_ID_LIMIT',
    'record limit reached. cannot submit more than 200 records into this call',
  );
}

function typeOf(record: Record<string, unknown>): DataObjectName {
  const attributes = record.attributes;
  const type =
    typeof attributes === 'object' && attributes !== null ? (attributes as Record<string, unknown>).type : undefined;
  if (typeof type !== 'string' || type === '')
    throw new ApiError(400, 'INVALID_TYPE', 'Must send a concrete entity type.');
  const object = objectNamed(type);
  if (object !== 'Contact' && object !== 'Lead') {
    throw new ApiError(400, 'INVALID_TYPE', `sObject type '${type}' is not supported.`);
  }
  return object;
}

function chunks(types: DataObjectName[]): number {
  return types.filter((t, i) => i === 0 || types[i - 1] !== t).length;
}

export class CollectionService {
  constructor(private readonly records: RecordService) {}

  /** Runs each record's save; rolls all back if `allOrNone` and one failed. */
  private transaction(allOrNone: boolean, saves: Array<() => SaveResult>): SaveResult[] {
    const snapshot = allOrNone ? this.records.store.snapshot() : undefined;
    const results = saves.map((save) => save());
    if (snapshot && results.some((r) => !r.success)) {
      this.records.store.restore(snapshot);
      return results.map((r) => {
        if (!r.success) return r;
        const rolledBack: SaveResult = { success: false, errors: [{ ...ROLLED_BACK, fields: [] }] };
        // A create's id was never committed; an update or delete names the record it did not change.
        return r.created ? rolledBack : { id: r.id, ...rolledBack };
      });
    }
    return results;
  }

  create(body: unknown): unknown[] {
    const { allOrNone, records } = readBody(body);
    const prepared = records.map((r) => {
      const type = typeOf(r);
      return {
        type,
        input: this.records.resolve(type, r),
        hasId: Object.keys(r).some((k) => k.toLowerCase() === 'id'),
      };
    });
    if (chunks(prepared.map((p) => p.type)) > MAX_CHUNKS) {
      throw new ApiError(
        400,
        'INVALID_BATCH_SIZE',
        `Cannot have more than ${MAX_CHUNKS} chunks in a single operation.`,
      );
    }
    const results = this.transaction(
      allOrNone,
      prepared.map((p) => () => {
        if (p.hasId) {
          return {
            success: false,
            errors: [{ statusCode: 'INVALID_FIELD', message: 'cannot specify Id in an insert call', fields: ['Id'] }],
          };
        }
        const input = p.input
          .filter((i) => i.field.name !== 'Id')
          .map((i) => ({ field: i.field, value: this.records.jsonValue(i.field, i.raw) }));
        return this.records.save(p.type, 'create', input);
      }),
    );
    return results.map(toJson);
  }

  update(body: unknown): unknown[] {
    const { allOrNone, records } = readBody(body);
    const prepared = records.map((r) => {
      const type = typeOf(r);
      const idKey = Object.keys(r).find((k) => k.toLowerCase() === 'id');
      return {
        type,
        rawId: idKey ? r[idKey] : undefined,
        input: this.records.resolve(type, r, ['attributes', idKey ?? 'Id']),
      };
    });
    if (chunks(prepared.map((p) => p.type)) > MAX_CHUNKS) {
      throw new ApiError(
        400,
        'INVALID_BATCH_SIZE',
        `Cannot have more than ${MAX_CHUNKS} chunks in a single operation.`,
      );
    }
    const results = this.transaction(
      allOrNone,
      prepared.map((p) => () => this.updateOne(p.type, p.rawId, p.input)),
    );
    return results.map(toJson);
  }

  private updateOne(type: DataObjectName, rawId: unknown, input: Array<{ field: FieldDef; raw: unknown }>): SaveResult {
    if (typeof rawId !== 'string' || rawId === '') {
      return {
        success: false,
        errors: [{ statusCode: 'MISSING_ARGUMENT', message: 'Id not specified in an update call', fields: [] }],
      };
    }
    const id = normalizeId(rawId);
    const prefix = this.records.store.object(type).keyPrefix;
    if (!id || id.slice(0, 3) !== prefix) {
      return {
        success: false,
        errors: [
          { statusCode: 'MALFORMED_ID', message: `${type} ID: id value of incorrect type: ${rawId}`, fields: ['Id'] },
        ],
      };
    }
    const record = this.records.store.get(type, id);
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
    const values = input.map((i) => ({ field: i.field, value: this.records.jsonValue(i.field, i.raw) }));
    return this.records.save(type, 'update', values, record);
  }

  /** `DELETE composite/sobjects?ids=…&allOrNone=…`. */
  delete(idsParam: string | undefined, allOrNoneParam: string | undefined): unknown[] {
    const ids = (idsParam ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (ids.length === 0) throw new ApiError(400, 'MISSING_ARGUMENT', 'ids parameter is missing');
    if (ids.length > MAX_COLLECTION_RECORDS) throw tooMany();
    const allOrNone = allOrNoneParam === 'true';
    const results = this.transaction(
      allOrNone,
      ids.map((raw) => () => {
        const id = normalizeId(raw);
        const object = id ? this.records.store.objectOfId(id) : undefined;
        const record = id && object ? this.records.store.get(object, id) : undefined;
        return this.records.delete(record, raw);
      }),
    );
    return results.map(toJson);
  }

  /** `GET composite/sobjects/<Type>?ids=…&fields=…` (or POST with `{ ids, fields }`): null for ids not found. */
  retrieve(typeName: string, ids: string[], fieldNames: string[]): unknown[] {
    const object = objectNamed(typeName);
    if (!object) throw new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (ids.length === 0) throw new ApiError(400, 'MISSING_ARGUMENT', 'ids parameter is missing');
    if (fieldNames.length === 0) throw new ApiError(400, 'MISSING_ARGUMENT', 'fields parameter is missing');
    if (ids.length > MAX_RETRIEVE_IDS) {
      throw new ApiError(
        400,
        'EXCEEDED_ID_LIMIT',
        `record limit reached. cannot submit more than ${MAX_RETRIEVE_IDS} records into this call`,
      );
    }
    const fields = fieldNames.map((name) => {
      const f = this.records.visibleField(object, name);
      if (!f)
        throw new ApiError(
          400,
          'INVALID_FIELD',
          `No such column '${name}' on entity '${object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
        );
      return f;
    });
    return ids.map((raw) => {
      const { record } = this.records.find(object, raw);
      if (!record || record.values.IsDeleted === true) return null;
      return this.records.serialize(record, fields);
    });
  }
}

function toJson(r: SaveResult): Record<string, unknown> {
  return { ...(r.id ? { id: r.id } : {}), success: r.success, errors: r.errors };
}
