import { Channel, type CloseOptions } from "../channel/channel.ts";
import type { CodecClass } from "../codecs/codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import { within } from "../channel/_within.ts";
import { ConnectionClosedError } from "../errors.ts";
import { createRemote } from "../rpc/_proxy.ts";
import { traceConnect } from "../rpc/_telemetry.ts";
import type { Remote } from "../rpc/remote.ts";
import { RpcClient, type RpcClientOptions } from "../rpc/rpc_client.ts";
import type { CallOptions } from "../rpc/with_options.ts";
import { sessionCodec } from "./_codec.ts";
import { checkRequestTimeout } from "./_session_options.ts";
import type { NatsOption } from "./nats_client.ts";
import { NatsEndpoint } from "./nats_endpoint.ts";
import type { NatsSessionOptions } from "./nats_transport.ts";

/** Options of {@linkcode connectNats}. */
export interface ConnectNatsOptions
  extends NatsSessionOptions, Omit<RpcClientOptions, "proxyFor"> {
  /** The NATS connection, or nats.js `connect` options (see `NatsEndpointOptions.nats`). */
  nats: NatsOption;
  /** The codec class. @default {JsonCodec} */
  codec?: CodecClass;
  /** Extra serializers, registered in this order (the server must agree). */
  serializers?: readonly SerializerSpec[];
  /** How long to wait for a server to answer a session hello, in milliseconds. @default {5000} */
  openTimeout?: number;
}

const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<
  string,
  unknown
>;

/**
 * A client of a service on a NATS subject, made by {@linkcode connectNats}:
 * calls go over a session with one server (of the queue group); when the
 * session ends (the server went away, a failover lost messages), its
 * pending calls reject with `ConnectionClosedError` and the next call
 * opens a new session, with whichever server answers then.
 */
export class NatsRpcClient<T = unknown> implements AsyncDisposable {
  /** The proxy of the service: same as `RpcClient.remote`. */
  readonly remote: Remote<T>;
  /** The endpoint sessions are opened from. */
  readonly endpoint: NatsEndpoint;
  /** The subject of the service. */
  readonly subject: string;
  #options: ConnectNatsOptions;
  #session: Promise<RpcClient<T>> | null = null;
  #current: RpcClient<T> | null = null;
  #closing: Promise<void> | null = null;

  /**
   * Wraps an endpoint; use {@linkcode connectNats}.
   *
   * @param endpoint The endpoint.
   * @param subject The service's subject.
   * @param options The options given to `connectNats`.
   */
  constructor(
    endpoint: NatsEndpoint,
    subject: string,
    options: ConnectNatsOptions,
  ) {
    this.endpoint = endpoint;
    this.subject = subject;
    this.#options = options;
    this.remote = createRemote(
      (path, args, options) => this.call(path, args, undefined, options),
      "",
      `RpcProxy('nats:${subject}')`,
    ) as Remote<T>;
  }

  /** The RPC client of the session open now, if any. */
  get client(): RpcClient<T> | null {
    return this.#current;
  }

  /**
   * Calls a remote function by path (see `RpcClient.call`), opening a
   * session first if none is open.
   *
   * @param path Names joined by `/`.
   * @param args Positional arguments.
   * @param kwargs Keyword arguments.
   * @param options `timeout` (milliseconds) and `signal`.
   * @returns The result.
   * @throws {RemoteError} If the remote function failed.
   * @throws {ConnectionClosedError} If no server listens on the subject
   *   (at once), or the session ended before the reply.
   */
  call(
    path: string,
    args: readonly unknown[] = [],
    kwargs: Record<string, unknown> = EMPTY,
    options?: CallOptions,
  ): Promise<unknown> {
    const current = this.#current;
    if (current !== null && !current.channel.isClosed) {
      return current.call(path, args, kwargs, options);
    }
    const timeout = options?.timeout ?? this.#options.callTimeout;
    const signal = options?.signal;
    if (timeout === undefined && signal === undefined) {
      return this.session().then((client) =>
        client.call(path, args, kwargs, options)
      );
    }
    // The call's deadline and signal count from now, the session's opening
    // included.
    const started = performance.now();
    return within(
      this.session(),
      timeout,
      signal,
      `Request to nats:${this.subject} (while its session opened)`,
      () => {},
    ).then((client) => {
      const left = timeout === undefined
        ? undefined
        : Math.max(0, timeout - (performance.now() - started));
      return client.call(path, args, kwargs, { ...options, timeout: left });
    });
  }

