/**
 * The loop guard (see `OwnWrites`): our own writes come back through the change feed, as everyone's do. Salesforce
 * has no etag to tell a record unchanged since our write, so, as Marketo's connector does, a record is judged by
 * its values: once the engine confirms a write (`inSync`), the record read back holding, in every field asked for,
 * what the engine knows it holds (or, for a record we created, what we wrote and nothing else) is our echo and is
 * left out; a record anyone changed since is read as usual.
 */
import {
  OwnWrites,
  type FieldValue,
  type FieldValues,
  type RemoteRecord,
  type WriteOp,
  type WriteResult,
} from '@tandem/core/plugin';

interface Written {
  created: boolean;
  /** Each field written, as text (blank for null). */
  fields: Record<string, string>;
  /** What the engine knows the record holds, overlaid with the fields written, once it confirmed the write. */
  holds?: Record<string, string>;
}

function text(value: FieldValue | undefined): string {
  return value === null || value === undefined ? '' : String(value);
}

function texts(values: FieldValues): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in values) out[name] = text(values[name]);
  return out;
}

export class LoopGuard {
  private readonly own = new OwnWrites<Written>();
  /** The last cursor each object type's feed handed out. */
  private readonly lastCursor = new Map<string, string>();

  private key(objectType: string, id: string): string {
    return `${objectType}:${id}`;
  }

  wrote(objectType: string, ops: readonly WriteOp[], results: readonly WriteResult[]): void {
    results.forEach((r, i) => {
      const op = ops[i];
      if (!op || (r.status !== 'created' && r.status !== 'updated')) return;
      this.own.wrote(
        this.key(objectType, r.id),
        { created: r.status === 'created', fields: texts(op.fields) },
        (earlier, later) => ({
          created: earlier.created || later.created,
          fields: { ...earlier.fields, ...later.fields },
        }),
      );
    });
  }

  confirm(objectType: string, ids: readonly string[], holds?: ReadonlyMap<string, FieldValues>): void {
    this.own.confirm(
      ids.map((id) => this.key(objectType, id)),
      (key, written) => {
        const snapshot = holds?.get(key.slice(objectType.length + 1));
        if (!snapshot) return written;
        return { ...written, holds: { ...texts(snapshot), ...written.fields } };
      },
    );
  }

  /**
   * Called before a read: a value-based guard must see every change since a write, so unless the feed resumes
   * where it last left off (or this is its first read since start), what it remembers is forgotten.
   */
  reading(objectType: string, cursor: string | null): void {
    const last = this.lastCursor.get(objectType);
    if (cursor !== last && !(cursor === null && last === undefined)) this.own.forgetConfirmed();
  }

  handedOut(objectType: string, cursor: string): void {
    this.lastCursor.set(objectType, cursor);
  }

  /** Whether a record read is our confirmed write coming back unchanged. */
  isEcho(objectType: string, record: RemoteRecord, fields: readonly string[]): boolean {
    const written = this.own.take(this.key(objectType, record.id));
    const holds = written?.holds ?? (written?.created ? written.fields : undefined);
    if (!holds) return false;
    return fields.every((f) => text(record.fields[f]) === (holds[f] ?? ''));
  }
}
