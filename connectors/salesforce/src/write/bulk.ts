/**
 * Writes through Bulk API 2.0 ingest jobs, for write sets large enough that a job costs fewer calls than
 * sObject Collections (200 records a call): create the job, upload the CSV, close it (`UploadComplete`), look at
 * it until it is done, read its successful (and, when some failed, failed) results. Five calls and the looks at
 * the job, whatever the number of records. One job per object type and operation.
 * - A cell left empty leaves the field as it is; `#N/A` blanks it.
 * - Results come back in no promised order, each row followed by the columns sent: updates are matched by Id,
 *   creates by the whole row sent (identical rows are interchangeable).
 * - Rows that met UNABLE_TO_LOCK_ROW go again through sObject Collections (which retries locks).
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/create_job.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_prepare_csv.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_successful_results.htm
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_failed_results.htm
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { Logger } from 'pino';
import { ConnectorRequestError, ProtocolError, type FieldValue, type WriteResult } from '@tandem/core/plugin';
import type { SalesforceClient } from '../client';
import type { ResolvedLimits } from '../config';
import type { SalesforceMetrics } from '../metrics';
import type { ObjectType } from '../objects';
import type { CollectionsWriter, Item } from './collections';
import { LOCK_ERROR, outcomeOf, parseBulkError } from './results';
import { pause } from '../pause';

/** Records per job: well within a job's 150 MB of CSV for people's records. */
export const MAX_JOB_RECORDS = 100_000;
/** The longest wait between two looks at a job. */
const MAX_POLL_MS = 30_000;

type JobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';

interface JobInfo {
  id?: string;
  state?: JobState;
  numberRecordsProcessed?: number;
  numberRecordsFailed?: number;
  errorMessage?: string;
}

function cell(value: FieldValue | undefined): string {
  if (value === undefined) return '';
  // An empty cell would leave the field as it is: blanking it takes #N/A.
  if (value === null || value === '') return '#N/A';
  return typeof value === 'string' ? value : String(value);
}

function finished(state: JobState | undefined): boolean {
  return state === 'JobComplete' || state === 'Failed' || state === 'Aborted';
}

export class BulkWriter {
  constructor(
    private readonly client: SalesforceClient,
    private readonly metrics: SalesforceMetrics,
    private readonly logger: Logger,
    private readonly limits: ResolvedLimits,
    private readonly collections: CollectionsWriter,
  ) {}

  /** Items of one object type and one kind (all creates or all updates): one result per item, in order. */
  async write(objectType: ObjectType, items: readonly Item[], signal?: AbortSignal): Promise<WriteResult[]> {
    const results: WriteResult[] = [];
    for (let start = 0; start < items.length; start += MAX_JOB_RECORDS) {
      results.push(...(await this.job(objectType, items.slice(start, start + MAX_JOB_RECORDS), signal)));
    }
    return results;
  }

  private async job(objectType: ObjectType, items: readonly Item[], signal?: AbortSignal): Promise<WriteResult[]> {
    const operation = items[0]?.op.kind === 'update' ? 'update' : 'insert';
    const columns = [...new Set(items.flatMap((item) => Object.keys(item.values)))];
    if (operation === 'update') columns.unshift('Id');
    const rows = items.map((item) =>
      columns.map((c) => (c === 'Id' && item.op.kind === 'update' ? item.op.id : cell(item.values[c]))),
    );
    const csv = stringify([columns, ...rows], { record_delimiter: '\n' });

    const created = await this.client.json<JobInfo>({
      method: 'POST',
      path: 'jobs/ingest',
      body: JSON.stringify({
        object: objectType,
        operation,
        contentType: 'CSV',
        lineEnding: 'LF',
        columnDelimiter: 'COMMA',
      }),
      signal,
      idempotent: false,
    });
    const jobId = created.id;
    if (!jobId) throw new ProtocolError('Salesforce created a Bulk API 2.0 job without an id.');
    await this.expectOk(
      await this.client.send({
        method: 'PUT',
        path: `jobs/ingest/${jobId}/batches`,
        body: csv,
        contentType: 'text/csv',
        signal,
        idempotent: false,
      }),
      'PUT jobs/ingest (upload)',
    );
    await this.client.json<JobInfo>({
      method: 'PATCH',
      path: `jobs/ingest/${jobId}`,
      body: JSON.stringify({ state: 'UploadComplete' }),
      signal,
      idempotent: true,
    });
    const info = await this.waitFor(jobId, signal);
    this.metrics.bulkJob(operation, info.state ?? 'unknown');
    this.logger.debug({ jobId, state: info.state, records: items.length }, 'salesforce: bulk job done');
    // A job that failed before processing anything: nothing was saved, the job's reason is the error. One that
    // failed midway keeps what it saved ("Job data that was successfully processed isn't rolled back"), so its
    // results are read like a complete job's; what it did not process is reported failed, retryable.
    // https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_job_states.htm
    if (info.state === 'Failed' && !(info.numberRecordsProcessed ?? 0)) {
      throw new ConnectorRequestError(
        `Salesforce's Bulk API 2.0 ${operation} job ${jobId} for ${objectType} failed: ${info.errorMessage ?? 'no reason given'}`,
        { details: { jobId } },
      );
    }
    return this.results(objectType, operation, jobId, info, columns, rows, items, signal);
  }

