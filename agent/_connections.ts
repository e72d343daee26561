import { context, ROOT_CONTEXT } from "npm:@opentelemetry/api@^1.9.0";
import { Channel } from "../channel/channel.ts";
import { abandonCalls } from "../channel/_outgoing_calls.ts";
import type { Transport } from "../channel/transport.ts";
import type { Codec, CodecClass } from "../codecs/codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import { ConnectionClosedError } from "../errors.ts";
import { type Caller, createRemote, sendsOver } from "../rpc/_proxy.ts";
import { RpcClient } from "../rpc/rpc_client.ts";
import type { Service } from "../rpc/service.ts";
import { traceConnect } from "../rpc/_telemetry.ts";
import type { RpcTelemetryOptions } from "../rpc/telemetry_options.ts";
import { className } from "./_agent_classes.ts";
import type { NatsPresence } from "./_nats_presence.ts";
import { createCodec } from "../channel/_codec.ts";
import { referenceLabel, report } from "./_peers.ts";
import { within } from "../channel/_within.ts";
import { dialChannel, type DialOptions } from "./_dial.ts";
import { DroppedConnections } from "./_dropped_connections.ts";
import { type Dial, join, nextRefusal, type Waiting } from "./_shared_dial.ts";
import type { AgentAddress } from "./agent_address.ts";
import type {
  ConnectOptions,
  ContainerTlsOptions,
} from "./container_options.ts";

/** A connection to or from another container. */
interface Connection {
  client: RpcClient;
  /** What the agent proxies over this connection call through. */
  caller: Caller;
  /**
   * The `validate_aid` questions in flight, per aid: concurrent connects to
   * one agent share one. An answer is not kept, as in aiomas: the agent
   * may be removed or added between connects.
   */
  validating: Map<string, Promise<string>>;
}

/** What {@linkcode Connections} needs of its container. */
export interface ConnectionsOptions {
  /** The container's root service, served on every connection. */
  service: Service;
  codec: CodecClass;
  /** The serializers of every connection, in order. */
  serializers: readonly SerializerSpec[];
  tls: ContainerTlsOptions | undefined;
  /** The default timeout in ms of calls over these connections. */
  callTimeout: number | undefined;
  /** Aborted at shutdown, with the error connects in progress reject with. */
  closing: AbortSignal;
  /** Serves one end of an in-memory pair in the local container `name`, if there is one. */
  acceptLocal(name: string, transport: Transport): boolean;
  /** The container's presence on NATS, through which `nats://` containers are dialed. */
  nats: NatsPresence | undefined;
  /** The telemetry options of the connection to or from the container at `peer`. */
  telemetry(peer: string): RpcTelemetryOptions | false;
  /** See `ContainerOptions.onConnectionLost`. */
  onConnectionLost: ((error: unknown, peer: string) => void) | undefined;
  /** See `ContainerOptions.maxFrameSize`. */
  maxFrameSize: number | undefined;
}

/**
 * A container's connections to other containers, one per peer container:
 * accepted ({@linkcode Connections.accept}), dialed on first use
 * ({@linkcode Connections.agent}, the one place that connects) and
 * attached (links to and from Workers). Every connection serves the
 * container's root service to the peer.
 */
export class Connections {
  #options: ConnectionsOptions;
  /** The shared connection to each peer container by address. */
  #byAddress = new Map<string, Promise<Connection>>();
  /** Every open connection, accepted or made. */
  #clients = new Set<RpcClient>();
  /** The dials in progress (entries of #byAddress that have not settled). */
  #dials = new WeakMap<Promise<Connection>, Dial>();
  /** Connections no longer shared after connects timed out on them. */
  #dropped = new DroppedConnections();

  constructor(options: ConnectionsOptions) {
    this.#options = options;
  }

  /** A new codec with the container's serializers. */
  newCodec(): Codec {
    return createCodec(
      this.#options.codec,
      this.#options.serializers,
      this.#options.maxFrameSize,
    );
  }

  /**
   * Serves a connection accepted from a peer; `peer` names its container
   * for the proxies of the references it sends. After shutdown, closes it.
   */
  accept(channel: Channel, peer: string): void {
    if (this.#options.closing.aborted) {
      channel.close().catch(() => {});
      return;
    }
    this.#open(channel, peer);
  }

