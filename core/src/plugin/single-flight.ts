/**
 * One request at a time, shared by every caller who needs its answer (a token: a burst of 401s must not turn into
 * a burst of token requests). Each caller may give up through its own signal without disturbing the others; when
 * the last one gives up, the request itself is cancelled rather than left running for nobody.
 */
import { abortable } from './abort';

interface Flight<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}

export class SingleFlight<T> {
  private flight: Flight<T> | undefined;

  /**
   * The answer of the request under way, or of one `start` begins now (with a signal that aborts once every
   * caller has given up). An aborted `signal` rejects this caller at once.
   */
  async run(start: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let flight = this.flight;
    // A request everyone gave up on is being cancelled: let it end (at once) rather than join it.
    while (flight?.controller.signal.aborted) {
      await abortable(
        flight.promise.catch(() => undefined),
        signal,
      );
      flight = this.flight;
    }
    if (!flight) {
      const controller = new AbortController();
      const started: Flight<T> = {
        controller,
        waiters: 0,
        promise: start(controller.signal).finally(() => {
          if (this.flight === started) this.flight = undefined;
        }),
      };
      flight = this.flight = started;
    }
    flight.waiters += 1;
    try {
      return await abortable(flight.promise, signal);
    } finally {
      flight.waiters -= 1;
      // The last caller gave up: stop the request rather than leave it running for nobody.
      if (flight.waiters === 0 && signal?.aborted) flight.controller.abort(signal.reason);
    }
  }
}
