/**
 * sObject Get Updated and sObject Get Deleted, for replication. Both read `start` and `end` (ISO 8601, seconds
 * ignored), refuse a start that is not before the end, or older than the window the org keeps (30 days for
 * updated records; the delete log's 15 days), with INVALID_REPLICATION_DATE, and report `latestDateCovered`
 * (the end, or now if the end is later, to the minute).
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-getupdated.md
 * https://developer.salesforce.com/docs/platform/api-rest/guide/resources-getdeleted.md
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getupdated.htm (rules and guidelines)
 */
import { toMinute } from './clock';
import { formatDateTime, parseDateTime } from './datetime';
import { ApiError } from './errors';
import { RECYCLE_BIN_MS, type SandboxStore } from './store';
import type { DataObjectName } from './schema';

const UPDATED_WINDOW_MS = 30 * 24 * 3600 * 1000;
/** Over this many ids the call fails (EXCEEDED_ID_LIMIT). */
export const MAX_REPLICATION_IDS = 600_000;

interface Window {
  start: number;
  end: number;
  latestDateCovered: number;
}

function window(
  store: SandboxStore,
  startText: string | undefined,
  endText: string | undefined,
  keptMs: number,
): Window {
  const parse = (name: string, text: string | undefined): number => {
    const ms = text === undefined ? undefined : parseDateTime(text.trim());
    if (ms === undefined) {
      throw new ApiError(400, 'MALFORMED_QUERY', `${name}: Invalid date/time value: ${text ?? ''}`);
    }
    return toMinute(ms);
  };
  const start = parse('start', startText);
  const end = parse('end', endText);
  const now = store.clock.now();
  if (start >= end) {
    throw new ApiError(400, 'INVALID_REPLICATION_DATE', 'startDate must chronologically precede endDate');
  }
  if (start < now - keptMs) {
    throw new ApiError(
      400,
      'INVALID_REPLICATION_DATE',
      `startDate cannot be more than ${Math.round(keptMs / (24 * 3600 * 1000))} days ago`,
    );
  }
  return { start, end, latestDateCovered: Math.min(end, toMinute(now)) };
}

export function getUpdated(store: SandboxStore, object: DataObjectName, start?: string, end?: string) {
  const w = window(store, start, end, UPDATED_WINDOW_MS);
  const ids = store
    .all(object)
    .filter((r) => r.values.IsDeleted !== true)
    .filter((r) => {
      const stamp = Number(r.values.SystemModstamp);
      return stamp >= w.start && stamp < w.latestDateCovered;
    })
    .map((r) => r.id);
  if (ids.length > MAX_REPLICATION_IDS) {
    throw new ApiError(
      400,
      'EXCEEDED_ID_LIMIT',
      'record limit reached. Choose start and end dates that are closer together.',
    );
  }
  return { ids, latestDateCovered: formatDateTime(w.latestDateCovered) };
}

export function getDeleted(store: SandboxStore, object: DataObjectName, start?: string, end?: string) {
  const w = window(store, start, end, RECYCLE_BIN_MS);
  const deletedRecords = store
    .deletedSince(object)
    .filter((e) => e.deletedDate >= w.start && e.deletedDate < w.latestDateCovered)
    .map((e) => ({ id: e.id, deletedDate: formatDateTime(e.deletedDate) }));
  if (deletedRecords.length > MAX_REPLICATION_IDS) {
    throw new ApiError(
      400,
      'EXCEEDED_ID_LIMIT',
      'record limit reached. Choose start and end dates that are closer together.',
    );
  }
  return {
    deletedRecords,
    earliestDateAvailable: formatDateTime(store.earliestDateAvailable(object)),
    latestDateCovered: formatDateTime(w.latestDateCovered),
  };
}
