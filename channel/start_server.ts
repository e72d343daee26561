import type { CodecClass } from "../codecs/codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import { callHook } from "./_hook.ts";
import { checkChannelOptions, checkTimeout } from "./_channel_options.ts";
import { createCodec } from "./_codec.ts";
import type { ListenTlsOptions } from "./_connect.ts";
import { type Acceptor, listen, ListenerClosed } from "./_listener.ts";
import { type Address, parseAddress } from "./address.ts";
import { Channel, type ChannelOptions, type CloseOptions } from "./channel.ts";

/**
 * Milliseconds a TLS client has to complete its handshake: the default of
 * `StartServerOptions.handshakeTimeout`.
 *
 * @example
 * ```ts
 * import { DEFAULT_HANDSHAKE_TIMEOUT } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEFAULT_HANDSHAKE_TIMEOUT, 10_000);
 * ```
 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Options of {@linkcode startServer}. */
export interface StartServerOptions
  extends Omit<ChannelOptions, "codec" | "peer"> {
  /** The codec class; every connection makes its own instance. @default {JsonCodec} */
  codec?: CodecClass;
  /** Extra serializers, registered in this order on every connection. */
  serializers?: readonly SerializerSpec[];
  /** Listen with TLS (TCP addresses only). */
  tls?: ListenTlsOptions;
  /**
   * With `tls`: milliseconds a client has to complete the TLS handshake
   * before its connection is closed. Clients that are still handshaking
   * hold no channel and do not delay other clients. Above 0; `Infinity`
   * waits forever.
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * With `tls`: called when a client's TLS handshake fails (e.g. no client
   * certificate from `clientCaCerts`, a cleartext client) or outlasts
   * `handshakeTimeout`, with the error (named as Deno's sockets name
   * theirs: `TLS handshake with <peer> failed: …`, or e.g. `Connection
   * reset by peer: <peer>`; TLS's own as its `cause`) and the client's
   * `host:port`. The
   * connection is closed either way; no channel was made for it. What it
   * throws is logged with `console.error`.
   *
   * @default {undefined} (nothing is reported)
   */
  onHandshakeError?: (error: Error, peer: string) => void;
  /**
   * How many accepted connections may be open at once. A connection
   * accepted beyond it is closed at once, before a channel is made for it
   * (the client sees the connection end), and reported to
   * `onConnectionRefused`. What a server holds grows with its connections
   * (see docs/guarantees.md): this bounds it against a peer that opens
   * many. Over TLS a connection counts from the moment it is accepted:
   * one whose handshake is under way holds a place (and a TLS socket, for
   * up to `handshakeTimeout`), and one beyond the limit is closed before
   * its handshake. A whole number from 1 up, or `Infinity`.
   *
   * @default {Infinity}
   */
  maxConnections?: number;
  /**
   * Called with the client's address (`host:port`, or the Unix socket's)
   * for each connection closed because `maxConnections` were open. What it
   * throws is logged with `console.error`.
   *
   * @default {undefined} (nothing is reported)
   */
  onConnectionRefused?: (peer: string) => void;
  /**
   * Called when a connection handler throws; the connection is closed.
   * What it throws in turn is logged with `console.error`.
   *
   * @default {logs with console.error}
   */
  onError?: (error: unknown, channel: Channel) => void;
}

/** Handles one accepted connection. */
export type ConnectionHandler = (channel: Channel) => void | Promise<void>;

/**
 * A listening server made by {@linkcode startServer}.
 *
 * Closing it stops listening and closes every connection it accepted.
 */
export class Server implements AsyncDisposable {
  /**
   * The address it listens on, an {@linkcode Address} that
   * `openConnection` takes: `{ hostname, port }` (for port 0, the port it
   * really got) or `{ path }` for a Unix socket.
   */
  readonly addr: { hostname: string; port: number } | { path: string };
  #acceptor: Acceptor;
  #channels = new Set<Channel>();
  #closed = Promise.withResolvers<void>();
  #closing: Promise<void> | null = null;
  #acceptLoop: Promise<void>;
  #retry: PromiseWithResolvers<void> | null = null;

  /**
   * Wraps a listener; use {@linkcode startServer}.
   *
   * @param acceptor The listener.
   * @param options What to do with each connection.
   */
  constructor(
    acceptor: Acceptor,
    options: StartServerOptions & { handler: ConnectionHandler },
  ) {
    this.#acceptor = acceptor;
    this.addr = acceptor.addr;
    this.#acceptLoop = this.#accept(options);
  }

  /** Resolves when the server has closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** The connections that are open now. */
  get channels(): ReadonlySet<Channel> {
    return this.#channels;
  }