  /**
   * The open session, or a new one.
   *
   * @returns Its RPC client.
   * @throws {ConnectionClosedError} If no server answers, or this client is closed.
   */
  session(): Promise<RpcClient<T>> {
    if (this.#closing !== null) {
      return Promise.reject(
        new ConnectionClosedError(`Client of nats:${this.subject} is closed`),
      );
    }
    const current = this.#current;
    if (current !== null && !current.channel.isClosed) {
      return Promise.resolve(current);
    }
    if (this.#session === null) {
      const opening = this.#open();
      this.#session = opening;
      opening.then(
        (client) => (this.#current = client),
        () => {},
      ).finally(() => {
        if (this.#session === opening) this.#session = null;
      });
    }
    return this.#session;
  }

  async #open(): Promise<RpcClient<T>> {
    const options = this.#options;
    const codec = sessionCodec(options.codec, options.serializers);
    const peer = `nats:${this.subject}`;
    const transport = await traceConnect(
      peer,
      options.telemetry,
      () =>
        this.endpoint.open(this.subject, {
          timeout: options.openTimeout,
          peer,
        }),
    );
    if (this.#closing !== null) {
      transport.close();
      throw new ConnectionClosedError(
        `Client of nats:${this.subject} is closed`,
      );
    }
    const channel = new Channel(transport, { codec, peer: transport.peer });
    return new RpcClient<T>(channel, options);
  }

  /**
   * Closes the session and the endpoint. Idempotent.
   *
   * @param options `timeout`: how long (ms) to wait for the server's calls
   *   being served here before the session is cut.
   * @returns A promise that settles when everything is released.
   */
  close(options?: CloseOptions): Promise<void> {
    this.#closing ??= (async () => {
      await this.#current?.close(options);
      // Not waiting for a session being opened: closing the endpoint ends
      // it (its NATS request, on a connection of its own), and one that
      // opens after this is closed at once.
      await this.endpoint.close();
    })();
    return this.#closing;
  }

  /**
   * Closes the client (for `await using`).
   *
   * @returns A promise that settles when everything is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Connects to a service on a NATS subject ({@linkcode serveNats}): the
 * same typed proxy as `rpc.openConnection`, over a session with one
 * server of the subject (one member of its queue group).
 *
 * @typeParam T The service's type, for a typed `client.remote`.
 * @param subject The service's subject.
 * @param options The connection, codec, serializers, a `service` to serve
 *   back; see {@linkcode ConnectNatsOptions}.
 * @returns The client, with its first session open.
 * @throws {ConnectionClosedError} If nobody serves the subject (at once,
 *   by NATS's no-responders) or no server answers within `openTimeout`.
 * @throws {RangeError} For an `openTimeout` below 1 ms or not a number.
 * @throws {Error} If NATS cannot be reached.
 *
 * @example
 * ```ts ignore
 * import { connectNats } from "@aiomas/aiomas/nats";
 *
 * await using client = await connectNats<{ add(a: number, b: number): number }>(
 *   "math",
 *   { nats: { servers: "127.0.0.1:4222" } },
 * );
 * console.log(await client.remote.add(1, 2));
 * ```
 */
export async function connectNats<T = unknown>(
  subject: string,
  options: ConnectNatsOptions,
): Promise<NatsRpcClient<T>> {
  sessionCodec(options.codec, options.serializers);
  checkRequestTimeout("openTimeout", options.openTimeout);
  const endpoint = await NatsEndpoint.create({
    ...options,
    subject: undefined,
  });
  const client = new NatsRpcClient<T>(endpoint, subject, options);
  try {
    await client.session();
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}
