import type { Address } from "../channel/address.ts";
import type { Channel } from "../channel/channel.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import { ConnectionClosedError } from "../errors.ts";
import { type Caller, createRemote } from "../rpc/_proxy.ts";
import { type CallOptions, checkTimeout } from "../rpc/with_options.ts";
import { checkCount } from "../channel/_channel_options.ts";
import { Connections } from "./_connections.ts";
import { createCodec } from "../channel/_codec.ts";
import { ContainerService } from "./_container_service.ts";
import { serializerNames } from "./_load_serializers.ts";
import { LocalCalls } from "./_local_calls.ts";
import { LocalProxies } from "./_local_proxies.ts";
import { LocalWire } from "./_local_wire.ts";
import { DATE_SERIALIZER } from "./_date_serializer.ts";
import { internals } from "./_internal.ts";
import { acceptLocal, listen, type Listening } from "./_listen.ts";
import { agentTelemetry } from "./_telemetry.ts";
import type { Agent } from "./agent.ts";
import { parseAgentAddress } from "./agent_address.ts";
import type { Clock } from "./clock.ts";
import type {
  AgentProxy,
  ConnectOptions,
  ContainerOptions,
} from "./container_options.ts";
import { RealtimeClock } from "./realtime_clock.ts";

export type {
  AgentProxy,
  ConnectOptions,
  ContainerNatsOptions,
  ContainerNatsSessionOptions,
  ContainerOptions,
  ContainerTlsOptions,
} from "./container_options.ts";

/**
 * Hosts agents and carries all calls between them and the agents of other
 * containers, over one connection per peer container (aiomas `Container`).
 *
 * Calls to agents of the same container skip the network, not the
 * semantics: arguments and results take a round trip through the
 * container's codec and serializers (so they arrive as they would from
 * another container, and what a peer could not be sent fails alike),
 * agents arrive as proxies, errors as `RemoteError`, and timeouts, aborts
 * and shutdown work as for remote calls.
 *
 * @example
 * ```ts
 * import { Agent, Container, expose } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * class Callee extends Agent {
 *   @expose service(value: number): number {
 *     return value;
 *   }
 * }
 * await using a = await Container.create({ hostname: "127.0.0.1", port: 0 });
 * await using b = await Container.create({ hostname: "127.0.0.1", port: 0 });
 * const callee = new Callee(b);
 * const proxy = await a.connect<Callee>(callee.addr);
 * assert.equal(String(proxy), `CalleeProxy('${callee.addr}')`);
 * assert.equal(await proxy.service(42), 42);
 * ```
 */
export class Container implements AsyncDisposable {
  /** The container's address with a trailing slash, e.g. `"tcp://127.0.0.1:5555/"`. */
  readonly addr: string;
  /** The container's clock. */
  readonly clock: Clock;
  #ownsClock: boolean;
  #listening: Listening;
  #agents = new Map<string, Agent>();
  #nextAid = 0;
  #proxies: LocalProxies;
  #service: ContainerService;
  #local: LocalCalls;
  #connections: Connections;
  #shutdown: Promise<void> | null = null;
  /** Aborted at shutdown, with the error that connects in progress reject with. */
  #closing = new AbortController();
  #shutdownTasks = new Set<() => Promise<void>>();
  #localCaller: Caller = (path, args, options) =>
    this.#local.call(path, args, options);

