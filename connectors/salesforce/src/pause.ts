/** Waits `ms`; an abort ends the wait at once, rejecting with the signal's reason (what the caller gave up with). */
import { setTimeout as sleep } from 'node:timers/promises';

export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
}
