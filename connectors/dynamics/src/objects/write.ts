/**
 * Writing contacts and leads through `$batch` (up to 1000 operations each, `Prefer: odata.continue-on-error`):
 * creates are POSTs, updates are PATCHes with `If-Match` (the etag read, or `*` so an update never turns into
 * an upsert). Each answer becomes one result: 412 → conflict (for a create: a duplicate, rejected), 404 → not-found, 400/403 → rejected with
 * Dataverse's code and message. Operations answered 429 did not run: they are sent again after Retry-After,
 * so nothing is lost. A batch that fails on the wire is not re-sent (its creates may have run); its
 * operations come back as retryable failures for the engine's crash-safe create path.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectorAuthError, TandemError, type WriteOp, type WriteResult } from '@tandem/core/plugin';
import type { Logger } from 'pino';
import { buildBatch, parseBatchResponse, type BatchOperation, type BatchPartResult } from '../batch';
import { dataverseError, retryAfterMs, type DataverseClient } from '../client';
import type { DynamicsMetrics } from '../metrics';
import { GUID, type EntityInfo } from './entities';

/** One operation and the entity set it goes to. */
export interface EntityOp {
  entity: EntityInfo;
  op: WriteOp;
}

export interface WriterSettings {
  batchSize: number;
  /** Rounds of re-sending throttled operations before giving up on them. */
  maxRounds: number;
}

function operation(entity: EntityInfo, op: WriteOp): BatchOperation {
  // return=representation gives the new etag (and the id) without another read.
  const headers: Record<string, string> = { Prefer: 'return=representation' };
  if (op.kind === 'create') {
    return {
      method: 'POST',
      url: `${entity.entitySet}?$select=${entity.idField}`,
      headers,
      body: JSON.stringify(op.fields),
    };
  }
  headers['If-Match'] = op.etag ?? '*';
  return {
    method: 'PATCH',
    url: `${entity.entitySet}(${op.id.toLowerCase()})?$select=${entity.idField}`,
    headers,
    body: JSON.stringify(op.fields),
  };
}

function entityIdFrom(header: string | undefined): string | undefined {
  return header ? /\(([0-9a-f-]{36})\)\s*$/i.exec(header)?.[1]?.toLowerCase() : undefined;
}

export function resultOf(entity: EntityInfo, op: WriteOp, part: BatchPartResult): WriteResult {
  const { ref } = op;
  if (part.status >= 200 && part.status < 300) {
    let body: Record<string, unknown> = {};
    try {
      if (part.body.trim()) body = JSON.parse(part.body) as Record<string, unknown>;
    } catch {
      // a success without a readable body still carries OData-EntityId
    }
    const id =
      // GUIDs are case-insensitive; the connector hands them on in lower case, whatever case an answer used.
      (typeof body[entity.idField] === 'string' ? (body[entity.idField] as string).toLowerCase() : undefined) ??
      entityIdFrom(part.headers['odata-entityid'] ?? part.headers.location) ??
      (op.kind === 'update' ? op.id : undefined);
    const etag = typeof body['@odata.etag'] === 'string' ? (body['@odata.etag'] as string) : part.headers.etag;
    if (!id)
      return {
        ref,
        status: 'failed',
        code: 'NO_ID',
        message: 'Dataverse reported success without the record id.',
        retryable: false,
      };
    return { ref, status: op.kind === 'create' ? 'created' : 'updated', id, ...(etag ? { etag } : {}) };
  }
  const dv = dataverseError(part.body);
  const message = dv?.message || `HTTP ${part.status}`;
  const code = dv?.code || `HTTP_${part.status}`;
  // 412 means ConcurrencyVersionMismatch (a stale etag) or DuplicateRecord (a duplicate key value)
  // (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors).
  // A create has no etag: its 412 is a duplicate, which reading the record again cannot resolve.
  if (part.status === 412 && op.kind === 'create') return { ref, status: 'rejected', code, message };
  if (part.status === 412) return { ref, status: 'conflict', message };
  if (part.status === 404 && op.kind === 'update') return { ref, status: 'not-found', message };
  // Validation (0x80044331 length, 0x80040265 plug-in/business rule, bad format) and column-security refusals.
  if (part.status === 400 || part.status === 403) return { ref, status: 'rejected', code, message };
  return { ref, status: 'failed', code, message, retryable: part.status >= 500 || part.status === 429 };
}

export class RecordWriter {
  constructor(
    private readonly client: DataverseClient,
    private readonly metrics: DynamicsMetrics,
    private readonly logger: Logger,
    private readonly settings: WriterSettings,
  ) {}

  async write(entity: EntityInfo, ops: readonly WriteOp[], signal?: AbortSignal): Promise<WriteResult[]> {
    return this.writeMixed(
      ops.map((op) => ({ entity, op })),
      signal,
    );
  }

