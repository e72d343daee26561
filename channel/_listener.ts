// Accepting connections: Deno listeners, and node:tls for TLS.
import type { Socket } from "node:net";
import tls from "node:tls";
import {
  connTransport,
  formatPeer,
  fromNodeError,
  type ListenTlsOptions,
  withAddress,
} from "./_connect.ts";
import { MAX_DELAY } from "./_channel_options.ts";
import { callHook } from "./_hook.ts";
import { socketTransport } from "./_node_socket_transport.ts";
import { checkTlsMaterial } from "./_tls_material.ts";
import { Queue } from "./_queue.ts";
import { formatAddress, type ParsedAddress } from "./address.ts";
import type { Transport } from "./transport.ts";

/** An accepted connection. */
export interface Accepted {
  transport: Transport;
  /** The peer as seen locally. */
  peer: string;
  /**
   * To call once the server holds the connection (or refused it): until
   * then the acceptor counts it as waiting (see `ListenOptions.admits`).
   */
  taken?: () => void;
}

/** Accepts connections until closed; `accept` then rejects with {@linkcode ListenerClosed}. */
export interface Acceptor {
  readonly addr: { hostname: string; port: number } | { path: string };
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

/** How to listen. */
export interface ListenOptions {
  /** Milliseconds a TLS client has to finish its handshake (`Infinity`: no limit). */
  handshakeTimeout: number;
  /** Told of each TLS handshake that failed or timed out, and the client's address. */
  onHandshakeError: ((error: Error, peer: string) => void) | undefined;
  /**
   * Whether the server has room for one more connection beside `waiting`
   * ones it has not taken yet (TLS: handshakes under way, and done ones
   * not accepted): a TLS socket is refused before its handshake otherwise.
   */
  admits?: (waiting: number) => boolean;
  /** Told of each connection `admits` refused, with the client's address. */
  onRefused?: (peer: string) => void;
}

/**
 * Starts listening.
 *
 * @throws {TypeError} For TLS on a Unix socket, or TLS material that is
 *   missing, does not parse, or does not match.
 * @throws The listen error (e.g. `AddrInUse`) with the address in its message.
 */
export async function listen(
  addr: ParsedAddress,
  tlsOptions: ListenTlsOptions | undefined,
  options: ListenOptions,
): Promise<Acceptor> {
  const where = formatAddress(addr);
  if (tlsOptions !== undefined && addr.transport !== "tcp") {
    throw new TypeError(`TLS needs a TCP address, not ${where}`);
  }
  if (tlsOptions !== undefined) {
    if (tlsOptions.cert === undefined && tlsOptions.key === undefined) {
      throw new TypeError("Cannot use tls: a server needs its cert and key");
    }
    checkTlsMaterial({
      cert: tlsOptions.cert,
      key: tlsOptions.key,
      cas: tlsOptions.clientCaCerts,
      casName: "clientCaCerts",
    });
  }
  try {
    if (addr.transport === "unix") {
      await removeStaleSocket(addr.path, where);
      return new DenoAcceptor(
        Deno.listen({ transport: "unix", path: addr.path }),
      );
    }
    if (tlsOptions !== undefined) {
      return await TlsAcceptor.listen(addr, where, tlsOptions, options);
    }
    const { hostname, port } = addr;
    return new DenoAcceptor(Deno.listen({ hostname, port }));
  } catch (error) {
    throw withAddress(error, where);
  }
}

/**
 * Removes a socket file left by a server that is gone, as asyncio does;
 * unlike asyncio, not one a server still listens on.
 *
 * @throws {Deno.errors.AddrInUse} If a server answers there.
 */
async function removeStaleSocket(path: string, where: string): Promise<void> {
  try {
    if (!(await Deno.lstat(path)).isSocket) return;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  try {
    const live = await Deno.connect({ transport: "unix", path });
    live.close();
  } catch (error) {
    // Removed meanwhile: nothing to replace.
    if (error instanceof Deno.errors.NotFound) return;
    if (error instanceof Deno.errors.ConnectionReset) {
      // A listener that is closing: its file goes when it has closed.
      throw new Deno.errors.AddrInUse(
        `Address already in use: ${where} (a server there is closing; try again when it has closed)`,
      );
    }
    if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
    await Deno.remove(path).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    return;
  }
  throw new Deno.errors.AddrInUse(
    `Address already in use: ${where} (a server listens on it)`,
  );
}

function boundAddr(
  listener: Deno.Listener,
): { hostname: string; port: number } | { path: string } {
  const local = listener.addr;
  return local.transport === "unix" || local.transport === "unixpacket"
    ? { path: local.path }
    : {
      hostname: (local as Deno.NetAddr).hostname,
      port: (local as Deno.NetAddr).port,
    };
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Closed already.
  }
}

/** A plain TCP or Unix listener. */
class DenoAcceptor implements Acceptor {
  readonly addr: { hostname: string; port: number } | { path: string };
  #listener: Deno.Listener;
  #closed = false;

  constructor(listener: Deno.Listener) {
    this.#listener = listener;
    this.addr = boundAddr(listener);
  }