  private constructor(listening: Listening, options: ContainerOptions) {
    const addr = listening.addr;
    this.addr = addr;
    this.#listening = listening;
    this.#proxies = new LocalProxies(addr, this.#agents, this.#localCaller);
    this.#ownsClock = options.clock === undefined;
    this.clock = options.clock ?? new RealtimeClock();
    const codec = options.codec ?? JsonCodec;
    const serializers = [DATE_SERIALIZER, ...(options.serializers ?? [])];
    const callTimeout = options.callTimeout === Infinity
      ? undefined
      : options.callTimeout;
    // Decided once: a container that records nothing does nothing for it.
    const telemetry = agentTelemetry(addr, this.clock, options);
    this.#service = new ContainerService(
      this.#agents,
      this.#localCaller,
      this.#closing.signal,
      telemetry.local && addr,
    );
    this.#local = new LocalCalls(
      addr,
      this.#service,
      new LocalWire(
        codec,
        serializers,
        (value) => this.#service.pathOf(value),
        (path) => this.#proxies.referenced(path),
      ),
      callTimeout,
      this.#closing.signal,
      telemetry.local,
    );
    this.#connections = new Connections({
      service: this.#service,
      codec,
      serializers,
      tls: options.tls,
      callTimeout,
      closing: this.#closing.signal,
      acceptLocal: (name, transport) =>
        acceptLocal(name, transport, listening.addr),
      nats: listening.nats,
      telemetry: telemetry.connection,
      onConnectionLost: options.onConnectionLost,
      maxFrameSize: options.maxFrameSize,
    });
    internals.set(this, {
      register: (agent) => this.#register(agent),
      nextAid: () => this.#nextAid,
      attach: (addr, transport) => this.#connections.attach(addr, transport),
      onShutdown: (task) => {
        this.#checkOpen();
        this.#shutdownTasks.add(task);
        return () => this.#shutdownTasks.delete(task);
      },
      checkOpen: () => this.#checkOpen(),
      serializerNames: () => serializerNames(options.serializers ?? []),
      codec,
      maxFrameSize: options.maxFrameSize,
    });
  }

  /**
   * Starts a container listening at `addr` (aiomas `Container.create`).
   *
   * @param addr Any form of the channel layer's `Address` (port 0 picks a
   *   free port, and `addr` reports it): TCP as `"host:port"`,
   *   `"tcp://host:port"`, `"[::1]:port"`, `{ hostname, port }` or
   *   `["host", port]`; a Unix socket as `"unix:/path/to.sock"` or
   *   `{ path }`. Or `"local://<name>"` for a container reachable only in
   *   this process, `"worker://<name>"` for one inside a Worker (see
   *   `startContainerWorker`), or `"nats://<name>"` for one on NATS
   *   (with `options.nats`), which claims the name there: its agents are
   *   at `nats://<name>/<aid>`.
   * @param options Clock, codec, serializers, TLS, call timeout, NATS; see
   *   {@linkcode ContainerOptions}. With `nats` (and `nats.name`), a
   *   container at any address is reachable over NATS too.
   * @returns The container.
   * @throws {TypeError} For a malformed address (the message quotes it and
   *   lists the accepted forms), malformed NATS options, or a local or
   *   NATS name in use (by a live container).
   * @throws {RangeError} If `callTimeout` is not a number of milliseconds
   *   from 0 up, `maxFrameSize` not a whole number from 1 up, or a NATS
   *   session timing is not above 0.
   * @throws {Deno.errors.AddrInUse} If the address is taken.
   * @throws {Error} If NATS cannot be reached (nats.js's error).
   *
   * @example On NATS, and over TCP and NATS at once
   * ```ts ignore
   * import { Container } from "@aiomas/aiomas";
   *
   * const nats = { servers: "127.0.0.1:4222" };
   * await using alice = await Container.create("nats://alice", { nats });
   * await using both = await Container.create("127.0.0.1:0", {
   *   nats: { ...nats, name: "both" }, // also at nats://both/
   * });
   * ```
   */
  static async create(
    addr: Address,
    options: ContainerOptions = {},
  ): Promise<Container> {
    checkTimeout(options.callTimeout, "callTimeout");
    if (options.maxFrameSize !== undefined) {
      checkCount(options.maxFrameSize, "maxFrameSize");
    }
    // Connections accepted before the constructor returns wait for it.
    const created = Promise.withResolvers<Container>();
    created.promise.catch(() => {});
    const accept = async (channel: Channel, peer: string) => {
      try {
        (await created.promise).#connections.accept(channel, peer);
      } catch {
        await channel.close();
      }
    };
    const serializers = [DATE_SERIALIZER, ...(options.serializers ?? [])];
    const codec = () =>
      createCodec(
        options.codec ?? JsonCodec,
        serializers,
        options.maxFrameSize,
      );
    let listening: Listening;
    let container: Container;
    try {
      // A codec that throws (a serializer twice, say) throws here, before
      // a name, a port or a NATS presence is taken.
      codec();
      listening = await listen(addr, options, accept, codec);
    } catch (error) {
      created.reject(error);
      throw error;
    }
    try {
      container = new Container(listening, options);
    } catch (error) {
      created.reject(error);
      await listening.close(Promise.resolve());
      throw error;
    }
    created.resolve(container);
    return container;
  }

  /** The agents of this container by id. */
  get agents(): ReadonlyMap<string, Agent> {
    return this.#agents;
  }

  /**
   * Returns a proxy of the agent at `url`: over the shared connection to
   * its container (opened on first use; concurrent calls share one
   * attempt), or directly for agents of this container.
   *
   * @typeParam T The agent's class, for a typed proxy.
   * @param url The agent's address: `"tcp://<host>:<port>/<aid>"` (IPv6
   *   hosts in brackets), `"ipc://[<socket path>]/<aid>"`,
   *   `"local://<name>/<aid>"`, `"worker://<name>/<aid>"` or
   *   `"nats://<name>/<aid>"` (from a container with `options.nats`;
   *   `retry` then waits for the name to be taken).
   * @param options Deadline (`timeout`, ms), `retry`, `signal`, and the
   *   proxy's `callTimeout`; see {@linkcode ConnectOptions}.
   * @returns The proxy, printed as `ClassNameProxy('<url>')`.
   * @throws {TypeError} For a malformed address, or TCP port 0.
   * @throws {RangeError} For a `timeout` or `callTimeout` that is not a
   *   number of milliseconds from 0 up.
   * @throws {LookupError} If there is no such agent there.
   * @throws {ProtocolError} If its container answers with something other
   *   than the agent's class name (which is clipped at 256 characters).
   * @throws {ConnectionClosedError} If this container is shut down, the
   *   connection closes before the agent is found, or (for NATS) no
   *   container holds the name, at once, or this one is not on NATS.
   * @throws {Deno.errors.ConnectionRefused} If nothing listens at a TCP or
   *   Unix address (without `retry`); the message names the address.
   * @throws {DOMException} `TimeoutError` when `timeout` passes first, or
   *   the signal's reason (an `AbortError` by default) when it aborts.
   *
   * @example Bounded calls: a default per container, per proxy, per call
   * ```ts
   * import { Agent, Container, expose, withOptions } from "@aiomas/aiomas";
   * import assert from "node:assert/strict";
   *
   * class Sloth extends Agent {
   *   #never = Promise.withResolvers<never>();
   *   @expose nap(): Promise<never> {
   *     return this.#never.promise; // never answers
   *   }
   * }
   * await using b = await Container.create("127.0.0.1:0");
   * await using a = await Container.create("127.0.0.1:0", { callTimeout: 5_000 });
   * const sloth = new Sloth(b);
   * const proxy = await a.connect<Sloth>(sloth.addr, { timeout: 1_000 });
   * await assert.rejects(withOptions(proxy, { timeout: 20 }).nap(), { name: "TimeoutError" });
   * const controller = new AbortController();
   * const call = withOptions(proxy, { signal: controller.signal }).nap();
   * controller.abort();
   * await assert.rejects(call, { name: "AbortError" });
   * ```
   */
  async connect<T = unknown>(
    url: string,
    options: ConnectOptions = {},
  ): Promise<AgentProxy<T>> {
    const target = parseAgentAddress(url);
    checkTimeout(options.timeout, "timeout");
    checkTimeout(options.callTimeout, "callTimeout");
    this.#checkOpen();
    const callOptions: CallOptions | undefined =
      options.callTimeout === undefined
        ? undefined
        : { timeout: options.callTimeout };
    if (this.#listening.isSelf(target.container)) {
      // As a connection would: an aborted signal wins.
      options.signal?.throwIfAborted();
      return this.#proxies.proxyOf(target.aid, callOptions) as AgentProxy<T>;
    }
    const [caller, className] = await this.#connections.agent(
      target,
      url,
      options,
    );
    return createRemote(
      caller,
      `agents/${target.aid}`,
      `${className}Proxy('${url}')`,
      callOptions,
    ) as AgentProxy<T>;
  }

  /**
   * Removes an agent. Its id is never given to another agent; calls to it
   * fail with a `LookupError`.
   *
   * @param agent The agent or its id.
   * @returns Whether it was in this container.
   */
  removeAgent(agent: Agent | string): boolean {
    const aid = typeof agent === "string" ? agent : agent.aid;
    if (typeof agent !== "string" && this.#agents.get(aid) !== agent) {
      return false;
    }
    const removed = this.#agents.delete(aid);
    if (removed) this.#service.forget();
    return removed;
  }

  /**
   * Stops serving, stops the Worker and process containers it started,
   * closes every connection (pending calls reject with
   * `ConnectionClosedError`) and, if the container made its clock, cancels
   * its timers. Idempotent. It answers the calls being handled first (for
   * up to 1 s each connection), so an agent's method that awaits it waits
   * for itself that long and its caller loses the answer: start it with
   * `setTimeout(() => container.shutdown())` there, as `Manager.stop`
   * does.
   *
   * @returns A promise that settles when everything is released.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      const reason = new ConnectionClosedError(
        `Container ${this.addr} is shut down`,
      );
      this.#closing.abort(reason);
      // At once, not after the children have stopped (up to seconds).
      this.#connections.abandonCalls(reason);
      this.#listening.unlist();
      // E.g. Workers it started: stopped while their links still work.
      await Promise.all(
        [...this.#shutdownTasks].map((task) => task().catch(() => {})),
      );
      const closed = this.#connections.close();
      await Promise.all([this.#listening.close(closed), closed]);
      if (this.#ownsClock) this.clock.cancelAll();
    })();
    return this.#shutdown;
  }

  /**
   * Shuts the container down (for `await using`).
   *
   * @returns A promise that settles when everything is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  /**
   * `Container('<address>')`.
   *
   * @returns The description.
   */
  toString(): string {
    return `Container('${this.addr}')`;
  }

  #checkOpen(): void {
    if (this.#shutdown !== null) {
      throw new ConnectionClosedError(`Container ${this.addr} is shut down`);
    }
  }

  #register(agent: Agent): string {
    this.#checkOpen();
    const aid = String(this.#nextAid++);
    this.#agents.set(aid, agent);
    return aid;
  }
}
