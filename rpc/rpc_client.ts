import type { Channel, CloseOptions, SendOptions } from "../channel/channel.ts";
import type { Request } from "../channel/request.ts";
import { callHook } from "../channel/_hook.ts";
import {
  type Caller,
  createRemote,
  referencePath,
  rpcLabel,
  sendsOver,
} from "./_proxy.ts";
import { bindArguments, checkCall } from "./_call_content.ts";
import { addReferences } from "./_references.ts";
import {
  failTraced,
  isPromise,
  reply,
  replyLater,
  replyLaterTraced,
  replyTraced,
} from "./_reply.ts";
import {
  type ConnectionTelemetry,
  connectionTelemetry,
  OTHER_METHOD,
} from "./_telemetry.ts";
import { asError } from "./_thrown.ts";
import {
  applyOutsideContext,
  type CallContext,
  runInContext,
} from "./call_context.ts";
import type { Remote } from "./remote.ts";
import { type Resolved, Service } from "./service.ts";
import { ServiceDict } from "./service_dict.ts";
import type { RpcClientOptions } from "./rpc_client_options.ts";
import {
  type CallOptions,
  checkCallOptions,
  checkTimeout,
} from "./with_options.ts";

export type { RpcClientOptions } from "./rpc_client_options.ts";

const EMPTY_KWARGS: Record<string, unknown> = Object.freeze({}) as Record<
  string,
  unknown
>;

/**
 * Both ends of an RPC connection: calls the peer's service through
 * {@linkcode RpcClient.remote} and serves its own (`options.service`) to the
 * peer, concurrently, on one channel.
 *
 * Local services passed as arguments or returned travel as references and
 * arrive as proxies that call back over the same connection. A proxy
 * cannot be passed on to a third party.
 *
 * @typeParam T The peer's service type, for a typed {@linkcode Remote}.
 *
 * @example
 * ```ts
 * import { Channel, createMemoryPair, expose, RpcClient } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * class MathServer {
 *   @expose add(a: number, b: number): number {
 *     return a + b;
 *   }
 * }
 * const [a, b] = createMemoryPair();
 * await using server = new RpcClient(new Channel(b), { service: new MathServer() });
 * await using client = new RpcClient<MathServer>(new Channel(a));
 * assert.equal(await client.remote.add(3, 4), 7);
 * ```
 */
export class RpcClient<T = unknown> implements AsyncDisposable {
  /** The channel underneath. */
  readonly channel: Channel;
  /** The proxy of the peer's root service. */
  readonly remote: Remote<T>;
  /** The local service served to the peer. */
  readonly service: Service;
  #caller: Caller;
  #callTimeout: number | undefined;
  /** What a call without options of its own is sent with. */
  #defaults: SendOptions | undefined;
  #closedLocally = false;
  /** Undefined when nothing would be recorded: the plain path. */
  #telemetry: ConnectionTelemetry | undefined;

