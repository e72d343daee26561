import { deadlineTimer } from "../channel/_channel_options.ts";
import { formatError } from "../channel/_traceback.ts";
import { RemoteError } from "../errors.ts";
import { type ConnectionTelemetry, OTHER_METHOD } from "../rpc/_telemetry.ts";
import { asError } from "../rpc/_thrown.ts";
import { bindArguments } from "../rpc/_call_content.ts";
import {
  applyOutsideContext,
  type CallContext,
  runInContext,
} from "../rpc/call_context.ts";
import type { Resolved, Service } from "../rpc/service.ts";
import type { CallOptions } from "../rpc/with_options.ts";
import { closedError } from "./_connections.ts";
import type { LocalWire } from "./_local_wire.ts";

/**
 * Calls between agents of one container, with the semantics of a call
 * over a connection: values take the codec's round trip ({@linkcode LocalWire}),
 * everything on the callee's side fails as a `RemoteError`, a timeout or
 * abort rejects with `TimeoutError`/`AbortError`, and the container's
 * shutdown rejects the calls in flight with `ConnectionClosedError` and
 * aborts the handlers' `callContext().signal`.
 *
 * With telemetry, a call makes a client span and, as its child, a server
 * span, which ends when the handler has settled (and its result been
 * encoded, if the caller still waits), as a server's would.
 */
export class LocalCalls {
  #addr: string;
  #service: Service;
  #wire: LocalWire;
  #callTimeout: number | undefined;
  #context: CallContext;
  #closing: AbortSignal;
  /** What rejects each call whose handler is still running. */
  #inFlight = new Set<(error: unknown) => void>();

