/**
 * Bulk API 2.0 ingest jobs: create a job → `PUT …/batches` with CSV (once) → `PATCH` state `UploadComplete` →
 * the org processes the rows in the background (InProgress → JobComplete) with the same per-record checks as
 * any other write → `successfulResults/` (`sf__Id`, `sf__Created`), `failedResults/` (`sf__Id`, `sf__Error`) and
 * `unprocessedrecords/`, each followed by the row's original columns. A header naming no field the user can see
 * fails the job. Empty cells leave a field unchanged; `#N/A` sets it to null.
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/create_job.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/close_job.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_successful_results.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_failed_results.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_prepare_csv.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0_errors.htm
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { formatDateTime } from './datetime';
import { ApiError } from './errors';
import { normalizeId } from './ids';
import type { RecordService, SaveResult } from './records';
import { objectNamed, type DataObjectName, type FieldDef } from './schema';
import type { Value } from './store';

export type JobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
type IngestOperation = 'insert' | 'update' | 'upsert' | 'delete';

const DELIMITERS: Record<string, string> = {
  COMMA: ',',
  TAB: '\t',
  PIPE: '|',
  SEMICOLON: ';',
  CARET: '^',
  BACKQUOTE: '`',
};

interface RowResult {
  row: string[];
  result: SaveResult;
}

interface Job {
  id: string;
  operation: IngestOperation;
  object: DataObjectName;
  externalIdFieldName?: string;
  columnDelimiter: string;
  lineEnding: 'LF' | 'CRLF';
  createdDate: number;
  systemModstamp: number;
  state: JobState;
  apiVersion: number;
  uploads: string[];
  errorMessage?: string;
  header: string[];
  results: RowResult[];
  unprocessed: string[][];
  numberRecordsProcessed: number;
  numberRecordsFailed: number;
}

export class BulkService {
  private readonly jobs = new Map<string, Job>();
  /** Milliseconds between UploadComplete and processing (0: the next turn of the event loop). */
  processingDelayMs = 0;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly records: RecordService) {}

  create(body: unknown, version: string): Record<string, unknown> {
    if (typeof body !== 'object' || body === null)
      throw new ApiError(400, 'INVALIDJOB', 'The request body must be a JSON object');
    const b = body as Record<string, unknown>;
    const object = typeof b.object === 'string' ? objectNamed(b.object) : undefined;
    if (object !== 'Contact' && object !== 'Lead') {
      throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid object: ${String(b.object)}`);
    }
    const operation = b.operation;
    if (operation !== 'insert' && operation !== 'update' && operation !== 'upsert' && operation !== 'delete') {
      throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid operation: ${String(operation)}`);
    }
    if (operation === 'upsert' && String(b.externalIdFieldName ?? '').toLowerCase() !== 'id') {
      // A vanilla Contact or Lead has no external id field; upsert can only match on Id.
      throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid external id field: ${String(b.externalIdFieldName)}`);
    }
    const delimiter = String(b.columnDelimiter ?? 'COMMA');
    if (!(delimiter in DELIMITERS))
      throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid column delimiter: ${delimiter}`);
    const lineEnding = String(b.lineEnding ?? 'LF');
    if (lineEnding !== 'LF' && lineEnding !== 'CRLF')
      throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid line ending: ${lineEnding}`);
    if (b.contentType !== undefined && b.contentType !== 'CSV')
      throw new ApiError(400, 'INVALIDJOB', 'InvalidJob : contentType must be CSV');
    const now = this.records.store.now();
    const job: Job = {
      id: this.records.store.ids.next('750'),
      operation,
      object,
      ...(operation === 'upsert' ? { externalIdFieldName: 'Id' } : {}),
      columnDelimiter: delimiter,
      lineEnding,
      createdDate: now,
      systemModstamp: now,
      state: 'Open',
      apiVersion: Number(version.slice(1)),
      uploads: [],
      header: [],
      results: [],
      unprocessed: [],
      numberRecordsProcessed: 0,
      numberRecordsFailed: 0,
    };
    this.jobs.set(job.id, job);
    return this.info(job, version);
  }

  private job(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
    return job;
  }

  upload(id: string, csv: string): void {
    const job = this.job(id);
    if (job.state !== 'Open') throw new ApiError(409, 'INVALIDJOBSTATE', `Job ${id} is not in the Open state`);
    job.uploads.push(csv);
  }

  setState(id: string, body: unknown, version: string): Record<string, unknown> {
    const job = this.job(id);
    const state = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).state : undefined;
    if (state === 'UploadComplete') {
      if (job.state !== 'Open') throw new ApiError(409, 'INVALIDJOBSTATE', `Job ${id} is not in the Open state`);
      if (job.uploads.length > 1) {
        throw new ApiError(
          400,
          'INVALIDJOB',
          `Found multiple contents for job: <${id}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.`,
        );
      }
      job.state = 'UploadComplete';
      job.systemModstamp = this.records.store.now();
      this.schedule(job);
    } else if (state === 'Aborted') {
      if (job.state === 'JobComplete' || job.state === 'Failed' || job.state === 'Aborted') {
        throw new ApiError(409, 'INVALIDJOBSTATE', `Job ${id} is already finished`);
      }
      job.state = 'Aborted';
      job.systemModstamp = this.records.store.now();
    } else {
      throw new ApiError(400, 'INVALIDJOBSTATE', `InvalidJobState : Invalid state: ${String(state)}`);
    }
    return this.info(job, version);
  }

  get(id: string, version: string): Record<string, unknown> {
    return this.info(this.job(id), version);
  }

  list(version: string): Record<string, unknown> {
    return { done: true, records: [...this.jobs.values()].map((j) => this.info(j, version)), nextRecordsUrl: null };
  }

  delete(id: string): void {
    const job = this.job(id);
    if (job.state === 'Open' || job.state === 'InProgress') {
      throw new ApiError(409, 'INVALIDJOBSTATE', `Job ${id} can't be deleted in state ${job.state}`);
    }
    this.jobs.delete(id);
  }

  successfulResults(id: string): string {
    const job = this.finished(id);
    const rows = reportOrder(job.results.filter((r) => r.result.success));
    return toCsv(
      ['sf__Id', 'sf__Created', ...job.header],
      rows.map((r) => [r.result.id ?? '', String(r.result.created === true), ...r.row]),
    );
  }

  failedResults(id: string): string {
    const job = this.finished(id);
    const rows = reportOrder(job.results.filter((r) => !r.result.success));
    return toCsv(
      ['sf__Id', 'sf__Error', ...job.header],
      rows.map((r) => [r.result.id ?? '', errorText(r.result), ...r.row]),
    );
  }

  unprocessedRecords(id: string): string {
    const job = this.job(id);
    return toCsv(job.header, job.unprocessed);
  }

  /** Resolves when every job that has been closed so far is processed (tests; the API itself is polled). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private finished(id: string): Job {
    const job = this.job(id);
    if (job.state !== 'JobComplete' && job.state !== 'Failed' && job.state !== 'Aborted') {
      throw new ApiError(409, 'INVALIDJOBSTATE', `Job ${id} is not complete: results are available once it is`);
    }
    return job;
  }

  private schedule(job: Job): void {
    const run = new Promise<void>((resolve) => {
      setTimeout(() => {
        try {
          this.process(job);
        } finally {
          resolve();
        }
      }, this.processingDelayMs);
    });
    this.pending.add(run);
    void run.then(() => this.pending.delete(run));
  }

  private process(job: Job): void {
    if (job.state !== 'UploadComplete') return;
    job.state = 'InProgress';
    const uploaded = job.uploads[0] ?? '';
    const wrongEnding = lineEndingMismatch(uploaded, job.lineEnding);
    if (wrongEnding) return this.fail(job, wrongEnding);
    let rows: string[][];
    try {
      rows = parse(uploaded, {
        delimiter: DELIMITERS[job.columnDelimiter],
        record_delimiter: job.lineEnding === 'CRLF' ? '\r\n' : '\n',
        relax_column_count: false,
        skip_empty_lines: true,
        bom: true,
      }) as string[][];
    } catch (error) {
      return this.fail(job, `ClientInputError : ${error instanceof Error ? error.message : String(error)}`);
    }
    const [header, ...data] = rows;
    if (!header || header.length === 0) return this.fail(job, 'ClientInputError : No header row found');
    job.header = header;
    const fields: Array<FieldDef | 'Id'> = [];
    for (const name of header) {
      const f = this.records.visibleField(job.object, name);
      if (!f) return this.fail(job, `InvalidBatch : Field name not found : ${name}`);
      fields.push(f.name === 'Id' ? 'Id' : f);
    }
    for (const row of data) {
      job.results.push({ row, result: this.processRow(job, fields, row) });
      job.numberRecordsProcessed += 1;
    }
    job.numberRecordsFailed = job.results.filter((r) => !r.result.success).length;
    job.state = 'JobComplete';
    job.systemModstamp = this.records.store.now();
  }

  private processRow(job: Job, fields: Array<FieldDef | 'Id'>, row: string[]): SaveResult {
    let rawId: string | undefined;
    const input: Array<{ field: FieldDef; value: Value | { invalid: string } }> = [];
    fields.forEach((f, i) => {
      const cell = row[i] ?? '';
      if (f === 'Id') {
        if (cell !== '') rawId = cell;
        return;
      }
      if (cell === '') return;
      input.push({ field: f, value: this.records.csvValue(f, cell) });
    });
    const object = job.object;
    if (job.operation === 'delete') {
      if (!rawId) return missingId('delete');
      const { record } = this.records.find(object, rawId);
      return this.records.delete(record, rawId);
    }
    if (job.operation === 'insert' || (job.operation === 'upsert' && !rawId)) {
      if (rawId) {
        return {
          success: false,
          errors: [{ statusCode: 'INVALID_FIELD', message: 'cannot specify Id in an insert call', fields: ['Id'] }],
        };
      }
      return this.records.save(object, 'create', input);
    }
    if (!rawId) return missingId('update');
    const id = normalizeId(rawId);
    const { record } = this.records.find(object, rawId);
    if (!id || id.slice(0, 3) !== this.records.store.object(object).keyPrefix) {
      return {
        success: false,
        errors: [
          { statusCode: 'MALFORMED_ID', message: `${object} ID: id value of incorrect type: ${rawId}`, fields: ['Id'] },
        ],
      };
    }
    if (!record) {
      if (job.operation === 'upsert') {
        return {
          success: false,
          errors: [
            {
              statusCode: 'NOT_FOUND',
              message: `Provided external ID field does not exist or is not accessible: ${rawId}`,
              fields: [],
            },
          ],
        };
      }
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
    return this.records.save(object, 'update', input, record);
  }

  private fail(job: Job, message: string): void {
    job.state = 'Failed';
    job.errorMessage = message;
    job.systemModstamp = this.records.store.now();
  }

  private info(job: Job, version: string): Record<string, unknown> {
    return {
      id: job.id,
      operation: job.operation,
      object: job.object,
      createdById: this.records.store.identity.userId,
      createdDate: formatDateTime(job.createdDate),
      systemModstamp: formatDateTime(job.systemModstamp),
      state: job.state,
      ...(job.externalIdFieldName ? { externalIdFieldName: job.externalIdFieldName } : {}),
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: job.apiVersion,
      jobType: 'V2Ingest',
      ...(job.state === 'Open' ? { contentUrl: `services/data/${version}/jobs/ingest/${job.id}/batches` } : {}),
      lineEnding: job.lineEnding,
      columnDelimiter: job.columnDelimiter,
      numberRecordsProcessed: job.numberRecordsProcessed,
      numberRecordsFailed: job.numberRecordsFailed,
      retries: 0,
      totalProcessingTime: 0,
      apiActiveProcessingTime: 0,
      apexProcessingTime: 0,
      ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
    };
  }
}

/**
 * The order rows are reported in. "The order of records in the response is not guaranteed to match the ordering of
 * records in the original job data" (the org processes a job in internal batches, in parallel): the sandbox reports
 * them last row first, so a client that pairs results with its rows by position, instead of by the row's own
 * columns, fails here as it would against an org.
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_successful_results.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_failed_results.htm
 */