  /**
   * Starts RPC on a channel whose codec has the user's serializers
   * registered already; the service reference serializer is added last.
   *
   * @param channel The channel (its codec must be this connection's own).
   * @param options See {@linkcode RpcClientOptions}.
   * @throws {TypeError} If the codec has an `Object` fallback serializer already.
   * @throws {RangeError} If `callTimeout` is not a number of milliseconds
   *   from 0 up, or `maxConcurrentRequests` not a whole number from 1 up.
   */
  constructor(channel: Channel, options: RpcClientOptions = {}) {
    checkTimeout(options.callTimeout, "callTimeout");
    this.channel = channel;
    this.#callTimeout = options.callTimeout === Infinity
      ? undefined
      : options.callTimeout;
    this.#defaults = this.#callTimeout === undefined
      ? undefined
      : { timeout: this.#callTimeout };
    if (options.maxConcurrentRequests !== undefined) {
      channel.maxConcurrentRequests = options.maxConcurrentRequests;
    }
    this.service = options.service === undefined
      ? new ServiceDict({})
      : Service.of(options.service);
    this.#telemetry = connectionTelemetry(channel, options.telemetry);
    this.#caller = (path, args, options) =>
      this.#send(path, args, EMPTY_KWARGS, options);
    sendsOver(this.#caller, this);
    const proxyFor = options.proxyFor ??
      ((path: string, caller: Caller) => createRemote(caller, path, rpcLabel));
    addReferences(
      channel.codec,
      (value) => this.#referenceTo(value),
      (path) => proxyFor(path, this.#caller),
    );
    this.remote = createRemote(this.#caller, "", "RpcProxy('')") as Remote<T>;
    const onReset = options.onConnectionReset;
    if (onReset !== undefined) {
      const reset = (error: unknown): void => {
        if (!this.#closedLocally) {
          callHook("onConnectionReset", onReset, error);
        }
      };
      channel.closed.then(() => reset(undefined), reset);
    }
    if (this.#telemetry === undefined) this.#serve();
    else this.#telemetry.inRoot(() => this.#serve());
  }

  /**
   * Settles when the connection has closed; see `Channel.closed`.
   */
  get closed(): Promise<void> {
    return this.channel.closed;
  }

  /**
   * Calls a remote function by path: the explicit form under the proxy,
   * with keyword arguments and call options.
   *
   * @param path Names joined by `/`, e.g. `"sub/mul"`.
   * @param args Positional arguments.
   * @param kwargs Keyword arguments (the `kwargs` map of the call).
   * @param options `signal` and `timeout` (milliseconds; default the
   *   client's `callTimeout`, `Infinity` for none).
   * @returns The result.
   * @throws {RemoteError} If the remote function failed or was not found.
   * @throws {ConnectionClosedError} If the connection closed first.
   * @throws {SerializationError} If an argument cannot be encoded.
   * @throws {DOMException} `TimeoutError` or `AbortError` when the call
   *   timed out or was aborted (its late reply is dropped).
   * @throws {TypeError} If `path` is empty, or `options` is not an object
   *   or its `signal` no `AbortSignal` (nothing is sent).
   * @throws {RangeError} If `options.timeout` is not a number of
   *   milliseconds from 0 up (nothing is sent).
   *
   * @example
   * ```ts
   * import { Channel, createMemoryPair, RpcClient, ServiceDict } from "@aiomas/aiomas";
   * import { expose } from "@aiomas/aiomas";
   * import assert from "node:assert/strict";
   *
   * const mul = expose((a: number, b = 1) => a * b, { params: ["a", "b"] });
   * const [a, b] = createMemoryPair();
   * await using server = new RpcClient(new Channel(b), {
   *   service: new ServiceDict({ sub: new ServiceDict({ mul }) }),
   * });
   * await using client = new RpcClient(new Channel(a));
   * assert.equal(await client.call("sub/mul", [6], { b: 7 }, { timeout: 1000 }), 42);
   * ```
   */
  call(
    path: string,
    args: readonly unknown[] = [],
    kwargs: Record<string, unknown> = EMPTY_KWARGS,
    options?: CallOptions,
  ): Promise<unknown> {
    if (path === "") {
      // As a proxy refuses it: the root is a service, not a function.
      return Promise.reject(
        new TypeError("Cannot call a remote service itself: name a method"),
      );
    }
    if (options !== undefined) {
      // Before anything is sent: a call that fails must not run remotely.
      try {
        checkCallOptions(options);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#send(path, args, kwargs, options);
  }

  #send(
    path: string,
    args: readonly unknown[],
    kwargs: Record<string, unknown>,
    options: CallOptions | undefined,
  ): Promise<unknown> {
    const sendOptions = options === undefined
      ? this.#defaults
      : this.#sendOptions(options);
    if (this.#telemetry !== undefined) {
      return this.#telemetry.send(path, [path, args, kwargs], sendOptions);
    }
    return this.channel.send([path, args, kwargs], sendOptions);
  }

  /** A call's own options over the client's `callTimeout`; `Infinity` is none. */
  #sendOptions(options: CallOptions): SendOptions {
    const timeout = options.timeout ?? this.#callTimeout;
    return {
      signal: options.signal,
      timeout: timeout === Infinity ? undefined : timeout,
    };
  }

  /**
   * Closes the connection gracefully; see `Channel.close`. Idempotent.
   *
   * @param options `timeout`: how long (ms) to wait for the peer's requests
   *   being served to be answered before the connection is cut.
   * @returns A promise that settles when everything is released.
   */
  close(options?: CloseOptions): Promise<void> {
    this.#closedLocally = true;
    return this.channel.close(options);
  }

  /**
   * Closes the connection (for `await using`).
   *
   * @returns A promise that settles when everything is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #referenceTo(value: object): string {
    // Services of this connection's own tree (for containers: its agents,
    // also through local proxies) travel as their path.
    return referencePath(this.service.pathOf(value), value, this);
  }

  async #serve(): Promise<void> {
    for (;;) {
      // The requests of one chunk are taken without a promise each.
      let request = this.channel.tryRecv();
      if (request === undefined) {
        try {
          request = await this.channel.recv();
        } catch {
          return; // The channel closed; `closed` says why.
        }
      }
      // The channel counts the requests not yet answered and stops
      // reading at its maxConcurrentRequests.
      this.#handle(request);
    }
  }

  /** Runs one call; a synchronous function is answered without a microtask. */
  #handle(request: Request): void {
    if (this.#telemetry !== undefined) {
      return this.#handleTraced(request, this.#telemetry);
    }
    let result: unknown;
    try {
      const call = checkCall(request.content);
      const path = call[0];
      const args = call[1];
      const kwargs = call[2];
      // Not cached: services change (agents come and go).
      const resolved = this.service.resolve(path);
      result = this.#invoke(
        request,
        resolved,
        bindArguments(resolved, args, kwargs),
      );
    } catch (error) {
      request.fail(asError(error)).catch(() => {});
      return;
    }
    if (!isPromise(result)) return reply(request, result);
    replyLater(request, result);
  }

  /** {@linkcode RpcClient.#handle} inside a server span. */
  #handleTraced(request: Request, telemetry: ConnectionTelemetry): void {
    let method = OTHER_METHOD;
    let resolved: Resolved;
    let bound: unknown[];
    try {
      const call = checkCall(request.content);
      resolved = this.service.resolve(call[0]);
      // Only paths the service has name metrics: a peer picks the others.
      method = call[0];
      bound = bindArguments(resolved, call[1], call[2]);
    } catch (error) {
      return failTraced(
        telemetry,
        request,
        telemetry.serve(method, request.traceContext),
        error,
      );
    }
    const served = telemetry.serve(method, request.traceContext);
    let result: unknown;
    try {
      result = telemetry.within(
        served,
        this.#invoke,
        this,
        request,
        resolved,
        bound,
      );
    } catch (error) {
      return failTraced(telemetry, request, served, error);
    }
    if (!isPromise(result)) {
      return replyTraced(telemetry, request, result, served);
    }
    replyLaterTraced(telemetry, request, result, served);
  }

  #invoke(request: Request, resolved: Resolved, bound: unknown[]): unknown {
    return resolved.options.context === true
      ? runInContext(
        this.#contextOf(request),
        resolved.fn,
        resolved.thisArg,
        bound,
      )
      : applyOutsideContext(resolved.fn, resolved.thisArg, bound);
  }

  /** What a handler marked `@expose({ context: true })` gets from `callContext()`. */
  #contextOf(request: Request): CallContext {
    return { signal: request.signal, peer: this.channel.peer };
  }
}
