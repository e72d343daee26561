import {
  type Address,
  parseAddress,
  type ParsedAddress,
} from "../channel/address.ts";
import { Channel } from "../channel/channel.ts";
import { type Server, startServer } from "../channel/start_server.ts";
import type { Transport } from "../channel/transport.ts";
import type { Codec } from "../codecs/codec.ts";
import { ConnectionClosedError } from "../errors.ts";
import { report } from "./_peers.ts";
import { DATE_SERIALIZER } from "./_date_serializer.ts";
import { natsNameOf, NatsPresence } from "./_nats_presence.ts";
import { containerAddress } from "./agent_address.ts";
import type { ContainerOptions } from "./container_options.ts";

/**
 * How each local container of this process serves an in-memory connection
 * from the container at `from`, by name.
 */
const localContainers = new Map<
  string,
  (transport: Transport, from: string) => void
>();

/**
 * Serves one end of an in-memory pair in the local container `name`; the
 * other end is the container at `from`'s.
 *
 * @returns Whether there is such a container.
 */
export function acceptLocal(
  name: string,
  transport: Transport,
  from: string,
): boolean {
  const accept = localContainers.get(name);
  accept?.(transport, from);
  return accept !== undefined;
}

/** Serves a connection from another container; `peer` names it. */
export type Accept = (channel: Channel, peer: string) => void;

/**
 * Where a container is reachable: its TCP or Unix server, its name in
 * this process, its name on NATS (any of them, or none for a Worker's).
 */
export class Listening {
  /** The container's address. */
  readonly addr: string;
  /** The container's presence on NATS, if it has one. */
  readonly nats: NatsPresence | undefined;
  #server: Server | undefined;
  #localName: string | undefined;

  constructor(
    addr: string,
    server: Server | undefined,
    localName: string | undefined,
    nats: NatsPresence | undefined,
  ) {
    this.addr = addr;
    this.#server = server;
    this.#localName = localName;
    this.nats = nats;
  }

  /** Whether the container address `container` is one of this container's. */
  isSelf(container: string): boolean {
    return container === this.addr || container === this.nats?.addr;
  }

  /** Gives up the local name at once: later local connects fail. */
  unlist(): void {
    if (this.#localName !== undefined) localContainers.delete(this.#localName);
    this.#localName = undefined;
  }

  /**
   * Stops the server, and the NATS presence once `connectionsClosed`
   * settles (so that the sessions under them end gracefully).
   */
  async close(connectionsClosed: Promise<void>): Promise<void> {
    this.unlist();
    await Promise.all([
      this.#server?.close(),
      connectionsClosed.catch(() => {}).then(() => this.nats?.close()),
    ]);
  }
}

/**
 * Makes a container reachable at `addr` (see `Container.create`), and on
 * NATS too with `options.nats`; `accept` serves what connects, and
 * `newCodec` makes the codecs of the channels made here.
 *
 * @throws {TypeError} For a malformed address or NATS options, a local or
 *   NATS name in use.
 * @throws {Deno.errors.AddrInUse} If the address is taken.
 */
export async function listen(
  addr: Address,
  options: ContainerOptions,
  accept: Accept,
  newCodec: () => Codec,
): Promise<Listening> {
  const natsName = natsNameOf(addr, options.nats);
  const serveTransport = (transport: Transport, peer: string) =>
    accept(
      new Channel(transport, {
        codec: newCodec(),
        peer,
        maxFrameSize: options.maxFrameSize,
      }),
      peer,
    );
  let own: string;
  let server: Server | undefined;
  let localName: string | undefined;
  if (typeof addr === "string" && addr.startsWith("nats://")) {
    own = containerAddress({ nats: natsName! });
  } else if (typeof addr === "string" && addr.startsWith("worker://")) {
    // Reached only over links attached by startContainerWorker.
    own = containerAddress({ worker: schemeName(addr, "worker") });
  } else if (typeof addr === "string" && addr.startsWith("local://")) {
    localName = schemeName(addr, "local");
    if (localContainers.has(localName)) {
      throw new TypeError(
        `Cannot create container: "local://${localName}/" exists already`,
      );
    }
    own = containerAddress({ name: localName });
    localContainers.set(
      localName,
      (transport, from) => serveTransport(transport, from),
    );
  } else {
    server = await startTcpServer(addr, options, accept);
    own = containerAddress(server.addr);
  }
  const listening = new Listening(own, server, localName, undefined);
  if (natsName === undefined) return listening;
  try {
    const nats = await NatsPresence.attach(
      natsName,
      options.nats!,
      serveTransport,
    );
    return new Listening(own, server, localName, nats);
  } catch (error) {
    await listening.close(Promise.resolve());
    throw error;
  }
}

function schemeName(addr: string, scheme: string): string {
  const name = addr.slice(scheme.length + 3).replace(/\/$/, "");
  if (name === "" || name.includes("/")) {
    throw new TypeError(`Invalid ${scheme} address "${addr}"`);
  }
  return name;
}

async function startTcpServer(
  addr: Address,
  options: ContainerOptions,
  accept: Accept,
): Promise<Server> {
  let parsed: ParsedAddress;
  try {
    parsed = parseAddress(addr);
  } catch (error) {
    throw new TypeError(
      `${
        (error as Error).message
      }; for a container reachable only in this process, "local://<name>", on NATS, "nats://<name>"`,
    );
  }
  const lost = options.onConnectionLost;
  return await startServer(
    parsed,
    // A Unix socket's client end has no address to name.
    (channel) =>
      accept(
        channel,
        parsed.transport === "unix" ? "ipc://?/" : `tcp://${channel.peer}/`,
      ),
    {
      codec: options.codec,
      serializers: [DATE_SERIALIZER, ...(options.serializers ?? [])],
      // aiomas verifies the certificates of connecting containers too.
      tls: options.tls && {
        cert: options.tls.cert,
        key: options.tls.key,
        clientCaCerts: options.tls.caCerts,
      },
      handshakeTimeout: options.handshakeTimeout,
      maxConnections: options.maxConnections,
      onConnectionRefused: lost && ((peer) => {
        const at = parsed.transport === "unix" ? "ipc://?/" : `tcp://${peer}/`;
        report(
          lost,
          new ConnectionClosedError(
            `Connection from ${at} refused: the container has maxConnections (${options.maxConnections}) open`,
          ),
          at,
        );
      }),
      maxFrameSize: options.maxFrameSize,
      onHandshakeError: lost &&
        ((error, peer) => report(lost, error, `tcp://${peer}/`)),
    },
  );
}
