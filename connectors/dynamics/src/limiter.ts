/**
 * Client-side service protection: at most `maxConcurrent` requests in flight (Dataverse fails the 53rd at once)
 * and at most `requestsPerWindow` started per sliding `windowMs` (6000 per 5 minutes), so we rarely meet a 429.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export class RequestLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly started: number[] = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly requestsPerWindow: number,
    private readonly windowMs: number,
  ) {}

  /** Runs `fn` once a concurrency slot and a window slot are free. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquireSlot(signal);
    try {
      await this.acquireWindow(signal);
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquireSlot(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.maxConcurrent) {
      this.active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        this.active += 1;
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  private release(): void {
    this.active -= 1;
    this.waiting.shift()?.();
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
