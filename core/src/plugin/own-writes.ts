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
import { LRUCache } from 'lru-cache';

export interface OwnWritesLimits {
  /** Records remembered at most, written and confirmed each (the oldest are forgotten first). */
  maxRecords: number;
  /** How long a write is remembered: well past one cycle's wait, so its echo is met in the next cycle. */
  ttlMs: number;
}

export const OWN_WRITES_LIMITS: OwnWritesLimits = { maxRecords: 50_000, ttlMs: 60 * 60_000 };

export class OwnWrites<State extends object> {
  private readonly written: LRUCache<string, State>;
  private readonly confirmed: LRUCache<string, State>;

  constructor(limits: OwnWritesLimits = OWN_WRITES_LIMITS) {
    this.written = new LRUCache<string, State>({ max: limits.maxRecords, ttl: limits.ttlMs });
    this.confirmed = new LRUCache<string, State>({ max: limits.maxRecords, ttl: limits.ttlMs });
  }

  /**
   * A successful write left record `key` as `state`. `merge` combines it with an unconfirmed earlier write of
   * the same record (values written in two calls); without it the later write replaces the earlier.
   */
  wrote(key: string, state: State, merge?: (earlier: State, later: State) => State): void {
    const earlier = merge ? this.written.get(key) : undefined;
    this.written.set(key, earlier ? merge!(earlier, state) : state);
  }

  /** The engine saved these records' snapshots as last written: their echoes may be left out from now on. */
  confirm(keys: readonly string[]): void {
    for (const key of keys) {
      const state = this.written.get(key);
      if (state === undefined) continue;
      this.written.delete(key);
      this.confirmed.set(key, state);
    }
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