  /** Makes `transport` the shared connection to the container at `addr`. */
  attach(addr: string, transport: Transport): Promise<void> {
    const channel = new Channel(transport, {
      codec: this.newCodec(),
      peer: addr,
      maxFrameSize: this.#options.maxFrameSize,
      // A Worker link, in this process: nobody to cut, and a MessagePort
      // transfers chunks whole where pieces would be copied.
      writeTimeout: Infinity,
    });
    const connection = this.#open(channel, addr);
    const attached = Promise.resolve(connection);
    this.#byAddress.set(addr, attached);
    const drop = () => {
      if (this.#byAddress.get(addr) === attached) {
        this.#byAddress.delete(addr);
      }
    };
    return connection.client.closed.then(drop, drop);
  }

  /**
   * The caller for the agent at `target` and the agent's class name, over
   * the shared connection to its container (dialed if needed), within
   * `options.timeout` and `options.signal`. Connects that share a dial
   * bound their own wait: the dial stops only when all of them gave up.
   */
  agent(
    target: AgentAddress,
    url: string,
    options: ConnectOptions,
  ): Promise<[Caller, string]> {
    const waiting: Waiting = {};
    return within(
      this.#agent(target, options, waiting),
      options.timeout,
      options.signal,
      `Connecting to ${url}`,
      (reason) => {
        waiting.leave?.();
        // No answer in time on a connection that was open already: it may
        // have gone silent (its peer's host vanished, a NAT dropped it),
        // and every later connect would wait on it too. Later connects dial
        // anew; the calls already on it end by their own timeouts.
        if (reason instanceof DOMException && reason.name === "TimeoutError") {
          waiting.suspect?.();
        }
      },
    );
  }

