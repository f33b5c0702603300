/**
 * The contract every connector implements (after Airbyte's protocol and Nango's syncs). The engine only
 * ever talks to a remote system through this interface; rate limits, token refresh and paging stay inside
 * the connector's own client.
 */

/** A field value as both systems can carry it. `null` is a real blank; a field absent from a record is unknown. */
export type FieldValue = string | number | boolean | null;
export type FieldValues = Record<string, FieldValue>;

export type FieldType =
  | 'string'
  | 'text'
  | 'email'
  | 'phone'
  | 'url'
  | 'integer'
  | 'float'
  | 'currency'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'picklist'
  | 'reference'
  | 'other';

export interface FieldDescription {
  /** The API name: Marketo's REST name, Dataverse's LogicalName. */
  name: string;
  label?: string;
  type: FieldType;
  /** Maximum length for string-like fields. */
  length?: number;
  /** What *this connection's user* may do with the field (field-level security already applied). */
  readable: boolean;
  creatable: boolean;
  updatable: boolean;
  /** True when the field is under field-level security. */
  secured?: boolean;
  /** Why the field is not readable/creatable/updatable, for operators. */
  note?: string;
}

export interface ObjectDescription {
  objectType: string;
  /** The field holding the record id (`id`, `contactid`). */
  idField: string;
  /** The field holding the person's email, used to match new people across systems. */
  emailField: string;
  fields: FieldDescription[];
}

export interface RemoteRecord {
  id: string;
  /**
   * Values of the requested fields. A requested field that is absent is *unknown* (not readable for this user):
   * the engine never treats it as blank.
   */
  fields: FieldValues;
  /** Optimistic-concurrency token (Dataverse `@odata.etag`), passed back on update. */
  etag?: string;
  /** When the record last changed (ISO 8601). */
  modifiedAt?: string;
  /** When each field last changed, where the system says so (Marketo Change Data Value). ISO 8601. */
  fieldModifiedAt?: Record<string, string>;
}

export interface ChangePage {
  /** Current values (requested fields) of records created or changed since the cursor. */
  records: RemoteRecord[];
  /** Ids of records deleted since the cursor (systems that report deletes). */
  deletedIds: string[];
  /** The cursor to store once the engine has saved this page. Opaque to the engine. */
  cursor: string;
  /** True when this page brings the reader up to date. */
  done: boolean;
  /** Progress of an initial load, when the connector can tell. */
  progress?: { phase: 'initial' | 'incremental'; recordsSoFar?: number; estimatedTotal?: number };
}

export interface ReadOptions {
  /** The fields to read (API names). Unknown names are a `TandemError('UNKNOWN_FIELD')`. */
  fields: string[];
  signal?: AbortSignal;
  /**
   * Who reads and writes (the pipeline's id). A connection may serve several pipelines: a write is an echo only
   * for the pipeline that made it, so a loop guard keeps what it remembers per scope (see `inSync`).
   */
  scope?: string;
}

export type WriteOp =
  | { kind: 'create'; ref: string; fields: FieldValues }
  | { kind: 'update'; ref: string; id: string; fields: FieldValues; etag?: string };

export type WriteResult =
  | { ref: string; status: 'created' | 'updated'; id: string; etag?: string }
  /** The remote system refused this record (validation rule, plug-in, bad format, duplicate). */
  | { ref: string; status: 'rejected'; code: string; message: string }
  /** The record changed since it was read (ETag mismatch, HTTP 412): re-read and merge again. */
  | { ref: string; status: 'conflict'; message: string }
  /** The record to update does not exist any more. */
  | { ref: string; status: 'not-found'; message: string }
  /** Any other per-op failure. */
  | { ref: string; status: 'failed'; code: string; message: string; retryable: boolean };

export interface WriteOptions {
  signal?: AbortSignal;
  /** Who writes (the pipeline's id): see `ReadOptions.scope`. */
  scope?: string;
}

export type ActivityEventType = 'created' | 'updated' | 'rejected' | 'deleted' | 'conflict' | 'linked';

/** A sync event to post to a person's activity log in the remote system (Marketo custom activity). */
export interface ActivityEvent {
  recordId: string;
  type: ActivityEventType;
  at: string;
  /** One line for humans, e.g. "Updated in Dynamics contact 7f3c…". */
  summary: string;
  /** The other system's message (a rejection) or changed fields. */
  detail?: string;
  /** The other system's name and record id, when known. */
  otherSystem?: string;
  otherId?: string;
}