  /**
   * @param addr The container's address (the origin of its errors).
   * @param service The container's root service.
   * @param wire The container's codec round trip.
   * @param callTimeout The default timeout in ms (`undefined`: none).
   * @param closing Aborted when the container shuts down.
   * @param telemetry What records the calls, if anything does.
   */
  constructor(
    addr: string,
    service: Service,
    wire: LocalWire,
    callTimeout: number | undefined,
    closing: AbortSignal,
    telemetry: ConnectionTelemetry | undefined,
  ) {
    this.#addr = addr;
    if (telemetry !== undefined) {
      // Decided once: without telemetry, calls take the plain method.
      this.call = (path, args, options) =>
        telemetry.track(
          path,
          () => this.#traced(path, args, options, telemetry),
        );
    }
    this.#service = service;
    this.#wire = wire;
    this.#callTimeout = callTimeout;
    this.#closing = closing;
    this.#context = { signal: closing, peer: addr };
    closing.addEventListener("abort", () => {
      for (const reject of this.#inFlight) reject(closedError(closing));
      this.#inFlight.clear();
    }, { once: true });
  }

  /** Makes a call: the proxies of this container's agents send theirs here. */
  async call(
    path: string,
    args: unknown[],
    options: CallOptions | undefined,
  ): Promise<unknown> {
    // As over a connection: a closed container, an aborted signal and
    // arguments that cannot be sent fail here, with their own errors;
    // everything on the callee's side (lookup, the call, a result that
    // cannot be sent back) is a RemoteError.
    if (this.#closing.aborted) throw closedError(this.#closing);
    const signal = options?.signal;
    signal?.throwIfAborted();
    this.#checkTime(options);
    // Awaited even when it is no promise: the callee runs a turn later, as
    // across a connection, not inside its caller's call expression (agents
    // that call each other back and forth would grow one stack until it
    // overflows, and code after a call would run after the callee).
    const received = await this.#wire.args(args);
    this.#checkStill(signal);
    let result: unknown;
    try {
      const resolved = this.#service.resolve(path);
      const bound = bindArguments(resolved, received);
      result = resolved.options.context === true
        ? runInContext(this.#context, resolved.fn, resolved.thisArg, bound)
        : applyOutsideContext(resolved.fn, resolved.thisArg, bound);
    } catch (error) {
      throw this.#remoteError(error);
    }
    if (result instanceof Promise) {
      result = await this.#settled(result, options?.timeout, signal);
    } else {
      // A handler that shut its container down or aborted its call
      // itself: the caller has given up, as across a connection.
      this.#checkStill(signal);
    }
    try {
      const returned = this.#wire.result(result);
      return returned instanceof Promise ? await returned : returned;
    } catch (error) {
      throw this.#remoteError(error);
    }
  }

  /** {@linkcode LocalCalls.call} inside a server span (within `track`'s client span). */
  async #traced(
    path: string,
    args: unknown[],
    options: CallOptions | undefined,
    telemetry: ConnectionTelemetry,
  ): Promise<unknown> {
    if (this.#closing.aborted) throw closedError(this.#closing);
    const signal = options?.signal;
    signal?.throwIfAborted();
    this.#checkTime(options);
    // A turn later, as above.
    const received = await this.#wire.args(args);
    this.#checkStill(signal);
    let resolved: Resolved;
    try {
      resolved = this.#service.resolve(path);
    } catch (error) {
      // Only paths the service has name spans: a caller picks the others.
      telemetry.served(telemetry.serve(OTHER_METHOD), asError(error));
      throw this.#remoteError(error);
    }
    const served = telemetry.serve(path);
    let result: unknown;
    try {
      const bound = bindArguments(resolved, received);
      result = telemetry.within(served, this.#invoke, this, resolved, bound);
    } catch (error) {
      telemetry.served(served, asError(error));
      throw this.#remoteError(error);
    }
    if (result instanceof Promise) {
      const running = result;
      let waiting = true;
      let fulfilled = false;
      // Ends the span of a failed handler, or of one that settles after its
      // caller gave up; a result still awaited is encoded first, below.
      running.then(
        () => {
          fulfilled = true;
          if (!waiting) telemetry.served(served);
        },
        (error) => telemetry.served(served, asError(error)),
      );
      try {
        result = await this.#settled(running, options?.timeout, signal);
      } catch (error) {
        // Given up after the handler had answered (it shut the container
        // down, or aborted the call, itself): nothing else ends the span.
        if (fulfilled) telemetry.served(served, asError(error));
        throw error;
      } finally {
        waiting = false;
      }
    } else {
      try {
        this.#checkStill(signal);
      } catch (error) {
        // As above, for a handler that answered at once.
        telemetry.served(served, asError(error));
        throw error;
      }
    }
    try {
      const returned = this.#wire.result(result);
      const value = returned instanceof Promise ? await returned : returned;
      telemetry.served(served);
      return value;
    } catch (error) {
      telemetry.served(served, asError(error));
      throw this.#remoteError(error);
    }
  }

  /**
   * After the turn a call waits: a shutdown or an abort meanwhile stops it
   * before the callee runs (a send would have been refused or given up).
   */
  #checkStill(signal: AbortSignal | undefined): void {
    if (this.#closing.aborted) throw closedError(this.#closing);
    signal?.throwIfAborted();
  }

  /** A timeout of 0 runs nothing, as a send with it sends nothing. */
  #checkTime(options: CallOptions | undefined): void {
    if ((options?.timeout ?? this.#callTimeout) === 0) {
      throw new DOMException(
        `Request to ${this.#addr} timed out after 0 ms`,
        "TimeoutError",
      );
    }
  }

  #invoke(resolved: Resolved, bound: unknown[]): unknown {
    return resolved.options.context === true
      ? runInContext(this.#context, resolved.fn, resolved.thisArg, bound)
      : applyOutsideContext(resolved.fn, resolved.thisArg, bound);
  }

  /**
   * What a running handler's promise settles to, unless the call times out,
   * is aborted or the container shuts down first (a late result is dropped).
   */
  #settled(
    running: Promise<unknown>,
    ownTimeout: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    running.then(resolve, (error) => reject(this.#remoteError(error)));
    this.#inFlight.add(reject);
    const timeout = ownTimeout ?? this.#callTimeout;
    const timer = timeout === undefined ? undefined : deadlineTimer(
      timeout,
      () =>
        reject(
          new DOMException(
            `Request to ${this.#addr} timed out after ${timeout} ms`,
            "TimeoutError",
          ),
        ),
    );
    const onAbort = () => reject(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    // The handler itself may have shut the container down or aborted the
    // signal, whose events are over then.
    if (this.#closing.aborted) reject(closedError(this.#closing));
    else if (signal?.aborted) onAbort();
    const cleanup = () => {
      this.#inFlight.delete(reject);
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    promise.then(cleanup, cleanup);
    return promise;
  }

  #remoteError(error: unknown): RemoteError {
    return new RemoteError(this.#addr, formatError(asError(error)));
  }
}
