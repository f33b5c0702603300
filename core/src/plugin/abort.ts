/**
 * Waiting on work that does not itself listen to an AbortSignal (a shared token request that other callers still
 * wait for, a connector that ignores its signal): the caller is let go as soon as its signal aborts, while the
 * work goes on for whoever else needs it.
 */

/** `promise`, or the signal's reason as soon as it aborts (without cancelling what `promise` stands for). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
