/**
 * Client-side service protection: at most `maxConcurrent` requests in flight (Dataverse fails the 53rd at once)
 * and at most `requestsPerWindow` started per sliding `windowMs` (6000 per 5 minutes), so we rarely meet a 429.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConcurrencySlots } from '@tandem/core/plugin';

export class RequestLimiter {
  private readonly slots: ConcurrencySlots;
  private readonly started: number[] = [];

  constructor(
    maxConcurrent: number,
    private readonly requestsPerWindow: number,
    private readonly windowMs: number,
  ) {
    this.slots = new ConcurrencySlots(maxConcurrent);
  }

  /** Runs `fn` once a concurrency slot and a window slot are free. */
  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.slots.run(async () => {
      await this.acquireWindow(signal);
      return fn();
    }, signal);
  }

  private async acquireWindow(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.started.length > 0 && (this.started[0] ?? 0) <= now - this.windowMs) this.started.shift();
      if (this.started.length < this.requestsPerWindow) {
        this.started.push(now);
        return;
      }
      await sleep((this.started[0] ?? now) + this.windowMs - now + 1, undefined, { signal });
    }
  }
}
