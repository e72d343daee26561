// Accepting connections: Deno listeners, and node:tls for mutual TLS.
import { Duplex } from "node:stream";
import tls from "node:tls";
import type { ListenTlsOptions, ParsedAddress } from "./_connect.ts";
import { connTransport, formatAddress } from "./_connect.ts";
import { Queue } from "./_queue.ts";
import type { Transport } from "./transport.ts";

/** An accepted connection. */
export interface Accepted {
  transport: Transport;
  /** The peer as seen locally. */
  peer: string;
}

/** Accepts connections until closed; `accept` then rejects with {@linkcode ListenerClosed}. */
export interface Acceptor {
  readonly addr: { hostname: string; port: number } | string;
  accept(): Promise<Accepted>;
  close(): void;
}

/** What `accept` rejects with once the acceptor is closed. */
export class ListenerClosed extends Error {
  constructor() {
    super("The listener is closed");
    this.name = "ListenerClosed";
  }
}

/** Starts listening. */
export async function listen(
  addr: ParsedAddress,
  tlsOptions: ListenTlsOptions | undefined,
): Promise<Acceptor> {
  if (addr.transport === "unix") {
    // Like asyncio, replace a stale socket file left by an earlier server.
    try {
      if ((await Deno.lstat(addr.path)).isSocket) await Deno.remove(addr.path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return new DenoAcceptor(
      Deno.listen({ transport: "unix", path: addr.path }),
    );
  }
  if (tlsOptions?.clientCaCerts !== undefined) {
    return await NodeTlsAcceptor.listen(addr, tlsOptions);
  }
  if (tlsOptions !== undefined) {
    return new DenoAcceptor(
      Deno.listenTls({
        hostname: addr.hostname,
        port: addr.port,
        cert: tlsOptions.cert,
        key: tlsOptions.key,
      }),
    );
  }
  return new DenoAcceptor(
    Deno.listen({ hostname: addr.hostname, port: addr.port }),
  );
}

class DenoAcceptor implements Acceptor {
  readonly addr: { hostname: string; port: number } | string;
  #listener: Deno.Listener;
  #closed = false;

  constructor(listener: Deno.Listener) {
    this.#listener = listener;
    const local = listener.addr;
    this.addr = local.transport === "unix" || local.transport === "unixpacket"
      ? local.path
      : {
        hostname: (local as Deno.NetAddr).hostname,
        port: (local as Deno.NetAddr).port,
      };
  }

  async accept(): Promise<Accepted> {
    let conn: Deno.Conn;
    try {
      conn = await this.#listener.accept();
    } catch (error) {
      if (this.#closed) throw new ListenerClosed();
      throw error;
    }
    // TLS connections report "tcp" too but have no setNoDelay.
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    // A Unix client has no address of its own: name it by the socket.
    const peer = typeof this.addr === "string"
      ? `${this.addr} (client)`
      : formatAddress(conn.remoteAddr);
    return { transport: connTransport(conn), peer };
  }

  close(): void {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Closed already.
    }
  }
}

class NodeTlsAcceptor implements Acceptor {
  readonly addr: { hostname: string; port: number };
  #server: tls.Server;
  #ready = new Queue<tls.TLSSocket>();
  #waiters = new Queue<PromiseWithResolvers<Accepted>>();
  #closed = false;

  private constructor(
    server: tls.Server,
    addr: { hostname: string; port: number },
  ) {
    this.#server = server;
    this.addr = addr;
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      socket.setNoDelay(true);
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter.resolve(accepted(socket));
      else this.#ready.push(socket);
    });
    // A client without a valid certificate is refused by the handshake; the
    // error belongs to that connection only.
    server.on("tlsClientError", () => {});
  }

  static async listen(
    addr: ParsedAddress & { transport: "tcp" },
    options: ListenTlsOptions,
  ): Promise<NodeTlsAcceptor> {
    const server = tls.createServer({
      cert: options.cert,
      key: options.key,
      ca: options.clientCaCerts,
      requestCert: true,
      rejectUnauthorized: true,
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(addr.port, addr.hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const bound = server.address() as { address: string; port: number };
    return new NodeTlsAcceptor(server, {
      hostname: bound.address,
      port: bound.port,
    });
  }

  accept(): Promise<Accepted> {
    if (this.#closed) return Promise.reject(new ListenerClosed());
    const socket = this.#ready.shift();
    if (socket !== undefined) return Promise.resolve(accepted(socket));
    const waiter = Promise.withResolvers<Accepted>();
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (
      let socket = this.#ready.shift();
      socket;
      socket = this.#ready.shift()
    ) socket.destroy();
    for (
      let waiter = this.#waiters.shift();
      waiter;
      waiter = this.#waiters.shift()
    ) {
      waiter.reject(new ListenerClosed());
    }
  }
}

function accepted(socket: tls.TLSSocket): Accepted {
  const { readable, writable } = Duplex.toWeb(socket);
  return {
    transport: {
      readable: readable as ReadableStream<Uint8Array>,
      writable: writable as WritableStream<Uint8Array>,
      close: () => socket.destroy(),
    },
    peer: formatAddress({
      transport: "tcp",
      hostname: socket.remoteAddress ?? "?",
      port: socket.remotePort ?? 0,
    }),
  };
}
