import type { CodecClass } from "../codecs/codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import { createCodec } from "./_codec.ts";
import type { Address, ConnectTlsOptions } from "./_connect.ts";
import {
  connTransport,
  dial,
  formatAddress,
  parseAddress,
} from "./_connect.ts";
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
   * How long to keep retrying a refused connection, in **seconds** as in
   * aiomas: `0` tries once, `Infinity` retries forever. Retries wait 0.5 s,
   * then 1.5 times longer each time, at most 30 s.
   *
   * @default {0}
   */
  timeout?: number;
  /** Stops connecting (and retrying) when aborted. */
  signal?: AbortSignal;
}

/**
 * Connects to a server and returns a channel over the connection.
 *
 * @param addr `{hostname, port}`, `["host", port]` or a Unix socket path.
 * @param options Codec, serializers, TLS, retrying; see {@linkcode OpenConnectionOptions}.
 * @returns The channel.
 * @throws {TypeError} For a malformed address, or a class twice in `serializers`.
 * @throws {Deno.errors.ConnectionRefused} (or `NotFound` for Unix sockets)
 *   when no server answered within `timeout`.
 * @throws {Deno.errors.InvalidData} If the TLS handshake fails (e.g. the
 *   server's certificate is not trusted).
 *
 * @example
 * ```ts
 * import { openConnection, startServer } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * await using server = await startServer({ hostname: "127.0.0.1", port: 0 }, async (channel) => {
 *   for await (const request of channel) await request.reply(`${request.content} back`);
 * });
 * await using channel = await openConnection(server.addr);
 * assert.equal(await channel.send("ohai"), "ohai back");
 * ```
 */
export async function openConnection(
  addr: Address,
  options: OpenConnectionOptions = {},
): Promise<Channel> {
  const parsed = parseAddress(addr);
  // Before dialing, so that bad serializers do not leave a connection open.
  const codec = createCodec(options.codec, options.serializers);
  const conn = await dialWithRetry(
    options,
    () => dial(parsed, options.tls, options.signal),
  );
  return new Channel(connTransport(conn), {
    ...options,
    codec,
    peer: formatAddress(conn.remoteAddr),
  });
}

const RETRYABLE = [
  Deno.errors.ConnectionRefused,
  Deno.errors.NotFound,
  Deno.errors.ConnectionReset,
];

async function dialWithRetry(
  options: OpenConnectionOptions,
  connect: () => Promise<Deno.Conn>,
): Promise<Deno.Conn> {
  const deadline = performance.now() + (options.timeout ?? 0) * 1000;
  let wait = 0.5;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      return await connect();
    } catch (error) {
      const retryable = RETRYABLE.some((type) => error instanceof type);
      const remaining = deadline - performance.now();
      if (!retryable || remaining <= 0) throw error;
      await delay(Math.min(wait * 1000, remaining), options.signal);
      wait = Math.min(wait * 1.5, 30);
    }
  }
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
