/**
 * Writes through sObject Collections: creates as `POST composite/sobjects`, updates as `PATCH composite/sobjects`,
 * 200 records a request with `allOrNone: false`, so each record succeeds or fails on its own and the answer holds
 * one SaveResult per record, in request order. Contacts and Leads may share a request (Salesforce saves them in
 * chunks of one type, at most ten a request; records are grouped by type so a request makes two at most).
 * Records that met UNABLE_TO_LOCK_ROW are sent again after a pause, a few rounds, then reported failed
 * (retryable). A request that fails as a whole before anything of the write was saved throws; after, the records
 * it held are reported failed, so the results of what was saved are not lost.
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-create.html
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-update.html
 */
import type { Logger } from 'pino';
import { isTandemError, type FieldValues, type WriteOp, type WriteResult } from '@tandem/core/plugin';
import type { SalesforceClient } from '../client';
import type { ResolvedLimits } from '../config';
import type { SalesforceMetrics } from '../metrics';
import type { ObjectType } from '../objects';
import { LOCK_ERROR, outcomeOf, requestFailed, type RecordError } from './results';
import { pause } from '../pause';

export const MAX_COLLECTION_RECORDS = 200;

/** One op to write, with the values to send (placeholders applied). */
export interface Item {
  objectType: ObjectType;
  op: WriteOp;
  values: FieldValues;
}

interface SaveResult {
  id?: string;
  success?: boolean;
  errors?: RecordError[];
}

type Outcome = WriteResult | 'locked';

export class CollectionsWriter {
  constructor(
    private readonly client: SalesforceClient,
    private readonly metrics: SalesforceMetrics,
    private readonly logger: Logger,
    private readonly limits: ResolvedLimits,
    /** A request failed as a whole naming a field Salesforce does not know: the description is out of date. */
    private readonly onUnknownField: (objectTypes: readonly ObjectType[]) => void,
  ) {}

  /** One result per item, in order. */
  async write(items: readonly Item[], signal?: AbortSignal): Promise<WriteResult[]> {
    const results: Array<WriteResult | undefined> = new Array<WriteResult | undefined>(items.length).fill(undefined);
    // Until a record is saved, a request failing as a whole may throw: nothing of the write is lost.
    let anySaved = false;
    let pending = items.map((_, i) => i);
    for (let round = 0; pending.length > 0; round += 1) {
      const locked: number[] = [];
      const groups = [
        pending.filter((i) => items[i]?.op.kind === 'create'),
        pending.filter((i) => items[i]?.op.kind === 'update'),
      ];
      for (const group of groups) {
        for (let start = 0; start < group.length; start += MAX_COLLECTION_RECORDS) {
          // Grouped by type (stable), so the request saves at most two chunks.
          const chunk = group
            .slice(start, start + MAX_COLLECTION_RECORDS)
            .sort((a, b) =>
              (items[a]?.objectType ?? '') < (items[b]?.objectType ?? '')
                ? -1
                : (items[a]?.objectType ?? '') > (items[b]?.objectType ?? '')
                  ? 1
                  : a - b,
            );
          let outcomes: Outcome[];
          try {
            outcomes = await this.send(
              chunk.map((i) => items[i] as Item),
              signal,
            );
          } catch (error) {
            if (signal?.aborted || !anySaved) throw error;
            outcomes = chunk.map((i) => requestFailed((items[i] as Item).op, error));
          }
          if (outcomes.some((o) => o !== 'locked' && (o.status === 'created' || o.status === 'updated')))
            anySaved = true;
          chunk.forEach((itemIndex, j) => {
            const outcome = outcomes[j];
            if (outcome === 'locked') locked.push(itemIndex);
            else results[itemIndex] = outcome;
          });
        }
      }
      if (locked.length === 0) break;
      if (round >= this.limits.lockRetries) {
        for (const i of locked) {
          results[i] = {
            ref: (items[i] as Item).op.ref,
            status: 'failed',
            code: LOCK_ERROR,
            message: `Salesforce could not lock the record after ${round + 1} attempts (another process was saving it); it will be tried again.`,
            retryable: true,
          };
        }
        break;
      }
      this.metrics.retry('lock', locked.length);
      this.logger.debug({ records: locked.length, round }, 'salesforce: records locked, sending them again');
      await pause(this.limits.backoffMs * 2 ** round * (1 + Math.random() * 0.2), signal);
      pending = locked.sort((a, b) => a - b);
    }
    return results.map(
      (r, i) =>
        r ?? {
          ref: (items[i] as Item).op.ref,
          status: 'failed',
          code: 'NO_RESULT',
          message: 'Salesforce gave no result for this record.',
          retryable: true,
        },
    );
  }

  private async send(chunk: readonly Item[], signal?: AbortSignal): Promise<Outcome[]> {
    const kind = chunk[0]?.op.kind ?? 'create';
    const records = chunk.map((item) => ({
      attributes: { type: item.objectType },
      ...(item.op.kind === 'update' ? { Id: item.op.id } : {}),
      ...item.values,
    }));
    this.metrics.collections();
    let answer: SaveResult[];
    try {
      answer = await this.client.json<SaveResult[]>({
        method: kind === 'create' ? 'POST' : 'PATCH',
        path: 'composite/sobjects',
        body: JSON.stringify({ allOrNone: false, records }),
        signal,
        // An update sent twice leaves the same values; a create sent twice makes two records.
        idempotent: kind === 'update',
      });
    } catch (error) {
      if (isTandemError(error) && error.code === 'UNKNOWN_FIELD')
        this.onUnknownField([...new Set(chunk.map((i) => i.objectType))]);
      throw error;
    }
    return chunk.map((item, j): Outcome => {
      const saved = Array.isArray(answer) ? answer[j] : undefined;
      if (!saved) {
        return {
          ref: item.op.ref,
          status: 'failed',
          code: 'NO_RESULT',
          message: 'Salesforce answered fewer results than records sent.',
          retryable: true,
        };
      }
      const errors = Array.isArray(saved.errors) ? saved.errors : [];
      if (!saved.success && errors.some((e) => e.statusCode === LOCK_ERROR)) return 'locked';
      const result = outcomeOf(item.op, saved.success === true, saved.id, errors);
      this.metrics.written('collections', result.status);
      return result;
    });
  }
}
