import type { CodecClass } from "../codecs/codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import type {
  NatsClient,
  NatsConnectOptions,
  NatsStatus,
} from "../nats/nats_client.ts";
import type { DynamicRemote, Remote } from "../rpc/remote.ts";
import type { RpcTelemetryOptions } from "../rpc/telemetry_options.ts";
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

/** Liveness and flow control of the NATS sessions between containers. */
export interface ContainerNatsSessionOptions {
  /** How often to ping the peer while a session is open, in milliseconds. @default {400} */
  heartbeat?: number;
  /**
   * Milliseconds a ping may go unanswered before the peer counts as gone
   * and the session fails (pending calls reject with
   * `ConnectionClosedError`); a peer whose subject has no subscriber (its
   * process or NATS connection is gone) fails it after `min(500, timeout / 2)`.
   *
   * @default {5000}
   */
  timeout?: number;
  /** Bytes that may be sent and not yet read by the peer; writing waits beyond. @default {4194304} */
  window?: number;
}

/**
 * A container's presence on NATS: nats.js connection options (`servers`,
 * `user`/`pass`, `token`, `tls`, reconnect settings… passed on as they
 * are), or an open `connection`, plus the container's `name` there.
 */
export interface ContainerNatsOptions extends NatsConnectOptions {
  /**
   * The container's name on NATS: tokens of letters, digits, `_` and `-`,
   * separated by dots. Required for a container created at a TCP, Unix,
   * local or worker address, which is then reachable at `nats://<name>/`
   * too; for `Container.create("nats://<name>")` it is that name (and may
   * be left out). Not passed to nats.js, whose connection is named after
   * the container.
   */
  name?: string;
  /**
   * An open nats.js connection to use instead of opening one from the
   * other options; you close it, after the container.
   */
  connection?: NatsClient;
  /**
   * The subject prefix: the container accepts sessions on
   * `<prefix>.<name>`. Containers that talk to each other use the same.
   *
   * @default {"aiomas"}
   */
  prefix?: string;
  /** Liveness and flow control of the sessions to and from other containers. */
  session?: ContainerNatsSessionOptions;
  /** How many sessions other containers may have open to this one at once. @default {1024} */
  maxSessions?: number;
  /**
   * Called with every status event of the container's NATS connection
   * (`"disconnect"`, `"reconnect"`, … see `NatsStatus`), and with
   * `{ type: "error", error, subject }` when the container lost its name:
   * while its connection was down another container claimed the name, and
   * when it came back the other kept it (see docs/nats.md). From then on
   * `nats://<name>/` reaches the other container; this one accepts no
   * more sessions on NATS (it still opens them), and those it had
   * accepted fail (each reported to `onConnectionLost`). That event is
   * also logged with `console.error`; what the hook throws is logged.
   *
   * @default {undefined} (nothing is reported)
   */
  onStatus?: (status: NatsStatus) => void;
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
   * TLS handshake before its connection is dropped, above 0; `Infinity` waits
   * forever (see `StartServerOptions.handshakeTimeout`).
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * How many connections from other containers may be open at once (see
   * `StartServerOptions.maxConnections`); one beyond it is closed at once
   * and reported to `onConnectionLost` with a `ConnectionClosedError`.
   * Connections this container makes do not count.
   *
   * @default {Infinity}
   */
  maxConnections?: number;
  /**
   * The largest message, in bytes of its frame, sent to or accepted from
   * other containers (`ChannelOptions.maxFrameSize`): a call or result
   * above it fails with a `SerializationError` before anything is sent,
   * and a peer's frame above it closes that connection. Raise it on both
   * sides together, and only for peers you trust. The container's codecs
   * get a `maxDecodedSize` that grows with it, and the Worker and process
   * containers it starts take it too.
   *
   * @default {16777216} (16 MiB)
   */
  maxFrameSize?: number;
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
  /**
   * Put the container on NATS (nats.js is loaded only then): required for
   * a `"nats://<name>"` address; for any other address, the container is
   * reachable over NATS too as `nats://<name>/` (give `name`). Either way
   * its agents can call `nats://` agents, and `tcp://`, `ipc://` and
   * `local://` ones as before. A name held by a live container is an
   * error at `create`; `shutdown` gives it up.
   */
  nats?: ContainerNatsOptions;
  /**
   * OpenTelemetry spans and metrics of the container's calls: those over
   * its connections and those between its own agents (see
   * `docs/observability.md`). Every span gets `aiomas.container` (this
   * container's address), `aiomas.sim_time` under an `ExternalClock`
   * (unless `simTime` is given), and a call to an agent
   * `aiomas.agent.callee` and, where known, `aiomas.agent.caller`;
   * `attributes` and `callAttributes` add to them. `false` records
   * nothing even when providers are registered.
   *
   * Decided once, when the container is created: register global
   * providers before (Deno does at startup under `OTEL_DENO=true`).
   *
   * @default {the global providers of `npm:@opentelemetry/api`: nothing is recorded unless one is registered}
   */
  telemetry?: RpcTelemetryOptions | false;
  /**
   * Called when a connection to or from another container is lost while
   * this container runs (not for those its `shutdown()` closes), with the
   * error that closed it and the peer:
   *
   * - `error`: `undefined` when the peer closed the connection; a
   *   `ProtocolError` when the peer sent what breaks the protocol or a
   *   limit (e.g. another codec's bytes, a frame above the maximum size);
   *   a `ConnectionClosedError` when the connection was reset; with
   *   `tls`, TLS's error for a connecting peer whose handshake failed or
   *   outlasted `handshakeTimeout` (no connection was made with it).
   * - `peer`: the container address of a container this one connected to
   *   (`tcp://host:port/`, `nats://name/`, `worker://name/`); for a
   *   connection accepted over TCP, the address of the peer's end of it
   *   (`tcp://host:port/` with the port its system picked, not the one it
   *   listens on); `ipc://?/` for one accepted over a Unix socket (its
   *   client end has no address); over NATS, the `nats://name/` the peer
   *   claims (not verified; `nats://?/` if it claims none); the address
   *   of the container that opened it for one from a container of this
   *   process (`local://name/`).
   *
   * Pending calls over the connection reject with `ConnectionClosedError`
   * whether or not this is given. What it throws is logged with
   * `console.error`. It lets a server see what its callers
   * see: a peer dropped for a protocol error is otherwise silent on the
   * accepting side.
   *
   * @default {undefined} (nothing is reported)
   */
  onConnectionLost?: (error: unknown, peer: string) => void;
}

/** Options of {@linkcode Container.connect}. */
export interface ConnectOptions {
  /**
   * Deadline in milliseconds for the whole connect: opening the connection
   * (every attempt, the waits between retries, the TLS handshake) and
   * asking for the agent. When it passes, `connect` rejects with a
   * `TimeoutError` `DOMException`. `Infinity` is no deadline. When it
   * passes while the agent is asked for over a connection that was open
   * already (shared with other connects), later connects dial a new one:
   * the old one may have gone silent (its peer's host vanished, a NAT
   * dropped it), which TCP may not tell for hours; calls already on it end
   * by their own `callTimeout`, or when a later connect drops another
   * connection to that container this way: then those dropped before that
   * have received nothing since are closed (a silent peer costs at most
   * two connections), and of the others all but the latest (a slow link
   * costs at most three).
   *
   * @default {undefined} (no deadline)
   */
  timeout?: number;
  /**
   * Retry a refused connection as aiomas does (after 0.5 s, then 1.5 times
   * longer each time, at most 30 s apart) until `timeout` or `signal` ends
   * it; without either, forever. Without `retry`, one attempt. A
   * `local://` container that does not exist yet is retried the same way
   * (it may be created meanwhile); a `worker://` one is not.
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
