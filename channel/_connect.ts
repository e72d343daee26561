// The only place of the channel layer that touches Deno's sockets.
import type { Transport } from "./transport.ts";

/** Where to connect or listen: `{hostname, port}`, `["host", port]`, or a Unix socket path. */
export type Address =
  | { hostname?: string; port: number }
  | readonly [string, number]
  | string;

/** TLS settings for connecting: trust and, optionally, a client certificate. */
export interface ConnectTlsOptions {
  /** PEM CA certificates to trust instead of the system's. */
  caCerts?: string[];
  /** PEM client certificate chain (aiomas containers require one). */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
}

/** TLS settings for listening: the server's certificate and key. */
export interface ListenTlsOptions {
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /**
   * PEM CA certificates for mutual TLS: when given, every client must
   * present a certificate signed by one of them, or it gets nothing but a
   * closed connection. (Deno's own `listenTls` cannot verify client
   * certificates, so such servers run on `node:tls`.)
   */
  clientCaCerts?: string[];
}

/** A normalized address. */
export type ParsedAddress =
  | { transport: "tcp"; hostname: string; port: number }
  | { transport: "unix"; path: string };

/**
 * Normalizes an address.
 *
 * @throws {TypeError} If it is none of the accepted forms.
 */
export function parseAddress(addr: Address): ParsedAddress {
  if (typeof addr === "string") {
    if (addr === "") {
      throw new TypeError("Invalid address: the Unix socket path is empty");
    }
    return { transport: "unix", path: addr };
  }
  const [hostname, port] = Array.isArray(addr) ? addr : [
    (addr as { hostname?: string }).hostname ?? "127.0.0.1",
    (addr as { port: number }).port,
  ];
  if (
    typeof hostname !== "string" || !Number.isInteger(port) || port < 0 ||
    port > 65535
  ) {
    throw new TypeError(
      `Invalid address ${
        JSON.stringify(addr)
      }: expected {hostname, port}, [host, port] or a path`,
    );
  }
  return { transport: "tcp", hostname, port };
}

/** Formats an address as `host:port` (`[v6]:port`) or the socket path. */
export function formatAddress(addr: Deno.Addr | ParsedAddress): string {
  if (addr.transport === "unix" || addr.transport === "unixpacket") {
    return addr.path;
  }
  if (addr.transport === "tcp" || addr.transport === "udp") {
    const host = addr.hostname.includes(":")
      ? `[${addr.hostname}]`
      : addr.hostname;
    return `${host}:${addr.port}`;
  }
  return String(addr.transport);
}

/** Wraps a connection as a transport; the channel uses its `read`/`write`. */
export function connTransport(conn: Deno.Conn): Transport {
  return {
    get readable() {
      return conn.readable;
    },
    get writable() {
      return conn.writable;
    },
    read: conn.read.bind(conn),
    write: conn.write.bind(conn),
    close: () => {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    },
  };
}

/** Opens one connection. */
export async function dial(
  addr: ParsedAddress,
  tls: ConnectTlsOptions | undefined,
  signal: AbortSignal | undefined,
): Promise<Deno.Conn> {
  if (addr.transport === "unix") {
    return await Deno.connect({ transport: "unix", path: addr.path });
  }
  if (tls !== undefined) {
    // The server certificate is verified against `hostname`.
    const conn = await Deno.connectTls({
      hostname: addr.hostname,
      port: addr.port,
      caCerts: tls.caCerts,
      cert: tls.cert,
      key: tls.key,
    });
    // Deno handshakes lazily; like asyncio, fail here on an untrusted
    // certificate instead of at the channel's first read.
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
    return conn;
  }
  const conn = await Deno.connect({
    hostname: addr.hostname,
    port: addr.port,
    signal,
  });
  conn.setNoDelay(true);
  return conn;
}

/** Removes a Unix socket file after its listener closed. */
export async function removeSocketFile(addr: ParsedAddress): Promise<void> {
  if (addr.transport !== "unix") return;
  await Deno.remove(addr.path).catch(() => {});
}