export interface CheckResult {
  ok: boolean;
  /** Who we are connected as (user id, API user email). */
  identity?: string;
  /**
   * Which instance of the system answered: an organisation id, a Marketo munchkin id, a sandbox's instance id.
   * Stable for one org; a different value behind the same configuration means a different org (a refreshed
   * sandbox, production instead of test), and the engine then stops rather than mix the two.
   */
  instance?: string;
  message?: string;
  /**
   * The API allowance left, where the system says so cheaply (a response header, a counter the connector keeps):
   * calls `used` of `limit` in the current window, `remaining`, and when the window starts over (ISO 8601).
   * `window` says what is counted, e.g. "day (US Central)" or "5 minutes per web server".
   */
  quota?: { used?: number; limit?: number; remaining?: number; resetsAt?: string; window?: string };
  /**
   * The system's clock at the check (ISO 8601), from the HTTP `Date` header of an answer: a change feed read
   * against a watermark goes wrong when the two clocks disagree by more than its overlap.
   */
  serverTime?: string;
}

export interface Connector {
  /** The connector id (its manifest id): `marketo`, `dynamics`. */
  readonly id: string;
  /** How people call the system, for messages and activity logs (`Marketo`, `Dynamics`); defaults to the id. */
  readonly label?: string;
  /** The object types this connector syncs: `['lead']`, `['contact', 'lead']`. */
  readonly objectTypes: readonly string[];
  /**
   * Ids that grow with creation, compared as numbers (`numeric`) or as strings (`string`): among several records
   * sharing an email the engine links the oldest, as the system's own tools would. Unset: the first one found.
   */
  readonly idOrder?: 'numeric' | 'string';
  /**
   * Object types whose new records take over a person linked through another type of this system: `{ contact:
   * ['lead'] }` says a new contact whose email belongs to a person linked through a lead replaces that lead
   * in the person's link (a lead qualified into a contact).
   */
  readonly supersedes?: Readonly<Record<string, readonly string[]>>;
  check(signal?: AbortSignal): Promise<CheckResult>;
  describe(objectType: string, signal?: AbortSignal): Promise<ObjectDescription>;
  /**
   * Changes since `cursor` (`null`: an initial load of every record), as pages. The engine saves what a page
   * holds and only then stores `page.cursor`, so a crash re-reads at most one page.
   */
  readChanges(objectType: string, cursor: string | null, options: ReadOptions): AsyncIterable<ChangePage>;
  /** Records by id; ids that do not exist are simply missing from the result. */
  get(objectType: string, ids: readonly string[], options: ReadOptions): Promise<RemoteRecord[]>;
  /** Records whose email equals one of `emails` (trimmed, case-insensitive). */
  findByEmail(objectType: string, emails: readonly string[], options: ReadOptions): Promise<RemoteRecord[]>;
  /** Creates and updates in the system's largest batches; one result per op, in input order. */
  write(objectType: string, ops: readonly WriteOp[], options?: WriteOptions): Promise<WriteResult[]>;
  /**
   * Writes to several object types at once, for systems whose batches can mix them (a Dataverse `$batch`
   * holds contacts and leads alike): one result list per group, each in its ops' order. Optional: without it
   * the engine calls `write` once per object type.
   */
  writeMany?(groups: ReadonlyArray<WriteGroup>, options?: WriteOptions): Promise<WriteResult[][]>;
  /**
   * The loop guard: the engine has saved these records' snapshots as this connector last wrote them (both sides
   * of each person written). Until they change again, `readChanges` may leave out their echoes (see
   * `OwnWrites`). `holds`, when given, is what each record now holds as far as the engine knows (its fields
   * as read, then the snapshot; this system's field names), for judging a record read in full. `scope` is the
   * pipeline whose writes these are (`WriteOptions.scope`): their echoes may be left out of that pipeline's
   * reads only, as for another pipeline sharing the connection they are changes to sync. Optional: without it
   * every echo is compared with its snapshot.
   */
  inSync?(objectType: string, ids: readonly string[], holds?: ReadonlyMap<string, FieldValues>, scope?: string): void;
  /** Posts sync events to persons' activity logs, in batches. Optional: not every system has one. */
  logActivity?(objectType: string, events: readonly ActivityEvent[], signal?: AbortSignal): Promise<void>;
  /** Request counters since start, for diagnostics and benchmarks. */
  stats?(): ConnectorStats;
}

export interface WriteGroup {
  objectType: string;
  ops: readonly WriteOp[];
}

export interface ConnectorStats {
  requests: number;
  [counter: string]: number;
}