  async accept(): Promise<Accepted> {
    let conn: Deno.Conn;
    try {
      conn = await this.#listener.accept();
    } catch (error) {
      if (this.#closed) throw new ListenerClosed();
      throw error;
    }
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    // A Unix client has no address of its own: name it by the socket.
    const peer = "path" in this.addr
      ? `${formatAddress({ transport: "unix", path: this.addr.path })} (client)`
      : formatPeer(conn.remoteAddr);
    return { transport: connTransport(conn), peer };
  }

  close(): void {
    this.#closed = true;
    closeQuietly(this.#listener);
  }
}

/**
 * A node:tls server. It hands out a connection only once its handshake is
 * done, and destroys one whose handshake takes longer than the handshake
 * timeout; handshakes run side by side, so a client that never finishes
 * its own delays nobody. (Closing a Deno TLS connection in mid-handshake
 * would leave its socket open until the peer acts; destroying a node
 * socket closes it.)
 */
class TlsAcceptor implements Acceptor {
  readonly addr: { hostname: string; port: number };
  #server: tls.Server;
  // Accepted TCP sockets whose TLS handshake has not finished.
  #handshaking = new Set<Socket>();
  #ready = new Queue<tls.TLSSocket>();
  #waiters = new Queue<PromiseWithResolvers<Accepted>>();
  /** Sockets handed to the server that it has not taken yet. */
  #handedOut = 0;
  /** TCP sockets closed by `admits`: their TLS errors are not reported. */
  #refused = new WeakSet<Socket>();
  #closed = false;

  private constructor(
    server: tls.Server,
    addr: { hostname: string; port: number },
    options: ListenOptions,
  ) {
    const { onHandshakeError, admits, onRefused } = options;
    this.#server = server;
    this.addr = addr;
    server.on("connection", (socket: Socket) => {
      // A handshake holds a TLS and a TCP socket for up to
      // handshakeTimeout: counted against maxConnections from the start.
      if (
        admits !== undefined &&
        !admits(this.#handshaking.size + this.#ready.length + this.#handedOut)
      ) {
        const peer = peerOf(socket);
        this.#refused.add(socket);
        socket.destroy();
        onRefused?.(peer);
        return;
      }
      this.#handshaking.add(socket);
      socket.once("close", () => this.#handshaking.delete(socket));
    });
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      this.#handshook(socket);
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter.resolve(this.#handOut(socket));
      else this.#ready.push(socket);
    });
    // A client without a valid certificate, or too slow a handshake, costs
    // only its own connection.
    server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
      socket.destroy();
      // Deno's TLSSocket has no address before its handshake is done; the
      // TCP socket under it (node's `_parent`) has.
      const tcp = (socket as { _parent?: Socket })._parent;
      // Not those that close() ends, nor those refused (reported as such).
      if (
        this.#closed || onHandshakeError === undefined ||
        (tcp !== undefined && this.#refused.has(tcp))
      ) return;
      const peer = peerOf(socket.remoteAddress ? socket : tcp);
      // Named as a handshake error: node's own text may be no more than
      // "socket hang up" (e.g. for a client certificate it refused).
      callHook(
        "onHandshakeError",
        onHandshakeError,
        fromNodeError(error, peer, true) as Error,
        peer,
      );
    });
  }

  static async listen(
    addr: ParsedAddress & { transport: "tcp" },
    where: string,
    tlsOptions: ListenTlsOptions,
    options: ListenOptions,
  ): Promise<TlsAcceptor> {
    const mutual = tlsOptions.clientCaCerts !== undefined;
    const server = tls.createServer({
      cert: tlsOptions.cert,
      key: tlsOptions.key,
      ca: tlsOptions.clientCaCerts,
      requestCert: mutual,
      rejectUnauthorized: mutual,
      // node has no "no limit" (its default is 120 s), and a longer delay
      // than a timer takes fires at once: the longest one, 24.8 days.
      handshakeTimeout: Math.min(options.handshakeTimeout, MAX_DELAY),
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(addr.port, addr.hostname, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      throw fromNodeError(error, where);
    }
    const bound = server.address() as { address: string; port: number };
    return new TlsAcceptor(server, {
      hostname: bound.address,
      port: bound.port,
    }, options);
  }

  /** The TCP socket under `socket` is no longer handshaking. */
  #handshook(socket: tls.TLSSocket): void {
    for (const tcp of this.#handshaking) {
      if (
        tcp.remotePort === socket.remotePort &&
        tcp.remoteAddress === socket.remoteAddress
      ) {
        this.#handshaking.delete(tcp);
        return;
      }
    }
  }

  /** `socket` for the server, counted as waiting until it is taken. */
  #handOut(socket: tls.TLSSocket): Accepted {
    this.#handedOut++;
    let taken = false;
    return {
      ...accepted(socket),
      taken: () => {
        if (!taken) this.#handedOut--;
        taken = true;
      },
    };
  }

  accept(): Promise<Accepted> {
    if (this.#closed) return Promise.reject(new ListenerClosed());
    const socket = this.#ready.shift();
    if (socket !== undefined) return Promise.resolve(this.#handOut(socket));
    const waiter = Promise.withResolvers<Accepted>();
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const socket of this.#handshaking) socket.destroy();
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
  socket.setNoDelay(true);
  return {
    transport: socketTransport(socket),
    peer: peerOf(socket),
  };
}

/** `host:port` of the client end of `socket`. */
function peerOf(socket: Socket | undefined): string {
  return formatAddress({
    transport: "tcp",
    hostname: socket?.remoteAddress ?? "?",
    port: socket?.remotePort ?? 0,
  });
}