function reportOrder(rows: RowResult[]): RowResult[] {
  return [...rows].reverse();
}

/**
 * The job's data must use the line ending the job was created with (LF unless told otherwise); otherwise the job
 * fails with "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF".
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0_line_ending_header.htm
 * The header row (field names, never quoted across lines) shows which ending the data uses.
 */
function lineEndingMismatch(data: string, lineEnding: 'LF' | 'CRLF'): string | undefined {
  const newline = data.indexOf('\n');
  if (newline < 0) return undefined;
  const crlf = newline > 0 && data.charAt(newline - 1) === '\r';
  if ((lineEnding === 'LF') === !crlf) return undefined;
  return `ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is ${lineEnding}`;
}

function missingId(op: string): SaveResult {
  return {
    success: false,
    errors: [{ statusCode: 'MISSING_ARGUMENT', message: `Id not specified in an ${op} call`, fields: [] }],
  };
}

/** `STATUS_CODE:message:field1,field2 --`, the form of `sf__Error`. */
function errorText(result: SaveResult): string {
  return result.errors.map((e) => `${e.statusCode}:${e.message}:${e.fields.join(',')} --`).join(' ');
}

function toCsv(header: string[], rows: string[][]): string {
  return stringify([header, ...rows], { quoted: true, record_delimiter: '\n' });
}