  /**
   * Rejects the calls pending on every connection with `reason`, leaving
   * the connections open (calls made from now on are sent).
   */
  abandonCalls(reason: unknown): void {
    for (const client of this.#clients) abandonCalls(client.channel, reason);
  }

  /** Closes every connection; pending calls reject with `ConnectionClosedError`. */
  async close(): Promise<void> {
    const outgoing = [...this.#byAddress.values()].map((pending) =>
      pending.then(({ client }) => client.close(), () => {})
    );
    this.#byAddress.clear();
    await Promise.all([
      ...outgoing,
      ...[...this.#clients].map((client) => client.close()),
    ]);
  }

  /**
   * Starts RPC on a connection to or from the container at `peer`: the
   * container is the root service of both ends.
   */
  #open(channel: Channel, peer: string): Connection {
    const label = referenceLabel(peer);
    const { closing, onConnectionLost: lost } = this.#options;
    // Made in the root context: its server spans (and what its handlers
    // call) must not be children of the call that happened to dial it.
    const client = context.with(ROOT_CONTEXT, () =>
      new RpcClient(channel, {
        service: this.#options.service,
        callTimeout: this.#options.callTimeout,
        proxyFor: (path, caller) => createRemote(caller, path, label),
        telemetry: this.#options.telemetry(peer),
        // Not what shutdown ends: links to Workers it stops go first, and
        // the client skips only what it closed itself.
        onConnectionReset: lost &&
          ((error) => closing.aborted || report(lost, error, peer)),
      }));
    // Kept until released, so that close() waits for it.
    this.#clients.add(client);
    client.closed.catch(() => {}).finally(() => this.#clients.delete(client));
    const caller: Caller = (path, args, options) =>
      client.call(path, args, undefined, options);
    sendsOver(caller, client);
    return { client, caller, validating: new Map() };
  }

  async #agent(
    target: AgentAddress,
    options: ConnectOptions,
    waiting: Waiting,
  ): Promise<[Caller, string]> {
    const { connection, fresh, pending } = await this.#connection(
      target,
      options,
      waiting,
    );
    try {
      return await this.#validate(connection, target, fresh, pending, waiting);
    } catch (error) {
      // A shared connection, open before this connect, whose peer closed
      // it just now (its end not read yet when it was handed out): dial
      // once more. Not for a dial of this connect's own.
      if (fresh || !(error instanceof ConnectionClosedError)) throw error;
      const again = await this.#connection(target, options, waiting);
      return await this.#validate(
        again.connection,
        target,
        again.fresh,
        again.pending,
        waiting,
      );
    }
  }

  /**
   * The agent's caller and class name, once its container said it has it;
   * over a connection this connect did not dial (`fresh`), the wait makes
   * `waiting.suspect` drop it (`pending`) from the shared ones.
   */
  async #validate(
    connection: Connection,
    target: AgentAddress,
    fresh: boolean,
    pending: Promise<Connection>,
    waiting: Waiting,
  ): Promise<[Caller, string]> {
    if (!fresh) {
      const key = target.container;
      waiting.suspect = () => {
        if (this.#byAddress.get(key) !== pending) return;
        this.#byAddress.delete(key);
        this.#dropped.drop(key, connection.client);
      };
    }
    const { validating } = connection;
    let validated = validating.get(target.aid);
    if (validated === undefined) {
      const asked = connection.client.call("validate_aid", [target.aid]).then(
        (answer) => className(answer, target),
      );
      validating.set(target.aid, asked);
      asked.catch(() => {}).finally(() => validating.delete(target.aid));
      validated = asked;
    }
    try {
      return [connection.caller, await validated];
    } finally {
      waiting.suspect = undefined;
    }
  }

  /** The shared connection to the container of `target`, opened if needed. */
  async #connection(
    target: AgentAddress,
    options: ConnectOptions,
    waiting: Waiting,
  ): Promise<
    { connection: Connection; fresh: boolean; pending: Promise<Connection> }
  > {
    const key = target.container;
    for (;;) {
      this.#checkOpen();
      let pending = this.#byAddress.get(key);
      let dial = pending && this.#dials.get(pending);
      // A dial that everyone gave up on is not joined: it is stopping.
      if (pending === undefined || dial?.controller.signal.aborted) {
        const begun: Dial = dial = {
          waiters: 0,
          controller: new AbortController(),
          retrying: options.retry === true,
          refused: nextRefusal(),
        };
        const dialing = traceConnect(
          key,
          this.#options.telemetry(key),
          () =>
            this.#dial(target, {
              retry: begun.retrying,
              signal: begun.controller.signal,
              onRetry: (error) => {
                // Those waiting now fail; those who join later wait for
                // the next attempt.
                const refused = begun.refused;
                begun.refused = nextRefusal();
                refused.reject(error);
              },
            }),
        );
        this.#dials.set(dialing, dial);
        const settled = () => this.#dials.delete(dialing);
        dialing.then(settled, settled);
        // A failed or broken connection is dropped, so the next connect dials again.
        const drop = () => {
          if (this.#byAddress.get(key) === dialing) {
            this.#byAddress.delete(key);
          }
        };
        dialing.then(({ client }) => client.closed.then(drop, drop), drop);
        this.#byAddress.set(key, dialing);
        pending = dialing;
      }
      let connection: Connection;
      try {
        const joined = pending;
        connection = dial === undefined ? await joined : await join(
          joined,
          dial,
          waiting,
          options.retry !== true,
          () => this.#dials.has(joined),
        );
      } catch (error) {
        // Joined to another connect's single attempt, which failed: dial
        // again, retrying as this connect asked (a dial that fails for
        // good, retrying or not, fails at once).
        if (
          options.retry === true && dial?.retrying !== true &&
          !this.#options.closing.aborted
        ) {
          if (this.#byAddress.get(key) === pending) this.#byAddress.delete(key);
          continue;
        }
        throw error;
      }
      // `closed` (and so the drop above) settles only once the connection is
      // released; a connection the peer has closed must not be handed out
      // meanwhile, so drop it now and dial again.
      // Fresh: dialed for this connect, or while it waited.
      if (!connection.client.channel.isClosed) {
        return { connection, fresh: dial !== undefined, pending };
      }
      if (this.#byAddress.get(key) === pending) this.#byAddress.delete(key);
    }
  }

  /**
   * Opens a connection to the container of `target` (see `dialChannel`,
   * the one place that connects) and serves the container's service on it.
   */
  async #dial(target: AgentAddress, dial: DialOptions): Promise<Connection> {
    const channel = await dialChannel(target, this.#options, dial);
    if (this.#options.closing.aborted) {
      await channel.close();
      this.#checkOpen();
    }
    return this.#open(channel, target.container);
  }

  #checkOpen(): void {
    const closing = this.#options.closing;
    if (closing.aborted) throw closedError(closing);
  }
}

/** A new error for each call that meets a shut-down container. */
export function closedError(closing: AbortSignal): ConnectionClosedError {
  return new ConnectionClosedError((closing.reason as Error).message);
}
