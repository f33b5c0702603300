/**
 * One run of an async task shared by concurrent callers (the token fetch, the describe, the activity type). No
 * caller's AbortSignal may cancel the run for the others, yet an aborted caller must not wait for it: each caller
 * waits with its own signal, and the run itself is aborted once every caller waiting for it has given up, so a
 * request nobody wants does not keep going (nor keep the process alive).
 */
interface Run<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiting: number;
  settled: boolean;
}

export class Shared<T> {
  private run: Run<T> | undefined;

  /**
   * @param task the work, given the run's own signal
   * @param keep whether a successful result stays for later callers (a cache), or each settled run is forgotten
   */
  constructor(
    private readonly task: (signal: AbortSignal) => Promise<T>,
    private readonly keep: boolean,
  ) {}

  get(signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const run = this.run ?? this.start();
    if (run.settled) return run.promise;
    run.waiting++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        run.waiting--;
        if (run.waiting === 0 && !run.settled) {
          // Nobody waits any more: stop the work, and let the next caller start afresh.
          if (this.run === run) this.run = undefined;
          run.controller.abort(signal?.reason);
        }
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      run.promise.then(
        (value) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /** Forgets a kept result (or a run under way, for callers still to come). */
  clear(): void {
    this.run = undefined;
  }

  private start(): Run<T> {
    const controller = new AbortController();
    const run: Run<T> = { controller, waiting: 0, settled: false, promise: this.task(controller.signal) };
    run.promise.then(
      () => {
        run.settled = true;
        if (!this.keep && this.run === run) this.run = undefined;
      },
      () => {
        run.settled = true;
        // A failure is never kept: the next caller tries again.
        if (this.run === run) this.run = undefined;
      },
    );
    this.run = run;
    return run;
  }
}
