import type { CodecClass } from "../codecs/codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import { checkChannelOptions } from "./_channel_options.ts";
import { createCodec } from "./_codec.ts";
import { connect, type ConnectTlsOptions } from "./_connect.ts";
import { type Address, formatAddress, parseAddress } from "./address.ts";
import { Channel, type ChannelOptions } from "./channel.ts";

/** Options of {@linkcode openConnection}. */
export interface OpenConnectionOptions
  extends Omit<ChannelOptions, "codec" | "peer"> {
  /** The codec class; the connection makes its own instance. @default {JsonCodec} */
  codec?: CodecClass;
  /** Extra serializers, registered in this order (both ends must agree). */
  serializers?: readonly SerializerSpec[];
  /** Connect with TLS (TCP addresses only). */
  tls?: ConnectTlsOptions;
  /**
   * Deadline in milliseconds for the whole connect: every attempt, the
   * waits between retries and the TLS handshake. When it passes, the
   * promise rejects with a `TimeoutError` `DOMException` that names the
   * address. `0` gives up at once; `Infinity` (or any value beyond
   * 2^31 - 1 ms) means no deadline. Without a deadline or `signal`, a
   * server that accepts and never answers the TLS handshake keeps the
   * promise pending.
   *
   * @default {undefined} (no deadline)
   */
  timeout?: number;
  /**
   * Retry a refused connection (or a missing Unix socket) as aiomas does:
   * after 0.5 s, then 1.5 times longer each time, at most 30 s apart, until
   * it succeeds or `timeout` or `signal` ends it. Without a `timeout` or
   * `signal`, it retries forever.
   *
   * @default {false}
   */
  retry?: boolean;
  /** Stops connecting (and retrying, and the TLS handshake) when aborted; the promise rejects with the reason. */
  signal?: AbortSignal;
}

/**
 * Connects to a server and returns a channel over the connection.
 *
 * @param addr Where to connect, in any form of {@linkcode Address}:
 *   `"host:port"`, `{ hostname, port }`, `["host", port]`,
 *   `"unix:/path/to.sock"` or `{ path }`.
 * @param options Codec, serializers, TLS, deadline and retrying; see
 *   {@linkcode OpenConnectionOptions}.
 * @returns The channel.
 * @throws {TypeError} For a malformed address (the message lists the
 *   accepted forms), TLS with a Unix address, a TLS `cert` without `key`
 *   (or the other way round), one that does not parse or match, a
 *   `caCerts` entry that does not parse, a class twice in `serializers`, or
 *   an unknown `errorFormat`.
 * @throws {RangeError} If `timeout` is negative or not a number, or a
 *   channel option is out of range (checked before connecting).
 * @throws {Deno.errors.ConnectionRefused} (or `NotFound` for Unix sockets)
 *   when no server answered; the message names the address, e.g.
 *   `Connection refused: 127.0.0.1:5555 (os error 111)`.
 * @throws {Deno.errors.InvalidData} If the TLS handshake fails (e.g. the
 *   server's certificate is not trusted): `TLS handshake with … failed: …`.
 * @throws {DOMException} `TimeoutError` when `timeout` passes first, or the
 *   `signal`'s reason (by default an `AbortError`) when it aborts.
 *
 * @example
 * ```ts
 * import { openConnection, startServer } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * await using server = await startServer("127.0.0.1:0", async (channel) => {
 *   for await (const request of channel) await request.reply(`${request.content} back`);
 * });
 * await using channel = await openConnection(server.addr, { timeout: 5_000 });
 * assert.equal(await channel.send("ohai"), "ohai back");
 * ```
 */
export async function openConnection(
  addr: Address,
  options: OpenConnectionOptions = {},
): Promise<Channel> {
  const parsed = parseAddress(addr);
  const {
    codec: codecClass,
    serializers,
    tls,
    timeout,
    retry,
    signal,
    ...channelOptions
  } = options;
  // Before dialing, so that bad options or serializers do not leave a
  // connection open.
  checkChannelOptions(channelOptions);
  const codec = createCodec(
    codecClass,
    serializers,
    channelOptions.maxFrameSize,
  );
  const transport = await connect(parsed, { tls, timeout, retry, signal });
  return new Channel(transport, {
    ...channelOptions,
    codec,
    peer: formatAddress(parsed),
  });
}
