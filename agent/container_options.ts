import type { CodecClass } from "../codecs/codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import type { DynamicRemote, Remote } from "../rpc/remote.ts";
import type { Agent } from "./agent.ts";
import type { Clock } from "./clock.ts";

/**
 * TLS for a container: its certificate for serving, trust and a client
 * certificate for connecting. With `caCerts`, TLS is mutual as in aiomas:
 * containers that connect must present a certificate signed by one of
 * them, so `cert` must be valid for client authentication too.
 */
export interface ContainerTlsOptions {
  /** PEM certificate chain, served to peers and presented to the containers it connects to. */
  cert: string;
  /** PEM private key of `cert`. */
  key: string;
  /**
   * PEM CA certificates to trust instead of the system's, for the
   * containers this one connects to and for those that connect to it.
   */
  caCerts?: string[];
}

/** Options of {@linkcode Container.create}. */
export interface ContainerOptions {
  /** The container's clock. @default {a new RealtimeClock, cancelled at shutdown} */
  clock?: Clock;
  /** The codec class for every connection. @default {JsonCodec} */
  codec?: CodecClass;
  /**
   * Extra serializers, registered after the date serializer (typeid 0) and
   * before the agent reference, in this order on every connection.
   */
  serializers?: readonly SerializerSpec[];
  /** Serve and connect with TLS. */
  tls?: ContainerTlsOptions;
  /**
   * With `tls`: milliseconds a connecting container has to complete the
   * TLS handshake before its connection is dropped; `Infinity` waits
   * forever (see `StartServerOptions.handshakeTimeout`).
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * The timeout in milliseconds of every call made through an agent proxy
   * of this container (to its own agents, to other containers' agents, and
   * to references received from them). A call that takes longer rejects
   * with a `TimeoutError` `DOMException`; its late reply is dropped.
   * `withOptions(proxy, { timeout })` and `connect(url, { callTimeout })`
   * override it per proxy; `Infinity` is no timeout.
   *
   * @default {undefined} (no timeout)
   */
  callTimeout?: number;
}

/** Options of {@linkcode Container.connect}. */
export interface ConnectOptions {
  /**
   * Deadline in milliseconds for the whole connect: opening the connection
   * (every attempt, the waits between retries, the TLS handshake) and
   * asking for the agent. When it passes, `connect` rejects with a
   * `TimeoutError` `DOMException`. `Infinity` is no deadline.
   *
   * @default {undefined} (no deadline)
   */
  timeout?: number;
  /**
   * Retry a refused connection as aiomas does (after 0.5 s, then 1.5 times
   * longer each time, at most 30 s apart) until `timeout` or `signal` ends
   * it; without either, forever. Without `retry`, one attempt.
   *
   * @default {false}
   */
  retry?: boolean;
  /** Stops connecting when aborted: `connect` rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * The timeout in milliseconds of the calls of the returned proxy (and of
   * the proxies of its attributes), instead of the container's
   * `callTimeout`; `Infinity` is none.
   *
   * @default {the container's `callTimeout`}
   */
  callTimeout?: number;
}

/**
 * The typed proxy of an agent of class `T`: its methods, without the
 * members every `Agent` has. Printed as `ClassNameProxy('<address>')`.
 */
export type AgentProxy<T> = unknown extends T ? DynamicRemote
  : Remote<Omit<T, keyof Agent>>;