  /**
   * Stops listening and closes every open connection gracefully (see
   * `Channel.close`). Idempotent.
   *
   * @param options `timeout` for each connection's graceful close.
   * @returns A promise that settles when everything is released.
   */
  close(options?: CloseOptions): Promise<void> {
    this.#closing ??= (async () => {
      this.#acceptor.close();
      this.#retry?.resolve();
      await this.#acceptLoop;
      // A Unix socket's file goes with its listener (Deno unlinks it when
      // the pending accept ends, by the end of the accept loop): removing
      // the path after that would take it from a server that listens
      // there since.
      await Promise.all(
        [...this.#channels].map((channel) => channel.close(options)),
      );
      this.#closed.resolve();
    })();
    return this.#closing;
  }

  /**
   * Closes the server (for `await using`).
   *
   * @returns A promise that settles when everything is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(
    options: StartServerOptions & { handler: ConnectionHandler },
  ): Promise<void> {
    const {
      codec: codecClass,
      serializers,
      tls: _tls,
      handshakeTimeout: _handshakeTimeout,
      onHandshakeError: _onHandshakeError,
      maxConnections = Infinity,
      onConnectionRefused,
      onError = (error: unknown) =>
        console.error("aiomas: connection handler failed:", error),
      handler,
      ...channelOptions
    } = options;
    while (this.#closing === null) {
      let accepted;
      try {
        accepted = await this.#acceptor.accept();
      } catch (error) {
        if (error instanceof ListenerClosed || this.#closing !== null) return;
        // E.g. out of file descriptors: keep serving, after a pause.
        console.error("aiomas: accepting a connection failed:", error);
        await this.#pause(100);
        continue;
      }
      // Held or refused below, in this same turn.
      accepted.taken?.();
      if (this.#channels.size >= maxConnections) {
        // Accepted sockets (TCP, Unix, TLS) all have a close.
        accepted.transport.close?.();
        if (onConnectionRefused !== undefined) {
          callHook(
            "onConnectionRefused",
            onConnectionRefused,
            accepted.peer,
          );
        }
        continue;
      }
      const codec = createCodec(
        codecClass,
        serializers,
        channelOptions.maxFrameSize,
      );
      const channel = new Channel(accepted.transport, {
        ...channelOptions,
        codec,
        peer: accepted.peer,
      });
      this.#channels.add(channel);
      channel.closed.catch(() => {}).finally(() =>
        this.#channels.delete(channel)
      );
      this.#run(handler, channel, onError);
    }
  }

  /** Waits `ms` milliseconds, or less if the server closes. */
  async #pause(ms: number): Promise<void> {
    this.#retry = Promise.withResolvers<void>();
    const timer = setTimeout(this.#retry.resolve, ms);
    await this.#retry.promise;
    clearTimeout(timer);
    this.#retry = null;
  }

  async #run(
    handler: ConnectionHandler,
    channel: Channel,
    onError: (error: unknown, channel: Channel) => void,
  ): Promise<void> {
    try {
      await handler(channel);
    } catch (error) {
      callHook("onError", onError, error, channel);
      await channel.close();
    }
  }
}

/**
 * Listens for connections and calls `handler` with a channel for each.
 *
 * @param addr Where to listen, in any form of {@linkcode Address}:
 *   `"host:port"`, `{ hostname, port }`, `["host", port]` (port 0 picks a
 *   free port), `"unix:/path/to.sock"` or `{ path }`.
 * @param handler Serves one connection; when it throws, the connection closes.
 * @param options Codec, serializers, TLS and its `handshakeTimeout`, and the
 *   channel options of every connection; see {@linkcode StartServerOptions}.
 * @returns The server; its `addr` has the real port.
 * @throws {TypeError} For a malformed address (the message lists the
 *   accepted forms), TLS with a Unix address, a TLS `cert` or `key` that is
 *   missing, does not parse or does not match (or a `clientCaCerts` entry
 *   that does not parse), or a class twice in `serializers`.
 * @throws {RangeError} If `handshakeTimeout` is not a number above 0,
 *   `maxConnections` not a whole number from 1 up (or `Infinity`), or a
 *   channel option is out of range (e.g. `maxFrameSize: 0`).
 * @throws {Deno.errors.AddrInUse} If the address is taken; the message
 *   names it, e.g. `Address already in use: 127.0.0.1:5555 (os error 98)`.
 *   A Unix socket file is taken while a server answers on it; one left by
 *   a server that is gone is replaced.
 *
 * @example
 * ```ts
 * import { openConnection, startServer } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * await using server = await startServer("127.0.0.1:0", async (channel) => {
 *   const request = await channel.recv();
 *   await request.reply("cya");
 * });
 * assert.ok("port" in server.addr && server.addr.port > 0);
 * await using channel = await openConnection(server.addr);
 * assert.equal(await channel.send("ohai"), "cya");
 * ```
 */
export async function startServer(
  addr: Address,
  handler: ConnectionHandler,
  options: StartServerOptions = {},
): Promise<Server> {
  const parsed = parseAddress(addr);
  // 0 is no choice here: node reads it as its default of 120 s.
  if (options.handshakeTimeout !== undefined) {
    checkTimeout(options.handshakeTimeout, "handshakeTimeout");
  }
  checkChannelOptions(options);
  const maxConnections = options.maxConnections;
  if (
    maxConnections !== undefined && maxConnections !== Infinity &&
    !(Number.isInteger(maxConnections) && maxConnections >= 1)
  ) {
    throw new RangeError(
      `maxConnections must be a whole number from 1 up, or Infinity; got ${
        String(maxConnections)
      }`,
    );
  }
  // Fail here on bad serializers, not in the accept loop at the first client.
  createCodec(options.codec, options.serializers, options.maxFrameSize);
  // The server is made once listening: `admits` finds it here.
  const made: { server?: Server } = {};
  const { onConnectionRefused } = options;
  const acceptor = await listen(parsed, options.tls, {
    handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    onHandshakeError: options.onHandshakeError,
    admits: maxConnections === undefined || maxConnections === Infinity
      ? undefined
      : (waiting) =>
        (made.server?.channels.size ?? 0) + waiting < maxConnections,
    onRefused: onConnectionRefused === undefined
      ? undefined
      : (peer) => callHook("onConnectionRefused", onConnectionRefused, peer),
  });
  made.server = new Server(acceptor, { ...options, handler });
  return made.server;
}
