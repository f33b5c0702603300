/**
 * The loop guard's memory, for connectors. A change feed hands back every write, our own included (Marketo's
 * own Dynamics sync likewise does not sync its sync user's changes back). A connector notes what each of its
 * successful writes left the record as (`wrote`); once the engine has saved the person's snapshot as
 * written, it says so (`Connector.inSync` → `confirm`); from then on the record coming back unchanged since
 * (`take` answers what to compare with) can be left out of `readChanges`: no link look-up, no comparison, no
 * read of the other side.
 *
 * A write is trusted only once confirmed: if the other side's write failed, or the cycle stopped before the
 * snapshot was saved, the echo still carries changes the engine must see. Kept in memory for a while only:
 * after a restart, or on another instance, an echo is compared with the snapshot as before, so nothing here
 * is needed for correctness.
 */
export interface OwnWritesLimits {
  /**
   * Memory for writes awaiting confirmation, and as much again for confirmed ones, in approximate bytes (see
   * `approximateBytes`); the oldest are forgotten first. In bytes rather than records: records differ in
   * size (an etag, a person's written values).
   */
  maxBytes: number;
  /** How long a write is remembered: well past one cycle's wait, so its echo is met in the next cycle. */
  ttlMs: number;
}

/** 8 MB each: some 40,000 Dataverse etags or 10,000 Marketo persons' written values, per connector. */
export const OWN_WRITES_LIMITS: OwnWritesLimits = { maxBytes: 8 * 2 ** 20, ttlMs: 60 * 60_000 };

/** An estimate of the heap one remembered record takes: its strings (two bytes a character at worst) and overhead. */
function approximateBytes(key: string, state: object): number {
  // for…in, not Object.entries: this runs for every record written, and should not allocate.
  let chars = key.length;
  const top = state as Record<string, unknown>;
  for (const name in top) {
    const value = top[name];
    if (typeof value === 'string') chars += value.length;
    else if (typeof value === 'object' && value !== null) {
      const nested = value as Record<string, unknown>;
      for (const k in nested) chars += k.length + String(nested[k]).length + 16;
    }
  }
  return 200 + 2 * chars;
}

/**
 * Records by key, oldest first, within a byte budget and an age. A plain Map in insertion order: `lru-cache`
 * did the same job at about 3 µs per operation here (a clock read and size bookkeeping per call), a sizeable
 * share of the 50 µs per person the engine aims for; this needs no recency updates, only age.
 */
class Remembered<State extends object> {
  private readonly entries = new Map<string, { state: State; bytes: number; at: number }>();
  private bytes = 0;

  constructor(private readonly limits: OwnWritesLimits) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): State | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (Date.now() - entry.at <= this.limits.ttlMs) return entry.state;
    this.delete(key);
    return undefined;
  }

  set(key: string, state: State): void {
    this.delete(key);
    const now = Date.now();
    const bytes = approximateBytes(key, state);
    this.entries.set(key, { state, bytes, at: now });
    this.bytes += bytes;
    // The oldest come first: drop them while over budget or expired.
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.limits.maxBytes && now - entry.at <= this.limits.ttlMs) break;
      this.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }
}

export class OwnWrites<State extends object> {
  private readonly written: Remembered<State>;
  private readonly confirmed: Remembered<State>;

  constructor(limits: OwnWritesLimits = OWN_WRITES_LIMITS) {
    this.written = new Remembered<State>(limits);
    this.confirmed = new Remembered<State>(limits);
  }

  /**
   * A successful write left record `key` as `state`. `merge` combines it with an unconfirmed earlier write of
   * the same record (values written in two calls); without it the later write replaces the earlier.
   */
  wrote(key: string, state: State, merge?: (earlier: State, later: State) => State): void {
    const earlier = merge ? this.written.get(key) : undefined;
    this.written.set(key, earlier && merge ? merge(earlier, state) : state);
  }

  /**
   * The engine saved these records' snapshots as last written: their echoes may be left out from now on.
   * `complete` adds what the engine knows of each record to the state written (see `Connector.inSync`).
   */
  confirm(keys: readonly string[], complete?: (key: string, state: State) => State): void {
    for (const key of keys) {
      const state = this.written.get(key);
      if (state === undefined) continue;
      this.written.delete(key);
      this.confirmed.set(key, complete ? complete(key, state) : state);
    }
  }

  /** Forgets every confirmed write (their echoes will be compared with their snapshots as usual). */
  forgetConfirmed(): void {
    this.confirmed.clear();
  }

  /**
   * What a confirmed write left the record as, or `undefined`. Forgotten as it is taken: whatever the record
   * turns out to be (its echo, or someone else's change since), the next change of it is a change.
   */
  take(key: string): State | undefined {
    if (this.confirmed.size === 0) return undefined;
    const state = this.confirmed.get(key);
    if (state !== undefined) this.confirmed.delete(key);
    return state;
  }
}
