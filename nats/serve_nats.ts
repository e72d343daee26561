import { Channel, type CloseOptions } from "../channel/channel.ts";
import type { CodecClass } from "../codecs/codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import { RpcClient, type RpcClientOptions } from "../rpc/rpc_client.ts";
import { sessionCodec } from "./_codec.ts";
import type { NatsOption } from "./nats_client.ts";
import { NatsEndpoint } from "./nats_endpoint.ts";
import type { NatsSessionOptions } from "./nats_transport.ts";

/** Options of {@linkcode serveNats}. */
export interface ServeNatsOptions
  extends NatsSessionOptions, Omit<RpcClientOptions, "service" | "proxyFor"> {
  /** The NATS connection, or nats.js `connect` options (see `NatsEndpointOptions.nats`). */
  nats: NatsOption;
  /** The subject to serve on, e.g. `"math"`. */
  subject: string;
  /**
   * A queue group: every server of the group on `subject` takes a share
   * of the clients (each client's session goes to one of them).
   */
  queue?: string;
  /** The codec class of every session. @default {JsonCodec} */
  codec?: CodecClass;
  /** Extra serializers, registered in this order (clients must agree). */
  serializers?: readonly SerializerSpec[];
  /** Called with the RPC client of each new session, e.g. to call it back. */
  onConnection?: (client: RpcClient) => void;
  /** How many sessions may be open at once. @default {1024} */
  maxSessions?: number;
}

/**
 * A service served on a NATS subject by {@linkcode serveNats}. Closing it
 * stops accepting and closes every session.
 */
export class NatsRpcServer implements AsyncDisposable {
  /** The endpoint that accepts the sessions. */
  readonly endpoint: NatsEndpoint;
  #clients: Set<RpcClient>;
  #closing: Promise<void> | null = null;

  /**
   * Wraps an endpoint; use {@linkcode serveNats}.
   *
   * @param endpoint The endpoint.
   * @param clients The set the server keeps its sessions' clients in.
   */
  constructor(endpoint: NatsEndpoint, clients: Set<RpcClient>) {
    this.endpoint = endpoint;
    this.#clients = clients;
  }

  /** The subject served on. */
  get subject(): string {
    return this.endpoint.subject!;
  }

  /** The clients of the sessions open now. */
  get clients(): ReadonlySet<RpcClient> {
    return this.#clients;
  }

  /**
   * Stops accepting, closes every session gracefully, then the endpoint.
   * Idempotent.
   *
   * @param options `timeout`: how long (ms) each session waits for the
   *   calls being served before it is cut.
   * @returns A promise that settles when everything is released.
   */
  close(options?: CloseOptions): Promise<void> {
    this.#closing ??= (async () => {
      // New clients go to the other servers of the queue group meanwhile.
      this.endpoint.stopAccepting();
      await Promise.all([...this.#clients].map((c) => c.close(options)));
      await this.endpoint.close();
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
}

/**
 * Serves `service` on a NATS subject: each client ({@linkcode connectNats})
 * gets a session of its own (a channel over NATS), with calls both ways,
 * references and serializers as over TCP. Servers in one `queue` group
 * share the clients.
 *
 * @param service An object with `@expose` members, a `Service` or a `ServiceDict`.
 * @param options The connection, subject, queue group, codec; see {@linkcode ServeNatsOptions}.
 * @returns The server.
 * @throws {TypeError} For an invalid subject.
 * @throws {Error} If NATS cannot be reached.
 *
 * @example
 * ```ts ignore
 * import { connectNats, serveNats } from "@aiomas/aiomas/nats";
 * import { ServiceDict } from "@aiomas/aiomas";
 *
 * const nats = { servers: "127.0.0.1:4222" };
 * await using server = await serveNats(
 *   new ServiceDict({ add: (a: number, b: number) => a + b }),
 *   { nats, subject: "math", queue: "math" },
 * );
 * await using client = await connectNats("math", { nats });
 * console.log(await client.remote.add(1, 2)); // 3
 * ```
 */
export async function serveNats(
  service: object,
  options: ServeNatsOptions,
): Promise<NatsRpcServer> {
  const clients = new Set<RpcClient>();
  // Checked before connecting, as with a socket server.
  sessionCodec(options.codec, options.serializers);
  const endpoint = await NatsEndpoint.create({
    ...options,
    onSession: (transport, hello) => {
      const channel = new Channel(transport, {
        codec: sessionCodec(options.codec, options.serializers),
        peer: hello.from === "" ? transport.peer : hello.from,
      });
      const client = new RpcClient(channel, { ...options, service });
      clients.add(client);
      channel.closed.catch(() => {}).finally(() => clients.delete(client));
      options.onConnection?.(client);
    },
  });
  return new NatsRpcServer(endpoint, clients);
}
