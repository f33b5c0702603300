/**
 * Errors as the REST API answers them: a JSON array of `{ message, errorCode, fields? }` for a failed request,
 * and `{ statusCode, message, fields }` inside the SaveResult of a record that failed.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
 */

export interface ApiErrorBody {
  message: string;
  errorCode: string;
  fields?: string[];
  duplicateResult?: DuplicateResult;
}

/** A request the API refuses as a whole: the HTTP status and the error array. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields?: string[],
    readonly extra: Partial<ApiErrorBody> = {},
  ) {
    super(message);
  }

  body(): ApiErrorBody[] {
    return [
      {
        message: this.message,
        errorCode: this.errorCode,
        ...(this.fields ? { fields: this.fields } : {}),
        ...this.extra,
      },
    ];
  }
}

/** One error of one record (a SaveResult's `errors[]` entry). */
export interface RecordError {
  statusCode: string;
  message: string;
  fields: string[];
  duplicateResult?: DuplicateResult;
}

export interface DuplicateResult {
  allowSave: boolean;
  duplicateRule: string;
  duplicateRuleEntityType: string;
  errorMessage: string;
  matchResults: Array<{
    entityType: string;
    errors: unknown[];
    matchEngine: string;
    matchRecords: Array<{
      additionalInformation: unknown[];
      fieldDiffs: unknown[];
      matchConfidence: number;
      record: { attributes: { type: string; url: string }; Id: string };
    }>;
    rule: string;
    size: number;
    success: boolean;
  }>;
}

/** A single-record request turns its record's errors into an error array (same codes, `errorCode` key). */
export function recordErrorsToApi(errors: RecordError[]): ApiErrorBody[] {
  return errors.map((e) => ({
    message: e.message,
    errorCode: e.statusCode,
    fields: e.fields,
    ...(e.duplicateResult ? { duplicateResult: e.duplicateResult } : {}),
  }));
}

export const NOT_FOUND_MESSAGE = 'The requested resource does not exist';

export function notFound(): ApiError {
  return new ApiError(404, 'NOT_FOUND', NOT_FOUND_MESSAGE);
}
