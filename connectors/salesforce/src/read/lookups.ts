/**
 * Records by id and by email, in as few requests as Salesforce allows:
 * - by id: sObject Collections retrieve with the ids in a POST body, 2,000 a request (no URI to outgrow);
 *   https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_retrieve_post.htm
 * - by email: SOQL, as many emails a request as the URI takes (see `UriBudget`); a request refused for its length
 *   (414, 431, a dropped connection) is split in two and sent again, and the smaller size kept.
 * Emails match trimmed and case-insensitive: SOQL compares text case-insensitively, and an email stored with
 * spaces around it (a data load) is found by a LIKE on the email, the answer then filtered here
 * (`matchPaddedEmails`; off, `Email IN (…)` uses the index but finds exact emails only).
 * Converted Leads are Contacts now: never answered as Leads.
 */
import { ConnectorRequestError, type ReadOptions, type RemoteRecord } from '@tandem/core/plugin';
import { UriTooLongError, type SalesforceClient } from '../client';
import type { SalesforceMetrics } from '../metrics';
import type { Described, Metadata, ObjectType } from '../objects';
import { RecordShape, type Row } from '../records';
import { chunkByBytes, encodedBytes, encodeQueryValue, soqlLikeAnywhere, soqlString, type UriBudget } from '../soql';

/** The most ids one retrieve takes. */
export const MAX_RETRIEVE_IDS = 2000;
const ID = /^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$/;

interface QueryAnswer {
  done?: boolean;
  nextRecordsUrl?: string;
  records?: Row[];
}

export function normaliseEmail(value: unknown): string {
  return typeof value === 'string' ? value.trim().toLowerCase() : '';
}

export class Lookups {
  constructor(
    private readonly client: SalesforceClient,
    private readonly metadata: Metadata,
    private readonly metrics: SalesforceMetrics,
    private readonly budget: UriBudget,
    private readonly settings: { placeholder: string | undefined; matchPaddedEmails: boolean },
  ) {}

  async get(objectType: ObjectType, ids: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    const described = await this.metadata.check(objectType, options.fields, options.signal);
    if (ids.length === 0) return [];
    const shape = new RecordShape(objectType, [...new Set(options.fields)], this.settings.placeholder);
    // Ids of another object type, or no ids at all, cannot be records of this one.
    const wanted = [
      ...new Set(ids.filter((id) => ID.test(id) && (!described.keyPrefix || id.startsWith(described.keyPrefix)))),
    ];
    const fields = shape.select(described.convertible ? ['IsConverted'] : []);
    const out = new Map<string, RemoteRecord>();
    for (let i = 0; i < wanted.length; i += MAX_RETRIEVE_IDS) {
      const rows = await this.client.json<Array<Row | null>>({
        method: 'POST',
        path: `composite/sobjects/${objectType}`,
        body: JSON.stringify({ ids: wanted.slice(i, i + MAX_RETRIEVE_IDS), fields }),
        signal: options.signal,
        idempotent: true,
      });
      this.metrics.collections();
      for (const row of Array.isArray(rows) ? rows : []) {
        if (!row || this.converted(described, row)) continue;
        const record = shape.toRecord(row);
        out.set(record.id, record);
      }
    }
    return [...out.values()];
  }

  async findByEmail(objectType: ObjectType, emails: readonly string[], options: ReadOptions): Promise<RemoteRecord[]> {
    const described = await this.metadata.check(objectType, options.fields, options.signal);
    const wanted = [...new Set(emails.map(normaliseEmail).filter((e) => e.length > 0))];
    if (wanted.length === 0) return [];
    const shape = new RecordShape(objectType, [...new Set(options.fields)], this.settings.placeholder);
    const wantedSet = new Set(wanted);
    const out = new Map<string, RemoteRecord>();
    const found = (rows: readonly Row[]) => {
      for (const row of rows) {
        if (this.converted(described, row) || !wantedSet.has(normaliseEmail(row.Email))) continue;
        const record = shape.toRecord(row);
        out.set(record.id, record);
      }
    };
    const query = this.emailQuery(objectType, described, shape);
    const chunk = (emails: readonly string[]) =>
      chunkByBytes(emails, query.itemBytes, query.fixedBytes, this.budget.bytes);
    let pending = chunk(wanted);
    while (pending.length > 0) {
      const next = pending.shift() as string[];
      try {
        found(await this.all(query.path(next), options.signal));
      } catch (error) {
        if (!(error instanceof UriTooLongError)) throw error;
        if (next.length === 1) {
          throw new ConnectorRequestError(
            `Salesforce refused a look-up of one email for the length of its request (${error.answer}); is a proxy in the way?`,
            { cause: error },
          );
        }
        this.metrics.uriTooLong();
        this.budget.refused(error.uriBytes);
        // Everything still to send, sized again to the smaller budget (so each halving is paid once); the refused
        // look-up is at least split in two, whatever the budget says.
        const rest = chunk([next, ...pending].flat());
        const first = rest[0] ?? [];
        if (first.length >= next.length) {
          const half = Math.ceil(next.length / 2);
          pending = [next.slice(0, half), next.slice(half), ...chunk(pending.flat())];
        } else pending = rest;
      }
    }
    return [...out.values()];
  }

  private converted(described: Described, row: Row): boolean {
    return described.convertible && row.IsConverted === true;
  }

  /** The look-up query by emails, and the encoded bytes of its fixed part and of each email in it. */
  private emailQuery(objectType: ObjectType, described: Described, shape: RecordShape) {
    const select = shape.select(['Email', ...(described.convertible ? ['IsConverted'] : [])]).join(', ');
    const converted = described.convertible ? ' AND IsConverted = false' : '';
    const padded = this.settings.matchPaddedEmails;
    const clause = (email: string) => (padded ? `Email LIKE ${soqlLikeAnywhere(email)}` : soqlString(email));
    const separator = padded ? ' OR ' : ',';
    const soql = (emails: readonly string[]) =>
      padded
        ? `SELECT ${select} FROM ${objectType} WHERE (${emails.map(clause).join(separator)})${converted}`
        : `SELECT ${select} FROM ${objectType} WHERE Email IN (${emails.map(clause).join(separator)})${converted}`;
    const path = (emails: readonly string[]) => `query?q=${encodeQueryValue(soql(emails))}`;
    return {
      path,
      fixedBytes: this.client.uriBytes(path([])),
      itemBytes: (email: string) => encodedBytes(clause(email) + separator),
    };
  }

  /** Every row of a query, following `nextRecordsUrl`. */
  private async all(path: string, signal?: AbortSignal): Promise<Row[]> {
    const rows: Row[] = [];
    let next: string | undefined = path;
    let first = true;
    while (next) {
      const answer: QueryAnswer = await this.client.json<QueryAnswer>({
        method: 'GET',
        path: next,
        signal,
        lengthSensitive: first,
      });
      first = false;
      rows.push(...(answer.records ?? []));
      next = answer.done === false && answer.nextRecordsUrl ? answer.nextRecordsUrl : undefined;
    }
    return rows;
  }
}
