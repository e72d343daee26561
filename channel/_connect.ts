// The only place of the channel layer that opens connections.
import { connect as connectTcp, isIP } from "node:net";
import nodeTls from "node:tls";
import { checkMilliseconds, MAX_DELAY } from "./_channel_options.ts";
import { formatAddress, type ParsedAddress } from "./address.ts";
import { socketTransport } from "./_node_socket_transport.ts";
import { checkTlsMaterial } from "./_tls_material.ts";
import type { Transport } from "./transport.ts";

export type { Address, ParsedAddress } from "./address.ts";

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
   * closed connection.
   */
  clientCaCerts?: string[];
}

/** How to connect; documented on `OpenConnectionOptions`. */
export interface ConnectOptions {
  tls?: ConnectTlsOptions;
  timeout?: number;
  retry?: boolean;
  signal?: AbortSignal;
  /** Told of each failed attempt that will be retried. */
  onRetry?: (error: unknown) => void;
}

const RETRYABLE = [
  Deno.errors.ConnectionRefused,
  Deno.errors.NotFound,
  Deno.errors.ConnectionReset,
];

/**
 * Whether `retry` retries a connect that failed with `error` (refused, no
 * Unix socket yet, closed during the TLS handshake).
 */
function isRetryable(error: unknown): boolean {
  return RETRYABLE.some((type) => error instanceof type);
}

/**
 * Opens one connection: retries refused attempts if asked, and gives up
 * when `signal` aborts or `timeout` ms have passed, in whatever stage
 * (TCP connect, TLS handshake, waiting to retry).
 *
 * @throws The abort reason, a `TimeoutError` naming the address, or the
 *   connection error with the address in its message.
 */
