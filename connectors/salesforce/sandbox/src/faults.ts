/**
 * Faults for tests: latency, lock contention on record writes (UNABLE_TO_LOCK_ROW), and service trouble
 * (503 SERVER_UNAVAILABLE), each as a share spread evenly over the calls (deterministic, so tests can count) or as
 * "the next N".
 */

export interface SandboxFaults {
  /** Added before every API request is answered. */
  latencyMs?: number;
  /** Share (0..1) of record writes that fail with UNABLE_TO_LOCK_ROW, every 1/share-th write. */
  lockErrorShare?: number;
  /** The next N record writes fail with UNABLE_TO_LOCK_ROW. */
  lockErrorsNext?: number;
  /** Share (0..1) of API requests answered 503 SERVER_UNAVAILABLE. */
  unavailableShare?: number;
  /** The next N API requests are answered 503 SERVER_UNAVAILABLE. */
  unavailableNext?: number;
}

/** Fires for a share of calls, spread evenly: call k fires when floor((k+1)·share) > floor(k·share). */
export class ShareGate {
  private calls = 0;
  private share = 0;
  next = 0;

  set(share: number): void {
    if (!(share >= 0 && share <= 1)) throw new Error(`a share is between 0 and 1, not ${share}`);
    this.share = share;
    this.calls = 0;
  }

  fires(): boolean {
    if (this.next > 0) {
      this.next -= 1;
      return true;
    }
    if (this.share <= 0) return false;
    const k = this.calls;
    this.calls += 1;
    return Math.floor((k + 1) * this.share) > Math.floor(k * this.share);
  }

  clear(): void {
    this.share = 0;
    this.calls = 0;
    this.next = 0;
  }
}

export class FaultState {
  latencyMs = 0;
  readonly lock = new ShareGate();
  readonly unavailable = new ShareGate();

  apply(f: SandboxFaults): void {
    if (f.latencyMs !== undefined) this.latencyMs = Math.max(0, f.latencyMs);
    if (f.lockErrorShare !== undefined) this.lock.set(f.lockErrorShare);
    if (f.lockErrorsNext !== undefined) this.lock.next = Math.max(0, f.lockErrorsNext);
    if (f.unavailableShare !== undefined) this.unavailable.set(f.unavailableShare);
    if (f.unavailableNext !== undefined) this.unavailable.next = Math.max(0, f.unavailableNext);
  }

  clear(): void {
    this.latencyMs = 0;
    this.lock.clear();
    this.unavailable.clear();
  }
}
