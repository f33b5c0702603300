/**
 * One record's outcome, as Salesforce reports it (a SaveResult of sObject Collections, a row of a Bulk API 2.0
 * result), as the engine's `WriteResult`:
 * - success → `created` / `updated` with the id;
 * - UNABLE_TO_LOCK_ROW → sent again (by the caller, a few rounds), then `failed`, retryable;
 * - ENTITY_IS_DELETED, an update of an id that no longer exists, an update of a converted Lead → `not-found`;
 * - other transient codes → `failed`, retryable;
 * - everything else is Salesforce refusing the record (validation rule, required field, duplicate rule, a
 *   read-only field, a bad value) → `rejected` with Salesforce's code and message.
 * Status codes: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm#statuscode
 */
import {
  isTandemError,
  QuotaExhaustedError,
  RetryableError,
  type WriteOp,
  type WriteResult,
} from '@tandem/core/plugin';

export interface RecordError {
  statusCode: string;
  message: string;
  fields?: string[];
}

export const LOCK_ERROR = 'UNABLE_TO_LOCK_ROW';

/** Codes that say the record to update is gone (deleted, or a Lead converted into a Contact). */
const GONE = new Set(['ENTITY_IS_DELETED', 'CANNOT_UPDATE_CONVERTED_LEAD']);

/** The record itself is gone: a gone code, or an unknown id (INVALID_CROSS_REFERENCE_KEY naming no field: a purged id). */
function isGone(e: RecordError): boolean {
  return GONE.has(e.statusCode) || (e.statusCode === 'INVALID_CROSS_REFERENCE_KEY' && (e.fields ?? []).length === 0);
}

/** Codes of trouble that may pass: the record was not refused, it was not processed. */
const TRANSIENT = new Set([
  LOCK_ERROR,
  'SERVER_UNAVAILABLE',
  'REQUEST_RUNNING_TOO_LONG',
  'UNKNOWN_EXCEPTION',
  'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  'QUERY_TIMEOUT',
]);

/** One line of the record's errors: the codes and messages Salesforce gave, with the fields they name. */
function describe(errors: readonly RecordError[]): string {
  return errors
    .map((e) => {
      const fields = e.fields && e.fields.length > 0 ? ` (${e.fields.join(', ')})` : '';
      return `${e.message || e.statusCode}${fields}`;
    })
    .join('; ');
}

export function outcomeOf(
  op: WriteOp,
  success: boolean,
  id: string | undefined,
  errors: readonly RecordError[],
): WriteResult {
  const { ref } = op;
  if (success) {
    const recordId = id ?? (op.kind === 'update' ? op.id : undefined);
    if (!recordId) {
      return {
        ref,
        status: 'failed',
        code: 'NO_ID',
        message: 'Salesforce reported success without the record id.',
        retryable: false,
      };
    }
    return { ref, status: op.kind === 'create' ? 'created' : 'updated', id: recordId };
  }
  const code = errors[0]?.statusCode ?? 'UNKNOWN_EXCEPTION';
  const message = describe(errors) || 'Salesforce did not save the record and gave no reason.';
  if (op.kind === 'update' && errors.some(isGone)) {
    return { ref, status: 'not-found', message: `${message} (${code})` };
  }
  if (TRANSIENT.has(code)) return { ref, status: 'failed', code, message, retryable: true };
  return { ref, status: 'rejected', code, message };
}

/** `STATUS_CODE:message:field1,field2 --` (a Bulk API 2.0 `sf__Error`), as record errors. */
export function parseBulkError(text: string): RecordError[] {
  const parts = text
    .split(/\s*--\s*/)
    .map((s) => s.trim())
    .filter(Boolean);
  return parts.map((part) => {
    const m = /^([A-Z_]+):(.*)$/s.exec(part);
    if (!m?.[1]) return { statusCode: 'UNKNOWN_EXCEPTION', message: part };
    const rest = m[2] ?? '';
    const colon = rest.lastIndexOf(':');
    const message = colon >= 0 ? rest.slice(0, colon) : rest;
    const fields =
      colon >= 0
        ? rest
            .slice(colon + 1)
            .split(',')
            .map((f) => f.trim())
            .filter(Boolean)
        : [];
    return { statusCode: m[1], message, fields };
  });
}

/**
 * A record of a request that failed as a whole after other records of the same write were saved: reported failed
 * rather than thrown, so the results of what was saved reach the engine.
 */
export function requestFailed(op: WriteOp, error: unknown): WriteResult {
  const message = error instanceof Error ? error.message : String(error);
  const retryable = error instanceof RetryableError || error instanceof QuotaExhaustedError;
  const maybe =
    op.kind === 'create' && error instanceof RetryableError ? ' The record may or may not have been created.' : '';
  return {
    ref: op.ref,
    status: 'failed',
    code: isTandemError(error) ? error.code : 'REQUEST_FAILED',
    message: `${message}${maybe}`,
    retryable,
  };
}
