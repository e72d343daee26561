import {
  type Address,
  formatAddress,
  parseAddress,
} from "../channel/address.ts";
import {
  openConnection as openChannel,
  type OpenConnectionOptions,
} from "../channel/open_connection.ts";
import { traceConnect } from "./_telemetry.ts";
import { RpcClient, type RpcClientOptions } from "./rpc_client.ts";
import { checkTimeout } from "./with_options.ts";

/**
 * Options of the RPC {@linkcode openConnection}: the channel's
 * (`OpenConnectionOptions`: codec, serializers, TLS, the connect deadline
 * `timeout` and `retry`, `signal`, limits, `errorFormat`) and the client's
 * (`RpcClientOptions`: `service`, `callTimeout`, `onConnectionReset`,
 * `telemetry`).
 * Every time is in milliseconds.
 */
export interface RpcOpenConnectionOptions
  extends OpenConnectionOptions, Omit<RpcClientOptions, "proxyFor"> {}

/**
 * Connects to an RPC server (aiomas `rpc.open_connection`).
 *
 * `timeout` bounds the connect (attempts, retries and TLS handshake);
 * `callTimeout` bounds each call made through the client afterwards. Both
 * are milliseconds; neither is set by default.
 *
 * @typeParam T The server's service type, for a typed `client.remote`.
 * @param addr Where to connect, in any form of `Address`: `"host:port"`,
 *   `{ hostname, port }`, `["host", port]`, `"unix:/path/to.sock"` or
 *   `{ path }`.
 * @param options Codec, serializers, TLS, deadline and retrying, call
 *   timeout, and a `service` to serve to the server on the same
 *   connection; see {@linkcode RpcOpenConnectionOptions}.
 * @returns The client.
 * @throws {TypeError} For a malformed address.
 * @throws {RangeError} For a negative `timeout` or `callTimeout`.
 * @throws {Deno.errors.ConnectionRefused} If no server answered (the
 *   message names the address).
 * @throws {DOMException} `TimeoutError` when `timeout` passes first, or the
 *   `signal`'s reason when it aborts.
 *
 * @example
 * ```ts
 * import { expose, rpc } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * class MathServer {
 *   @expose add(a: number, b: number): number {
 *     return a + b;
 *   }
 * }
 * await using server = await rpc.startServer("127.0.0.1:0", new MathServer());
 * await using client = await rpc.openConnection<MathServer>(server.addr, {
 *   timeout: 5_000, // connecting may take at most 5 s
 *   callTimeout: 10_000, // and each call at most 10 s
 * });
 * assert.equal(await client.remote.add(3, 4), 7);
 * ```
 */
export async function openConnection<T = unknown>(
  addr: Address,
  options: RpcOpenConnectionOptions = {},
): Promise<RpcClient<T>> {
  // Before connecting, so that a bad option leaves no connection behind.
  checkTimeout(options.callTimeout, "callTimeout");
  // With a tracer provider, connecting is a span `aiomas.connect`.
  const channel = await traceConnect(
    formatAddress(parseAddress(addr)),
    options.telemetry,
    () => openChannel(addr, options),
  );
  try {
    return new RpcClient<T>(channel, options);
  } catch (error) {
    await channel.close({ timeout: 0 });
    throw error;
  }
}
