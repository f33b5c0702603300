/**
 * Proactive limiter for Marketo's instance-wide limits: at most `callsPerWindow` calls in any rolling
 * `windowMs` (606 beyond) and `maxConcurrent` in flight (615 beyond). Callers queue in FIFO order.
 *
 * A call occupies its window slot from when it is sent until `windowMs` after its *response* arrived. The
 * server counts the call from when it received it, which lies between those two instants, so our view of the
 * window is never more optimistic than the server's: throughput sits at the limit without tripping it.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface LimiterOptions {
  callsPerWindow: number;
  windowMs: number;
  maxConcurrent: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class Limiter {
  private inFlight = 0;
  /** End times (response arrival) of calls still inside the window, oldest first. */
  private finished: number[] = [];
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** No call starts before this instant (set after a 606/615 so every caller backs off together). */
  private notBefore = 0;
  /** A lower concurrency cap learnt from a 615 (other integrations share the instance's 10), and until when. */
  private cap = Infinity;
  private capUntil = 0;

  constructor(private readonly options: LimiterOptions) {}

  /** Waits for a free slot; the caller must call `release()` once the response has arrived. */
  acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.queue.indexOf(waiter);
          if (index >= 0) this.queue.splice(index, 1);
          // The wake-up timer was armed for waiters: with none left it must go, or it keeps the process alive
          // (up to a window, 20 s) after everyone gave up.
          this.drain();
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
      this.drain();
    });
  }

  release(): void {
    this.inFlight--;
    this.finished.push(Date.now());
    this.drain();
  }

  /** Holds every new call back for `ms` (after the server throttled us despite the limiter: shared limits). */
  pause(ms: number): void {
    this.notBefore = Math.max(this.notBefore, Date.now() + ms);
    this.drain();
  }

  /**
   * The server said 615 although we were within `maxConcurrent`: others use some of the instance's slots. Stay
   * at what was in flight when it answered (at least 1) for one window, instead of hammering it with retries.
   */
  concurrencyExceeded(): void {
    this.cap = Math.max(1, this.inFlight);
    this.capUntil = Date.now() + this.options.windowMs;
    this.drain();
  }

  private maxConcurrent(now: number): number {
    return now < this.capUntil ? Math.min(this.cap, this.options.maxConcurrent) : this.options.maxConcurrent;
  }

  private drain(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const now = Date.now();
    const windowStart = now - this.options.windowMs;
    while (this.finished.length > 0 && (this.finished[0] ?? 0) <= windowStart) this.finished.shift();
    while (this.queue.length > 0 && now >= this.notBefore) {
      if (this.inFlight >= this.maxConcurrent(now)) return; // release() drains again
      if (this.inFlight + this.finished.length >= this.options.callsPerWindow) break;
      const waiter = this.queue.shift();
      if (!waiter) break;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      this.inFlight++;
      waiter.resolve();
    }
    if (this.queue.length === 0) return;
    // Something in flight will drain again on release(); a timer is needed only for a pause that has to end
    // or for a full window whose oldest finished call has to leave it.
    const oldest = this.finished[0];
    const windowFull = this.inFlight + this.finished.length >= this.options.callsPerWindow;
    const windowFreeAt = windowFull && oldest !== undefined ? oldest + this.options.windowMs + 1 : 0;
    const wakeAt = Math.max(this.notBefore, windowFreeAt);
    if (wakeAt <= now) return;
    this.timer = setTimeout(() => this.drain(), Math.max(1, wakeAt - now));
  }
}

/** Waits `ms`, or rejects when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return sleep(ms, undefined, signal ? { signal } : undefined);
}
