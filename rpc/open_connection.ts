import {
  openConnection as openChannel,
  type OpenConnectionOptions,
} from "../channel/open_connection.ts";
import type { Address } from "../channel/_connect.ts";
import { RpcClient, type RpcClientOptions } from "./rpc_client.ts";

/** Options of the RPC {@linkcode openConnection}: the channel's and the client's. */
export interface RpcOpenConnectionOptions
  extends OpenConnectionOptions, Omit<RpcClientOptions, "proxyFor"> {}

/**
 * Connects to an RPC server (aiomas `rpc.open_connection`).
 *
 * @typeParam T The server's service type, for a typed `client.remote`.
 * @param addr `{hostname, port}`, `["host", port]` or a Unix socket path.
 * @param options Codec, serializers, TLS, retrying, and a `service` to
 *   serve to the server on the same connection.
 * @returns The client.
 * @throws {TypeError} For a malformed address.
 * @throws {Deno.errors.ConnectionRefused} If no server answered within `timeout`.
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
 * await using server = await rpc.startServer({ hostname: "127.0.0.1", port: 0 }, new MathServer());
 * await using client = await rpc.openConnection<MathServer>(server.addr);
 * assert.equal(await client.remote.add(3, 4), 7);
 * ```
 */
export async function openConnection<T = unknown>(
  addr: Address,
  options: RpcOpenConnectionOptions = {},
): Promise<RpcClient<T>> {
  const channel = await openChannel(addr, options);
  return new RpcClient<T>(channel, options);
}
