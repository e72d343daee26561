import { createRemote, remoteInfo } from "./_proxy.ts";

/**
 * Options of the calls of a proxy made by {@linkcode withOptions}. Nothing
 * of them is sent to the peer.
 */
export interface CallOptions {
  /**
   * Rejects a call with a `TimeoutError` `DOMException` after this many
   * milliseconds; its reply, if it comes later, is dropped. Overrides the
   * client's `callTimeout`; `Infinity` means no timeout.
   *
   * @default {the client's `callTimeout`, else none}
   */
  timeout?: number;
  /**
   * Rejects a call when aborted, with the signal's reason (an `AbortError`
   * `DOMException` unless one was given); its reply, if it comes later, is
   * dropped.
   */
  signal?: AbortSignal;
}

/**
 * Returns a proxy like `proxy` whose calls, and the calls of the proxies of
 * its attributes, use `options`: a timeout (milliseconds) and a cancelling
 * signal. The options stay on this side: the peer gets the same request as
 * from `proxy`. Options given to a proxy made by `withOptions` are merged
 * with its own: a new `timeout` replaces the old one, signals both apply.
 *
 * Works for every remote proxy: `client.remote`, its attributes, proxies of
 * references received from the peer, and agent proxies.
 *
 * @typeParam T The proxy's type (it is kept).
 * @param proxy A remote proxy.
 * @param options `timeout` (ms) and `signal`; see {@linkcode CallOptions}.
 * @returns A proxy of the same type and path.
 * @throws {TypeError} If `proxy` is not a remote proxy or `signal` is not an `AbortSignal`.
 * @throws {RangeError} If `timeout` is not a number of milliseconds from 0 up.
 *
 * @example A call that may take at most 50 ms, and one that is aborted
 * ```ts
 * import { expose, openConnection, startServer, withOptions } from "@aiomas/aiomas/rpc";
 * import assert from "node:assert/strict";
 *
 * class Slow {
 *   #never = Promise.withResolvers<never>();
 *   @expose wait(): Promise<never> {
 *     return this.#never.promise; // never answers
 *   }
 *   @expose add(a: number, b: number): number {
 *     return a + b;
 *   }
 * }
 * await using server = await startServer({ hostname: "127.0.0.1", port: 0 }, new Slow());
 * await using client = await openConnection<Slow>(server.addr);
 * const bounded = withOptions(client.remote, { timeout: 50 });
 * await assert.rejects(bounded.wait(), { name: "TimeoutError" });
 * const controller = new AbortController();
 * const call = withOptions(client.remote.wait, { signal: controller.signal })();
 * controller.abort();
 * await assert.rejects(call, { name: "AbortError" });
 * assert.equal(await bounded.add(1, 2), 3); // the connection is fine
 * await server.close({ timeout: 0 }); // the handlers that never answer
 * ```
 */
export function withOptions<T>(proxy: T, options: CallOptions): T {
  const info = remoteInfo(proxy);
  if (info === undefined) {
    throw new TypeError(
      `withOptions() takes a remote proxy, got ${describe(proxy)}`,
    );
  }
  checkCallOptions(options);
  const old = info.options;
  const merged: CallOptions = old === undefined ? { ...options } : {
    timeout: options.timeout ?? old.timeout,
    signal: old.signal === undefined
      ? options.signal
      : options.signal === undefined
      ? old.signal
      : AbortSignal.any([old.signal, options.signal]),
  };
  return createRemote(info.caller, info.path, info.label, merged) as T;
}

/**
 * Checks call options given by a user.
 *
 * @param options The options.
 * @throws {TypeError} If `signal` is not an `AbortSignal`.
 * @throws {RangeError} If `timeout` is not a number of milliseconds from 0 up.
 */
export function checkCallOptions(options: CallOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Call options must be an object: { timeout, signal }");
  }
  checkTimeout(options.timeout, "timeout");
  if (
    options.signal !== undefined && !(options.signal instanceof AbortSignal)
  ) {
    throw new TypeError("signal must be an AbortSignal");
  }
}

/**
 * Checks a timeout in milliseconds (undefined is none).
 *
 * @param timeout The value.
 * @param name Its name for the error message.
 * @throws {RangeError} If it is not a number from 0 up (`Infinity` is).
 */
export function checkTimeout(timeout: unknown, name: string): void {
  if (
    timeout !== undefined && (typeof timeout !== "number" || !(timeout >= 0))
  ) {
    throw new RangeError(
      `${name} must be a number of milliseconds from 0 up (Infinity for none), got ${
        String(timeout)
      }`,
    );
  }
}

function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : String(value);
}
