/**
 * OData `$batch`: each operation is its own top-level part (not a change set, which would make the batch
 * all-or-nothing); with `Prefer: odata.continue-on-error` one failing operation does not stop the others. Answers to
 * top-level parts come back in the order of the requests and without a Content-ID (only change-set answers carry
 * one), so they are matched by position
 * (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api).
 * Writes go this way, and so does a GET whose URL is too long for whatever stands in front of Dataverse: inside a
 * batch a URL may be 64 KB long.
 */
import { randomUUID } from 'node:crypto';
import { ProtocolError } from '@tandem/core/plugin';
import {
  boundaryOf,
  buildHttpMessage,
  buildMultipart,
  MultipartError,
  parseHttpMessage,
  splitMultipart,
  type Headers,
} from './multipart';

export interface BatchOperation {
  method: 'GET' | 'POST' | 'PATCH';
  /** Path under the Web API (`contacts?$select=contactid`), or an absolute URL under it. */
  url: string;
  headers: Record<string, string>;
  /** A JSON entity for POST and PATCH; none for GET. */
  body?: string;
}

export interface BatchPartResult {
  status: number;
  headers: Headers;
  body: string;
}

export function buildBatch(
  apiBase: string,
  operations: readonly BatchOperation[],
): { contentType: string; body: string } {
  const boundary = `batch_${randomUUID()}`;
  const parts = operations.map((op, i) => ({
    headers: { 'Content-Type': 'application/http', 'Content-Transfer-Encoding': 'binary', 'Content-ID': String(i + 1) },
    body: buildHttpMessage({
      startLine: `${op.method} ${/^https?:\/\//i.test(op.url) ? op.url : apiBase + op.url} HTTP/1.1`,
      headers: op.body === undefined ? op.headers : { 'Content-Type': 'application/json; type=entry', ...op.headers },
      body: op.body ?? '',
    }),
  }));
  return { contentType: `multipart/mixed; boundary="${boundary}"`, body: buildMultipart(boundary, parts) };
}

/**
 * The answers of a batch response, indexed like the operations sent (`undefined` where the server sent none,
 * e.g. after a failure without continue-on-error).
 */
export function parseBatchResponse(
  contentType: string | undefined,
  text: string,
  count: number,
): Array<BatchPartResult | undefined> {
  const boundary = boundaryOf(contentType);
  if (!boundary || !/multipart\/mixed/i.test(contentType ?? '')) {
    throw new ProtocolError(
      `Dataverse answered a $batch with '${contentType ?? 'no content type'}', not multipart/mixed.`,
    );
  }
  const results: Array<BatchPartResult | undefined> = new Array<BatchPartResult | undefined>(count).fill(undefined);
  try {
    let position = 0;
    const visit = (parts: ReturnType<typeof splitMultipart>): void => {
      for (const part of parts) {
        const inner = boundaryOf(part.headers['content-type']);
        if (inner && /multipart\/mixed/i.test(part.headers['content-type'] ?? '')) {
          visit(splitMultipart(part.body, inner)); // a change-set response
          continue;
        }
        const message = parseHttpMessage(part.body);
        const status = Number(/^HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(message.startLine)?.[1]);
        if (!Number.isInteger(status)) throw new MultipartError(`bad status line '${message.startLine}'`);
        const id = Number(part.headers['content-id']);
        const index = Number.isInteger(id) && id >= 1 && id <= count ? id - 1 : position;
        results[index] = { status, headers: message.headers, body: message.body };
        position = index + 1;
      }
    };
    visit(splitMultipart(text, boundary));
  } catch (error) {
    if (error instanceof MultipartError)
      throw new ProtocolError(`Dataverse answered a $batch with a malformed multipart body: ${error.message}`, {
        cause: error,
      });
    throw error;
  }
  return results;
}
