import { AsyncLocalStorage } from "node:async_hooks";

/**
 * What an exposed function marked `@expose({ context: true })` can learn
 * about the call it is serving, through {@linkcode callContext}.
 */
export interface CallContext {
  /**
   * Aborts when the caller is gone: the connection the call came on has
   * closed (the peer left, the connection was cut or closed, or the
   * server or container is shutting down). Long work should stop then:
   * nobody will read its result.
   */
  readonly signal: AbortSignal;
  /** The caller as seen locally, e.g. `"127.0.0.1:50312"`. */
  readonly peer: string;
}

const storage = new AsyncLocalStorage<CallContext>();

/**
 * The context of the call being served: its `signal` aborts when the
 * caller is gone. Only functions exposed with `@expose({ context: true })`
 * (or `expose(fn, { context: true })`) have one, for their whole run,
 * `await`s included; other functions cost nothing extra, and the context
 * never appears in the proxy types or on the wire.
 *
 * @returns The context of the current call.
 * @throws {Error} If called outside a call to a function exposed with
 *   `context: true`.
 *
 * @example Stopping long work when the caller leaves
 * ```ts
 * import { callContext, expose, openConnection, startServer } from "@aiomas/aiomas/rpc";
 * import assert from "node:assert/strict";
 *
 * const started = Promise.withResolvers<void>();
 * const stopped = Promise.withResolvers<unknown>();
 * class Worker {
 *   @expose({ context: true })
 *   async crunch(): Promise<void> {
 *     const { signal } = callContext();
 *     started.resolve();
 *     // Stands for long work that checks `signal.aborted` between steps or
 *     // passes `signal` on (to fetch, streams, timers, child processes).
 *     await new Promise((resolve) => signal.addEventListener("abort", resolve));
 *     stopped.resolve(signal.reason);
 *   }
 * }
 * await using server = await startServer({ hostname: "127.0.0.1", port: 0 }, new Worker());
 * const client = await openConnection<Worker>(server.addr);
 * const call = client.remote.crunch();
 * await started.promise;
 * await client.close(); // the caller leaves
 * await assert.rejects(call, { name: "ConnectionClosedError" });
 * assert.equal((await stopped.promise as Error).name, "ConnectionClosedError");
 * ```
 */
export function callContext(): CallContext {
  const context = storage.getStore();
  if (context === undefined) {
    throw new Error(
      "callContext() is only available while serving a call to a function exposed with @expose({ context: true })",
    );
  }
  return context;
}

/**
 * Calls `fn` with `context` as what {@linkcode callContext} returns during
 * the call.
 *
 * @param context The call's context.
 * @param fn The exposed function.
 * @param thisArg What to call it on.
 * @param args Its arguments.
 * @returns What `fn` returns.
 */
export function runInContext(
  context: CallContext,
  fn: (...args: unknown[]) => unknown,
  thisArg: unknown,
  args: unknown[],
): unknown {
  return storage.run(context, () => Reflect.apply(fn, thisArg, args));
}

/** What the store holds outside a call: nothing. */
const NO_CONTEXT = undefined as unknown as CallContext;

/**
 * Calls `fn`, not exposed with `context: true`, outside any call's
 * context: a connection made while serving a call (its reads continue in
 * that call's context) must not hand that context to its own calls.
 *
 * @param fn The exposed function.
 * @param thisArg What to call it on.
 * @param args Its arguments.
 * @returns What `fn` returns.
 */
export function applyOutsideContext(
  fn: (...args: unknown[]) => unknown,
  thisArg: unknown,
  args: unknown[],
): unknown {
  // run(undefined), not exit(): exit hides the store only until the
  // function's first await.
  return storage.getStore() === undefined
    ? Reflect.apply(fn, thisArg, args)
    : storage.run(NO_CONTEXT, () => Reflect.apply(fn, thisArg, args));
}
