/**
 * The sync-health report: a period's rejected and failed writes grouped by the connection that refused them,
 * the kind of failure and the system's error code, each group with the people it touched. Built in memory from
 * a bounded list of activity entries (the store is asked for no aggregation, which not every MongoDB-compatible
 * server offers), and written out as JSON or CSV.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ActivityDoc } from '../../repositories/sync-store';
import type { Pipeline } from '../../repositories/pipelines';
import { connectionOf } from '../../pipelines/views';
import { SIDE_KEYS } from '../../sync/model';

/** The activity types the report covers: writes a system refused, and writes that failed. */
export const HEALTH_TYPES = ['rejected', 'failed'] as const;

const At = Type.String({ format: 'date-time' });

const HealthPersonSchema = Type.Object({
  email: Type.Union([Type.String(), Type.Null()]),
  ids: Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]), {
    description: "The person's record on each connection, as the newest entry knew them (null: not created there)",
  }),
  objects: Type.Record(Type.String(), Type.String(), { description: "Each connection's object type" }),
  entries: Type.Integer({ description: "Entries of the group about this person in the period's examined part" }),
  lastAt: At,
  detail: Type.String({ description: "The newest entry's message" }),
  runId: Type.Optional(Type.String({ description: 'The run of the newest entry' })),
});

const HealthGroupSchema = Type.Object({
  connection: Type.Union([Type.String(), Type.Null()], {
    description: 'The connection that refused the write or where it failed',
  }),
  type: Type.Union([Type.Literal('rejected'), Type.Literal('failed')]),
  code: Type.Union([Type.String(), Type.Null()], { description: "The system's error code" }),
  entries: Type.Integer(),
  firstAt: At,
  lastAt: At,
  people: Type.Array(HealthPersonSchema, { description: 'Newest first' }),
});

export const HealthReportSchema = Type.Object({
  pipelineId: Type.String(),
  since: At,
  until: At,
  examined: Type.Integer({ description: 'Entries of the period read and grouped (the newest ones, up to `limit`)' }),
  leftOut: Type.Integer({ description: 'Entries of the period not examined, all older than the examined ones' }),
  examinedSince: Type.Union([At, Type.Null()], {
    description: 'With entries left out: the time of the oldest one examined (the groups cover from there on)',
  }),
  groups: Type.Array(HealthGroupSchema, { description: 'Most entries first' }),
});
export type HealthReport = Static<typeof HealthReportSchema>;
type HealthGroup = Static<typeof HealthGroupSchema>;
type HealthPerson = Static<typeof HealthPersonSchema>;

export interface HealthWindow {
  since: Date;
  until: Date;
  /** Entries of the period in the store, when more than were examined; else the examined count. */
  total: number;
}

/** A person's key within a group: a record id of theirs if the entry has one, else their email. */
function personKey(entry: ActivityDoc): string {
  for (const side of SIDE_KEYS) {
    const id = entry[side]?.id;
    if (id !== undefined) return `${side}:${id}`;
  }
  return entry.email ? `email:${entry.email}` : `entry:${entry._id}`;
}

/**
 * Groups `entries` (newest first, as the store lists them) by connection, type and code; people within a group
 * by their record. Groups with the most entries come first; people and groups tie-break on recency.
 */
export function healthReport(pipeline: Pipeline, entries: readonly ActivityDoc[], window: HealthWindow): HealthReport {
  const groups = new Map<string, { group: HealthGroup; people: Map<string, HealthPerson> }>();
  for (const entry of entries) {
    const connection = entry.side ? connectionOf(pipeline, entry.side) : null;
    const type = entry.type === 'failed' ? 'failed' : 'rejected';
    const code = entry.code ?? null;
    const key = JSON.stringify([connection, type, code]);
    const at = entry.at.toISOString();
    let slot = groups.get(key);
    if (!slot) {
      slot = {
        group: { connection, type, code, entries: 0, firstAt: at, lastAt: at, people: [] },
        people: new Map(),
      };
      groups.set(key, slot);
    }
    slot.group.entries += 1;
    // Entries come newest first: each one seen is older than the ones before it.
    slot.group.firstAt = at;
    const person = personKey(entry);
    const known = slot.people.get(person);
    if (known) {
      known.entries += 1;
      continue;
    }
    const ids: Record<string, string | null> = {};
    const objects: Record<string, string> = {};
    for (const side of SIDE_KEYS) {
      const record = entry[side];
      if (!record) continue;
      ids[connectionOf(pipeline, side)] = record.id ?? null;
      objects[connectionOf(pipeline, side)] = record.type;
    }
    slot.people.set(person, {
      email: entry.email ?? null,
      ids,
      objects,
      entries: 1,
      lastAt: at,
      detail: entry.detail,
      ...(entry.runId ? { runId: entry.runId } : {}),
    });
  }
  const oldest = entries[entries.length - 1];
  const leftOut = Math.max(0, window.total - entries.length);
  return {
    pipelineId: pipeline.id,
    since: window.since.toISOString(),
    until: window.until.toISOString(),
    examined: entries.length,
    leftOut,
    examinedSince: leftOut > 0 && oldest ? oldest.at.toISOString() : null,
    groups: [...groups.values()]
      .map(({ group, people }) => ({ ...group, people: [...people.values()] }))
      .sort((a, b) => b.entries - a.entries || b.lastAt.localeCompare(a.lastAt)),
  };
}

/**
 * One cell of CSV (RFC 4180: quoted when it holds a comma, a quote or a line break, quotes doubled). Text that a
 * spreadsheet would run as a formula (a leading `=`, `+`, `-`, `@`, tab or carriage return; the messages come
 * from remote systems) is prefixed with a quote: https://owasp.org/www-community/attacks/CSV_Injection
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The report as CSV: one line per group and person, with each connection's record id in a column of its own. */
export function healthCsv(pipeline: Pipeline, report: HealthReport): string {
  const connections = pipeline.order;
  const header = ['connection', 'type', 'code', 'email', ...connections.map((c) => `${c} id`), 'entries', 'last at'];
  const lines = [[...header, 'detail'].map(csvCell).join(',')];
  for (const group of report.groups) {
    for (const person of group.people) {
      lines.push(
        [
          group.connection,
          group.type,
          group.code,
          person.email,
          ...connections.map((c) => person.ids[c] ?? null),
          person.entries,
          person.lastAt,
          person.detail,
        ]
          .map(csvCell)
          .join(','),
      );
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}