  /** Operations on any entity sets, in shared batches; one result per operation, in input order. */
  async writeMixed(items: readonly EntityOp[], signal?: AbortSignal): Promise<WriteResult[]> {
    const ops = items.map((item) => item.op);
    const results: Array<WriteResult | undefined> = new Array<WriteResult | undefined>(ops.length).fill(undefined);
    let pending: number[] = [];
    ops.forEach((op, i) => {
      if (op.kind === 'update' && !GUID.test(op.id)) {
        results[i] = { ref: op.ref, status: 'not-found', message: `'${op.id}' is not a Dataverse id (GUID).` };
      } else pending.push(i);
    });
    for (let round = 0; pending.length > 0; round += 1) {
      const again: number[] = [];
      let waitMs = 0;
      for (let start = 0; start < pending.length; start += this.settings.batchSize) {
        const chunk = pending.slice(start, start + this.settings.batchSize);
        const outcome = await this.sendBatch(
          chunk.map((i) => items[i] as EntityOp),
          signal,
        );
        chunk.forEach((opIndex, j) => {
          const r = outcome[j];
          if (r === 'throttled') again.push(opIndex);
          else results[opIndex] = r;
        });
        if (outcome.retryAfterMs !== undefined) waitMs = Math.max(waitMs, outcome.retryAfterMs);
      }
      if (again.length === 0) break;
      if (round + 1 >= this.settings.maxRounds) {
        for (const i of again) {
          results[i] = {
            ref: (ops[i] as WriteOp).ref,
            status: 'failed',
            code: '0x80072322',
            message: 'Still throttled by Dataverse service protection after retries.',
            retryable: true,
          };
        }
        break;
      }
      this.metrics.retry(again.length);
      this.logger.debug({ operations: again.length, waitMs }, 'dynamics: re-sending throttled batch operations');
      await sleep(waitMs * (1 + Math.random() * 0.2), undefined, { signal });
      pending = again;
    }
    return results.map(
      (r, i) =>
        r ?? {
          ref: (ops[i] as WriteOp).ref,
          status: 'failed',
          code: 'NO_RESULT',
          message: 'No result.',
          retryable: true,
        },
    );
  }

  private async sendBatch(
    items: EntityOp[],
    signal?: AbortSignal,
  ): Promise<Array<WriteResult | 'throttled'> & { retryAfterMs?: number }> {
    const chunk = items.map((item) => item.op);
    const batch = buildBatch(
      this.client.apiBase,
      items.map((item) => operation(item.entity, item.op)),
    );
    this.metrics.batch(chunk.length);
    const all = (make: (op: WriteOp) => WriteResult | 'throttled') =>
      chunk.map(make) as Array<WriteResult | 'throttled'> & { retryAfterMs?: number };
    let res;
    try {
      res = await this.client.send({
        method: 'POST',
        url: '$batch',
        headers: { 'content-type': batch.contentType, prefer: 'odata.continue-on-error' },
        body: batch.body,
        signal,
        idempotent: false,
      });
    } catch (error) {
      if (signal?.aborted || error instanceof ConnectorAuthError) throw error;
      if (error instanceof TandemError && error.code === 'BAD_REQUEST') throw error;
      const message = `The $batch request failed on the wire; its operations may or may not have run: ${(error as Error).message}`;
      return all((op) => ({ ref: op.ref, status: 'failed', code: 'BATCH_TRANSPORT', message, retryable: true }));
    }
    if (res.status === 429) {
      // The whole batch was refused (the client already waited and retried): nothing ran, send it all again.
      const out = all(() => 'throttled');
      out.retryAfterMs = retryAfterMs(res.headers['retry-after']) ?? 1000;
      return out;
    }
    if (res.status !== 200 && !/multipart\/mixed/i.test(res.headers['content-type'] ?? '')) {
      const sets = [...new Set(items.map((item) => item.entity.entitySet))].join(', ');
      const error = this.client.toError(res, `POST $batch (${sets})`);
      if (res.status >= 500) {
        return all((op) => ({
          ref: op.ref,
          status: 'failed',
          code: String(error.details?.code ?? `HTTP_${res.status}`),
          message: error.message,
          retryable: true,
        }));
      }
      throw error;
    }
    const parts = parseBatchResponse(res.headers['content-type'], res.text, chunk.length);
    const out = all(() => 'throttled');
    chunk.forEach((op, j) => {
      const part = parts[j];
      if (!part) {
        out[j] = {
          ref: op.ref,
          status: 'failed',
          code: 'NOT_RUN',
          message: 'Dataverse stopped the batch before this operation.',
          retryable: true,
        };
      } else if (part.status === 429) {
        this.metrics.throttled();
        out[j] = 'throttled';
        out.retryAfterMs = Math.max(out.retryAfterMs ?? 0, retryAfterMs(part.headers['retry-after']) ?? 1000);
      } else {
        out[j] = resultOf((items[j] as EntityOp).entity, op, part);
      }
    });
    return out;
  }
}
