import { deadlineTimer } from "./_channel_options.ts";

/**
 * `promise`, or a rejection when `timeout` (ms) passes or `signal` aborts
 * first (then `onGiveUp` is called with the rejection's reason); `promise`
 * goes on (it may be shared) and its outcome is dropped.
 */
export function within<T>(
  promise: Promise<T>,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
  what: string,
  onGiveUp: (reason: unknown) => void,
): Promise<T> {
  if ((timeout === undefined || timeout === Infinity) && signal === undefined) {
    return promise;
  }
  const { promise: outcome, resolve, reject } = Promise.withResolvers<T>();
  promise.then(resolve, reject);
  const giveUp = (reason: unknown) => {
    reject(reason);
    onGiveUp(reason);
  };
  if (signal?.aborted) {
    giveUp(signal.reason);
    return outcome;
  }
  const timer = timeout === undefined ? undefined : deadlineTimer(
    timeout,
    () =>
      giveUp(
        new DOMException(
          `${what} timed out after ${timeout} ms`,
          "TimeoutError",
        ),
      ),
  );
  const onAbort = () => giveUp(signal!.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const cleanup = () => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  outcome.then(cleanup, cleanup);
  return outcome;
}
