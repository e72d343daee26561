import type { Address } from "../channel/address.ts";
import type { CloseOptions } from "../channel/channel.ts";
import {
  type Server,
  startServer as startChannelServer,
  type StartServerOptions,
} from "../channel/start_server.ts";
import { RpcClient, type RpcClientOptions } from "./rpc_client.ts";
import { checkTimeout } from "./with_options.ts";

/**
 * Options of the RPC {@linkcode startServer}: the channel server's
 * (`StartServerOptions`: codec, serializers, TLS, `handshakeTimeout`,
 * limits, `errorFormat`) and those of each connection's client
 * (`RpcClientOptions`: `callTimeout` for calls back to the connecting side,
 * `onConnectionReset`). Every time is in milliseconds.
 */
export interface RpcStartServerOptions
  extends
    Omit<StartServerOptions, "onError">,
    Omit<RpcClientOptions, "service" | "proxyFor"> {
  /** Called with the client of each new connection, e.g. to call it back. */
  onConnection?: (client: RpcClient) => void;
}

/**
 * An RPC server made by {@linkcode startServer}: serves one service to
 * every connection. Closing it stops listening and closes every connection.
 */
export class RpcServer implements AsyncDisposable {
  #server: Server;
  #clients: Set<RpcClient>;
  #onClose: (() => void) | undefined;

  /**
   * Wraps a channel server; use {@linkcode startServer}.
   *
   * @param server The channel server.
   * @param clients The set the server keeps its connections' clients in.
   * @param onClose Called when `close()` starts.
   */
  constructor(
    server: Server,
    clients: Set<RpcClient>,
    onClose?: () => void,
  ) {
    this.#server = server;
    this.#clients = clients;
    this.#onClose = onClose;
  }

  /**
   * The address it listens on, which `openConnection` takes:
   * `{ hostname, port }` (for port 0, the port it really got) or `{ path }`
   * for a Unix socket.
   */
  get addr(): { hostname: string; port: number } | { path: string } {
    return this.#server.addr;
  }

  /** The clients of the connections that are open now. */
  get clients(): ReadonlySet<RpcClient> {
    return this.#clients;
  }

  /** Resolves when the server has closed. */
  get closed(): Promise<void> {
    return this.#server.closed;
  }

  /**
   * Stops listening and closes every connection gracefully. Idempotent.
   *
   * @param options `timeout`: how long (ms) each connection waits for the
   *   requests being served to be answered before it is cut.
   * @returns A promise that settles when everything is released.
   */
  close(options?: CloseOptions): Promise<void> {
    this.#onClose?.();
    return this.#server.close(options);
  }

  /**
   * Closes the server (for `await using`).
   *
   * @returns A promise that settles when everything is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Serves `service` to every connection (aiomas `rpc.start_server`).
 *
 * @param addr Where to listen, in any form of `Address`: `"host:port"`,
 *   `{ hostname, port }` or `["host", port]` (port 0 picks a free port),
 *   `"unix:/path/to.sock"` or `{ path }`.
 * @param service An object with `@expose` members, a `Service` or a `ServiceDict`.
 * @param options Codec, serializers, TLS, limits, `callTimeout` and
 *   `onConnection`; see {@linkcode RpcStartServerOptions}.
 * @returns The server.
 * @throws {TypeError} For a malformed address.
 * @throws {RangeError} For a negative `callTimeout`.
 * @throws {Deno.errors.AddrInUse} If the address is taken (the message
 *   names it).
 *
 * @example
 * ```ts
 * import { rpc, ServiceDict } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * const service = new ServiceDict({ add: (a: number, b: number) => a + b });
 * await using server = await rpc.startServer("127.0.0.1:0", service);
 * await using client = await rpc.openConnection(server.addr);
 * assert.equal(await client.remote.add(1, 2), 3);
 * ```
 */
export async function startServer(
  addr: Address,
  service: object,
  options: RpcStartServerOptions = {},
): Promise<RpcServer> {
  // Here, not when the first client connects.
  checkTimeout(options.callTimeout, "callTimeout");
  const clients = new Set<RpcClient>();
  const onReset = options.onConnectionReset;
  // Closing the server closes its connections locally, which is no reset
  // (the channel server closes them, not RpcClient.close()).
  let closing = false;
  const server = await startChannelServer(addr, (channel) => {
    const client = new RpcClient(channel, {
      ...options,
      service,
      onConnectionReset: onReset && ((error) => closing || onReset(error)),
    });
    clients.add(client);
    channel.closed.catch(() => {}).finally(() => clients.delete(client));
    options.onConnection?.(client);
  }, options);
  return new RpcServer(server, clients, () => closing = true);
}
