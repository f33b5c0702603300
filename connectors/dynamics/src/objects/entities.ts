/** The Dataverse tables Tandem syncs and how the connector addresses them. */
import { TandemError } from '@tandem/core/plugin';

export interface EntityInfo {
  objectType: 'contact' | 'lead';
  logicalName: string;
  entitySet: string;
  idField: string;
  emailField: string;
}

export const ENTITY_INFO: Record<'contact' | 'lead', EntityInfo> = {
  contact: {
    objectType: 'contact',
    logicalName: 'contact',
    entitySet: 'contacts',
    idField: 'contactid',
    emailField: 'emailaddress1',
  },
  lead: { objectType: 'lead', logicalName: 'lead', entitySet: 'leads', idField: 'leadid', emailField: 'emailaddress1' },
};

export const OBJECT_TYPES = ['contact', 'lead'] as const;

export function entityInfo(objectType: string): EntityInfo {
  if (objectType === 'contact' || objectType === 'lead') return ENTITY_INFO[objectType];
  throw new TandemError('BAD_REQUEST', `Dynamics has no object type '${objectType}' (expected contact or lead).`, {
    status: 400,
  });
}

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An OData string literal: single quotes doubled. */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Dataverse accepts URLs up to 32 KB (32,768 characters; learn.microsoft.com, "Compose HTTP requests and handle
 * errors", Maximum URL length). A look-up's `$filter` gets most of that, leaving room for the host, path,
 * `$select` and the `$skiptoken` paging cookie a next page adds: hundreds of values per request rather than
 * dozens, so a look-up of a write set's people is a handful of requests.
 */
export const FILTER_BUDGET_CHARS = 24_000;
/**
 * At most this many values per filter: each becomes a SQL parameter on the server, which allows 2,100 per
 * query; 500 keeps well clear of that whatever else the query carries.
 */
export const FILTER_MAX_VALUES = 500;

/** Splits items into chunks whose encoded filter stays under `maxChars` (a GET URL has a length limit). */
export function chunkByLength<T>(
  items: readonly T[],
  size: (item: T) => number,
  maxChars: number,
  maxItems: number,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let length = 0;
  for (const item of items) {
    const n = size(item);
    if (current.length > 0 && (length + n > maxChars || current.length >= maxItems)) {
      chunks.push(current);
      current = [];
      length = 0;
    }
    current.push(item);
    length += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
