import type { CallOptions } from "./with_options.ts";

/**
 * Runs a call that does not go through a channel (an agent's call within
 * its container) bounded as a channel bounds a request: it rejects with a
 * `TimeoutError` `DOMException` after `timeout` ms (the call's own, else
 * `callTimeout`; `Infinity` is none) or with the signal's reason when
 * aborted, and what the call gives later is dropped. An aborted signal
 * rejects without running `call`.
 *
 * @param call Starts the call.
 * @param options The call's options (from `withOptions`), if any.
 * @param callTimeout The default timeout in ms, if any.
 * @param peer Who is called, for the timeout's message.
 * @returns The call's result.
 */
export function boundCall<T>(
  call: () => Promise<T>,
  options: CallOptions | undefined,
  callTimeout: number | undefined,
  peer: string,
): Promise<T> {
  const signal = options?.signal;
  let timeout = options?.timeout ?? callTimeout;
  if (timeout === Infinity) timeout = undefined;
  if (signal === undefined && timeout === undefined) return call();
  if (signal?.aborted) return Promise.reject(signal.reason);
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  const cleanup = () => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  const onAbort = () => {
    cleanup();
    reject(signal!.reason);
  };
  const timer = timeout === undefined ? undefined : setTimeout(() => {
    cleanup();
    reject(
      new DOMException(
        `Request to ${peer} timed out after ${timeout} ms`,
        "TimeoutError",
      ),
    );
  }, timeout);
  signal?.addEventListener("abort", onAbort, { once: true });
  let result: Promise<T>;
  try {
    result = call();
  } catch (error) {
    cleanup();
    return Promise.reject(error);
  }
  result.then((value) => {
    cleanup();
    resolve(value);
  }, (error) => {
    cleanup();
    reject(error);
  });
  return promise;
}
