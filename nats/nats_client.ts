/**
 * The part of the nats.js client (`npm:@nats-io/transport-node`) this
 * module's API names, as types of its own, so that its users need not
 * import nats.js to pass options or a connection.
 *
 * @module
 */

/** TLS for the connection to NATS (nats.js `TlsOptions`): PEM texts or file paths. */
export interface NatsTlsOptions {
  /** Start TLS before the NATS handshake (servers with `handshake_first`). */
  handshakeFirst?: boolean;
  /** The client certificate (PEM). */
  cert?: string;
  /** The client certificate's file. */
  certFile?: string;
  /** The client key (PEM). */
  key?: string;
  /** The client key's file. */
  keyFile?: string;
  /** CA certificates to trust (PEM). */
  ca?: string;
  /** CA certificates' file. */
  caFile?: string;
}

/**
 * Options for a connection to NATS, passed as they are to nats.js
 * `connect` (its `ConnectionOptions`; the common ones are listed, any
 * other is passed on too).
 */
export interface NatsConnectOptions {
  /** The servers, e.g. `"127.0.0.1:4222"` or a cluster's list. @default {"127.0.0.1:4222"} */
  servers?: string | string[];
  /** User name (with `pass`). */
  user?: string;
  /** Password (with `user`). */
  pass?: string;
  /** Authentication token. */
  token?: string;
  /** TLS; `null` for none. */
  tls?: NatsTlsOptions | null;
  /** The connection's name, shown by the server's monitoring. */
  name?: string;
  /** Reconnect after a server is lost. @default {true} */
  reconnect?: boolean;
  /** How many reconnect attempts (-1: forever). @default {10} */
  maxReconnectAttempts?: number;
  /** Milliseconds between attempts to one server. @default {2000} */
  reconnectTimeWait?: number;
  /** Try the servers in the order given, not shuffled. @default {false} */
  noRandomize?: boolean;
  /** Milliseconds to wait for the first connection. @default {20000} */
  timeout?: number;
  /** The prefix of inbox subjects (also of this module's session subjects). @default {"_INBOX"} */
  inboxPrefix?: string;
  /** Any other nats.js connection option. */
  [option: string]: unknown;
}

/** A status event of a NATS connection (nats.js `Status`), e.g. `{ type: "reconnect", server }`. */
export interface NatsStatus {
  /**
   * `"disconnect"`, `"reconnecting"`, `"reconnect"`, `"update"` (cluster
   * members added or deleted), `"ldm"` (the server goes into lame-duck
   * mode), `"error"`, `"ping"`, `"staleConnection"`, `"slowConsumer"`,
   * `"forceReconnect"` or `"close"`.
   */
  type: string;
  /** The server, for disconnect, reconnect and ldm. */
  server?: string;
  /** The error, for `"error"`. */
  error?: Error;
  /** Other fields of the event. */
  [field: string]: unknown;
}

/**
 * An open nats.js connection (`NatsConnection`), as far as this module
 * uses it. Pass the one `connect` from `npm:@nats-io/transport-node`
 * returned to share it; you close it, after the objects that use it.
 */
export interface NatsClient {
  /** The server's info (its `max_payload`). */
  readonly info?: { readonly max_payload: number };
  /** Publishes a message. */
  publish(
    subject: string,
    payload?: Uint8Array | string,
    options?: { reply?: string },
  ): void;
  /** Subscribes to a subject. */
  subscribe(subject: string, options?: object): { unsubscribe(): void };
  /** Sends a request and waits for the first reply. */
  request(
    subject: string,
    payload?: Uint8Array | string,
    options?: { timeout: number },
  ): Promise<{ readonly data: Uint8Array }>;
  /** Waits for a round trip to the server. */
  flush(): Promise<void>;
  /** Closes the connection. */
  close(): Promise<void>;
  /** Whether it is closed. */
  isClosed(): boolean;
  /** The server connected to now. */
  getServer(): string;
  /** Status events until the connection closes. */
  status(): AsyncIterable<NatsStatus>;
}

/**
 * The NATS connection to use: an open one ({@linkcode NatsClient}, which
 * you close), or options for one opened and closed with the object that
 * uses it ({@linkcode NatsConnectOptions}).
 */
export type NatsOption = NatsClient | NatsConnectOptions;