export async function connect(
  addr: ParsedAddress,
  options: ConnectOptions,
): Promise<Transport> {
  const where = formatAddress(addr);
  const { timeout, signal } = options;
  checkMilliseconds("timeout", timeout);
  if (options.tls !== undefined && addr.transport !== "tcp") {
    throw new TypeError(`TLS needs a TCP address, not ${where}`);
  }
  signal?.throwIfAborted();
  const controller = new AbortController();
  let lastError: unknown;
  const expire = () =>
    controller.abort(
      new DOMException(
        `connecting to ${where} timed out after ${timeout} ms${
          lastError === undefined ? "" : ` (last attempt: ${lastError})`
        }`,
        "TimeoutError",
      ),
    );
  const onAbort = () => controller.abort(signal!.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (timeout === 0) expire();
  else if (timeout !== undefined && timeout <= MAX_DELAY) {
    timer = setTimeout(expire, timeout);
  }
  try {
    let wait = 500;
    for (;;) {
      try {
        return await dial(addr, where, options.tls, controller.signal);
      } catch (error) {
        controller.signal.throwIfAborted();
        if (!options.retry || !isRetryable(error)) throw error;
        lastError = error;
        options.onRetry?.(withAddress(error, where));
        await delay(wait, controller.signal);
        wait = Math.min(wait * 1.5, 30_000);
      }
    }
  } catch (error) {
    controller.signal.throwIfAborted();
    throw withAddress(error, where);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

async function dial(
  addr: ParsedAddress,
  where: string,
  tls: ConnectTlsOptions | undefined,
  signal: AbortSignal,
): Promise<Transport> {
  if (addr.transport === "unix") {
    const conn = await untilAborted(
      Deno.connect({ transport: "unix", path: addr.path }),
      signal,
    );
    return connTransport(conn);
  }
  if (tls !== undefined) return await connectTls(addr, where, tls, signal);
  const { hostname, port } = addr;
  const conn = await Deno.connect({ hostname, port, signal });
  conn.setNoDelay(true);
  return connTransport(conn);
}

/**
 * Connects and completes the TLS handshake now (as asyncio does, so that
 * an untrusted certificate fails here, not at the first read). node:tls,
 * not Deno's TLS: closing a Deno TLS connection whose handshake the peer
 * never answers leaves its socket open until the peer acts, while
 * destroying a node socket closes it at once.
 */
function connectTls(
  addr: { hostname: string; port: number },
  where: string,
  options: ConnectTlsOptions,
  signal: AbortSignal,
): Promise<Transport> {
  const { promise, resolve, reject } = Promise.withResolvers<Transport>();
  signal.throwIfAborted();
  checkTlsMaterial({
    cert: options.cert,
    key: options.key,
    cas: options.caCerts,
    casName: "caCerts",
  });
  // Made first: what node refuses throws here, at once, not later in an
  // event listener (where the connect would never settle).
  const secureContext = nodeTls.createSecureContext({
    ca: options.caCerts,
    cert: options.cert,
    key: options.key,
  });
  // TLS over a TCP socket of our own: as the TLS socket's `_parent`, its
  // reads stop while the channel takes no bytes (nodeTls.connect's own
  // socket reads on, into memory, however paused).
  const tcp = connectTcp({ host: addr.hostname, port: addr.port });
  // Its errors also reach the TLS socket; unheard here, they would throw.
  tcp.on("error", () => {});
  let socket: ReturnType<typeof nodeTls.connect> | undefined;
  const onAbort = () => {
    socket?.destroy();
    tcp.destroy();
    reject(signal.reason);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  const onError = (error: Error) => {
    signal.removeEventListener("abort", onAbort);
    socket?.destroy();
    tcp.destroy();
    // Before the TCP connection there is no handshake to blame (a host
    // that does not resolve, a refused port).
    reject(fromNodeError(error, where, socket !== undefined));
  };
  tcp.once("error", onError);
  tcp.once("connect", () => {
    let tls: ReturnType<typeof nodeTls.connect>;
    try {
      tls = nodeTls.connect({
        socket: tcp,
        host: addr.hostname,
        // The server certificate is verified against `hostname`; SNI is
        // for names only.
        servername: isIP(addr.hostname) === 0 ? addr.hostname : undefined,
        secureContext,
      });
    } catch (error) {
      return onError(error as Error);
    }
    socket = tls;
    tls.once("error", onError);
    tls.once("secureConnect", () => {
      signal.removeEventListener("abort", onAbort);
      tcp.off("error", onError);
      tls.off("error", onError);
      tcp.setNoDelay(true);
      resolve(socketTransport(tls));
    });
  });
  return promise;
}

type ErrorClass = new (message: string, options?: ErrorOptions) => Error;

// The system errors of node sockets, as Deno's own sockets would throw them.
const SYSTEM_ERRORS: Record<string, [ErrorClass, string]> = {
  ECONNREFUSED: [Deno.errors.ConnectionRefused, "Connection refused"],
  ECONNRESET: [Deno.errors.ConnectionReset, "Connection reset by peer"],
  ECONNABORTED: [Deno.errors.ConnectionAborted, "Connection aborted"],
  EPIPE: [Deno.errors.BrokenPipe, "Broken pipe"],
  ETIMEDOUT: [Deno.errors.TimedOut, "Connection timed out"],
  EADDRINUSE: [Deno.errors.AddrInUse, "Address already in use"],
  EADDRNOTAVAIL: [Deno.errors.AddrNotAvailable, "Address not available"],
  EACCES: [Deno.errors.PermissionDenied, "Permission denied"],
  // Deno has no class of its own for these.
  EHOSTUNREACH: [Error, "No route to host"],
  ENETUNREACH: [Error, "Network is unreachable"],
};

/**
 * A node socket error as the Deno error class its sockets would throw,
 * naming the address: `Connection refused: 127.0.0.1:5555 (os error 111)`.
 * A host that does not resolve is a plain `Error`, as Deno's connect
 * throws it. A connection closed during a TLS handshake is a
 * `ConnectionReset` that says so; other errors of a handshake (certificates,
 * alerts) become `InvalidData`, as Deno reports them; others are returned
 * as they are.
 */
export function fromNodeError(
  error: unknown,
  where: string,
  handshake = false,
): unknown {
  const { code, errno } = (error ?? {}) as { code?: unknown; errno?: unknown };
  if (handshake && (code === "ECONNRESET" || code === "EPIPE")) {
    // node says ECONNRESET for any close before the handshake ends: a
    // server that does not speak TLS, or one closing or not up yet behind
    // a proxy. Still a reset, so retried as aiomas retries it.
    return Object.assign(
      new Deno.errors.ConnectionReset(
        `TLS handshake with ${where} failed: the connection was closed (by a server that does not use TLS, or one that is closing)`,
        { cause: error },
      ),
      { code },
    );
  }
  const known = typeof code === "string" ? SYSTEM_ERRORS[code] : undefined;
  if (known !== undefined) {
    const [type, text] = known;
    const os = typeof errno === "number"
      ? ` (os error ${Math.abs(errno)})`
      : "";
    return Object.assign(new type(`${text}: ${where}${os}`, { cause: error }), {
      code,
    });
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    // As Deno's own connect words it (a plain Error).
    return Object.assign(
      new Error(`failed to lookup address information: ${where} (${code})`, {
        cause: error,
      }),
      { code },
    );
  }
  if (!handshake) return error;
  const message = error instanceof Error ? error.message : String(error);
  const copy = new Deno.errors.InvalidData(
    `TLS handshake with ${where} failed: ${message}`,
    { cause: error },
  );
  return code === undefined ? copy : Object.assign(copy, { code });
}

/** Like `promise`, but rejects with the reason when `signal` aborts; a connection made after that is closed. */
function untilAborted<T extends Deno.Conn>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      promise.then(closeQuietly, () => {});
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

/** Waits `ms`, or rejects with the signal's reason when it aborts. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Puts the address into a Deno error's message, keeping its class and
 * code: `Connection refused: 127.0.0.1:5555 (os error 111)`. Permission
 * errors name the address already.
 */
export function withAddress(error: unknown, where: string): unknown {
  if (
    !(error instanceof Error) || error instanceof Deno.errors.NotCapable ||
    error.message.includes(where)
  ) return error;
  const type = error.constructor as ErrorClass;
  // Deno's errors, its TypeErrors for an address it cannot use (e.g. a
  // Unix socket path too long) and its plain Errors for a host that does
  // not resolve.
  if (
    type !== TypeError && type !== Error &&
    !(Object.values(Deno.errors) as unknown[]).includes(type)
  ) return error;
  const [, text, os = ""] = /^(.*?)( \(os error \d+\))?$/s.exec(
    error.message,
  )!;
  const copy = new type(`${text}: ${where}${os}`, { cause: error });
  const code = (error as { code?: unknown }).code;
  return code === undefined ? copy : Object.assign(copy, { code });
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/** Names a peer: `host:port`, `[v6]:port` or `unix:/path`. */
export function formatPeer(addr: Deno.Addr): string {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return formatAddress({
      transport: "tcp",
      hostname: addr.hostname,
      port: addr.port,
    });
  }
  if (addr.transport === "unix" || addr.transport === "unixpacket") {
    return formatAddress({ transport: "unix", path: addr.path });
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
    close: () => closeQuietly(conn),
  };
}