  private async expectOk(res: { status: number; text: string; headers: Record<string, string> }, what: string) {
    if (res.status < 200 || res.status >= 300) throw this.client.toError(res, what);
  }

  /** Looks at the job until it is done: after `bulkPollMs`, doubling up to 30 s; aborted after `bulkTimeoutMs`. */
  private async waitFor(jobId: string, signal?: AbortSignal): Promise<JobInfo> {
    const deadline = Date.now() + this.limits.bulkTimeoutMs;
    let wait = this.limits.bulkPollMs;
    for (;;) {
      // A job just closed is never done at once: the first look waits too.
      await pause(wait, signal);
      wait = Math.min(MAX_POLL_MS, Math.max(1, wait * 2));
      const info = await this.client.json<JobInfo>({ method: 'GET', path: `jobs/ingest/${jobId}`, signal });
      if (finished(info.state)) return info;
      if (Date.now() >= deadline) {
        // Stop it where it stands: what it processed is reported, the rest is left for the next cycle.
        this.logger.warn({ jobId }, 'salesforce: a bulk job ran too long; aborting it');
        return this.client.json<JobInfo>({
          method: 'PATCH',
          path: `jobs/ingest/${jobId}`,
          body: JSON.stringify({ state: 'Aborted' }),
          signal,
          idempotent: true,
        });
      }
    }
  }

  /**
   * The rows of a results CSV as the columns sent, in the order sent: each result row holds "the fields from the
   * original CSV request data" after Salesforce's own columns, by name (no order is promised). Result files that
   * do not repeat a column's name are read by position, after the first `own` columns.
   */
  private sentColumns(header: readonly string[], columns: readonly string[], own: number): (row: string[]) => string[] {
    const at = columns.map((c) => header.indexOf(c));
    if (at.some((i) => i < 0)) return (row) => row.slice(own, own + columns.length);
    return (row) => at.map((i) => row[i] ?? '');
  }

  private async csv(path: string, signal?: AbortSignal): Promise<string[][]> {
    const res = await this.client.send({ method: 'GET', path, signal, headers: { accept: 'text/csv' } });
    await this.expectOk(res, `GET ${path}`);
    return parse(res.text, { bom: true, skip_empty_lines: true, relax_column_count: true }) as string[][];
  }

  private async results(
    objectType: ObjectType,
    operation: 'insert' | 'update',
    jobId: string,
    info: JobInfo,
    columns: readonly string[],
    rows: readonly string[][],
    items: readonly Item[],
    signal?: AbortSignal,
  ): Promise<WriteResult[]> {
    // The rows sent, by what identifies them in the results: the Id of an update, the whole row of a create.
    const keyOf = (row: readonly string[]) => (operation === 'update' ? (row[0] ?? '') : JSON.stringify(row));
    const waiting = new Map<string, number[]>();
    rows.forEach((row, i) => {
      const key = keyOf(row);
      waiting.set(key, [...(waiting.get(key) ?? []), i]);
    });
    const claim = (row: readonly string[]): number | undefined => waiting.get(keyOf(row))?.shift();
    const results: Array<WriteResult | undefined> = new Array<WriteResult | undefined>(items.length).fill(undefined);
    const locked: number[] = [];

    // The counts say which result files to read; without them (a job info that leaves them out), both are read.
    const processed = info.numberRecordsProcessed ?? rows.length;
    const failed = info.numberRecordsFailed;
    if (failed === undefined || processed - failed > 0) {
      const [header = [], ...data] = await this.csv(`jobs/ingest/${jobId}/successfulResults/`, signal);
      const idAt = header.indexOf('sf__Id');
      const sent = this.sentColumns(header, columns, 2); // sf__Id, sf__Created
      for (const row of data) {
        const i = claim(sent(row));
        if (i === undefined) continue;
        const item = items[i] as Item;
        results[i] = outcomeOf(item.op, true, idAt >= 0 ? row[idAt] : undefined, []);
      }
    }
    if (failed === undefined || failed > 0) {
      const [header = [], ...data] = await this.csv(`jobs/ingest/${jobId}/failedResults/`, signal);
      const errorAt = header.indexOf('sf__Error');
      const sent = this.sentColumns(header, columns, 2); // sf__Id, sf__Error
      for (const row of data) {
        const i = claim(sent(row));
        if (i === undefined) continue;
        const errors = parseBulkError(errorAt >= 0 ? (row[errorAt] ?? '') : '');
        if (errors.some((e) => e.statusCode === LOCK_ERROR)) locked.push(i);
        else results[i] = outcomeOf((items[i] as Item).op, false, undefined, errors);
      }
    }
    for (const r of results) if (r) this.metrics.written('bulk', r.status);
    if (locked.length > 0) {
      // Locked rows go again through Collections, which sends them again until the lock passes (or gives up).
      this.metrics.retry('lock', locked.length);
      const again = await this.collections.write(
        locked.map((i) => items[i] as Item),
        signal,
      );
      locked.forEach((i, j) => (results[i] = again[j]));
    }
    return results.map(
      (r, i) =>
        r ?? {
          ref: (items[i] as Item).op.ref,
          status: 'failed',
          code: 'NOT_PROCESSED',
          message: `Salesforce's Bulk API 2.0 job ${jobId} for ${objectType} did not process this record${info.state === 'Failed' ? ` (the job failed: ${info.errorMessage ?? 'no reason given'})` : ''}; it will be tried again.`,
          retryable: true,
        },
    );
  }
}
