import type { Address } from "../channel/_connect.ts";
import { formatError } from "../channel/_traceback.ts";
import { Channel } from "../channel/channel.ts";
import { createMemoryPair } from "../channel/memory_pair.ts";
import { openConnection } from "../channel/open_connection.ts";
import { type Server, startServer } from "../channel/start_server.ts";
import type { Transport } from "../channel/transport.ts";
import type { Codec, CodecClass } from "../codecs/codec.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import { ConnectionClosedError, RemoteError } from "../errors.ts";
import { type Caller, createRemote } from "../rpc/_proxy.ts";
import type { DynamicRemote, Remote } from "../rpc/remote.ts";
import { RpcClient } from "../rpc/rpc_client.ts";
import { lookupError } from "../rpc/service.ts";
import { ContainerService } from "./_container_service.ts";
import { LocalWire } from "./_local_wire.ts";
import { DATE_SERIALIZER } from "./_date_serializer.ts";
import { internals } from "./_internal.ts";
import type { Agent } from "./agent.ts";
import { containerAddress, parseAgentAddress } from "./agent_address.ts";
import type { Clock } from "./clock.ts";
import { RealtimeClock } from "./realtime_clock.ts";

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
}

/** Options of {@linkcode Container.connect}. */
export interface ConnectOptions {
  /**
   * How long to keep retrying a refused connection, in seconds as in
   * aiomas (`0`: one try, `Infinity`: forever).
   *
   * @default {0}
   */
  timeout?: number;
  /** Stops connecting when aborted. */
  signal?: AbortSignal;
}

/**
 * The typed proxy of an agent of class `T`: its methods, without the
 * members every `Agent` has. Printed as `ClassNameProxy('<address>')`.
 */
export type AgentProxy<T> = unknown extends T ? DynamicRemote
  : Remote<Omit<T, keyof Agent>>;

interface Connection {
  client: RpcClient;
  /**
   * Agent class names answered by `validate_aid`, per aid; concurrent
   * connects to one agent share one question.
   */
  classes: Map<string, Promise<string>>;
}

const localContainers = new Map<string, Container>();

/**
 * Hosts agents and carries all calls between them and the agents of other
 * containers, over one connection per peer container (aiomas `Container`).
 *
 * Calls to agents of the same container skip the network and the codec,
 * with the same semantics: arguments and results are copied, agents arrive
 * as proxies, errors as `RemoteError`.
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
  #codec: CodecClass;
  #serializers: SerializerSpec[];
  #tls: ContainerTlsOptions | undefined;
  #server: Server | undefined;
  #localName: string | undefined;
  #agents = new Map<string, Agent>();
  #nextAid = 0;
  #localAgents = new WeakMap<object, Agent>();
  #localProxies = new WeakMap<Agent, DynamicRemote>();
  #service: ContainerService;
  #wire: LocalWire;
  #connections = new Map<string, Promise<Connection>>();
  /** Every open connection, accepted or made. */
  #clients = new Set<RpcClient>();
  #shutdown: Promise<void> | null = null;
  /** Aborted at shutdown, with the error that connects in progress reject with. */
  #closing = new AbortController();
  #shutdownTasks = new Set<() => Promise<void>>();
  #localCaller: Caller = (path, args) => this.#callLocal(path, args);

  private constructor(
    addr: string,
    server: Server | undefined,
    localName: string | undefined,
    options: ContainerOptions,
  ) {
    this.addr = addr;
    this.#server = server;
    this.#localName = localName;
    this.#ownsClock = options.clock === undefined;
    this.clock = options.clock ?? new RealtimeClock();
    this.#codec = options.codec ?? JsonCodec;
    this.#serializers = [DATE_SERIALIZER, ...(options.serializers ?? [])];
    this.#tls = options.tls;
    this.#service = new ContainerService(this.#agents, this.#localAgents);
    this.#wire = new LocalWire(
      this.#codec,
      this.#serializers,
      (value) => this.#service.pathOf(value),
      (path) => this.#referencedLocally(path),
    );
    internals.set(this, {
      register: (agent) => this.#register(agent),
      acceptLocal: (transport) => {
        this.#serve(
          new Channel(transport, { codec: this.#newCodec(), peer: "local" }),
        );
      },
      attach: (addr, transport) => this.#attach(addr, transport),
      onShutdown: (task) => {
        this.#shutdownTasks.add(task);
        return () => this.#shutdownTasks.delete(task);
      },
    });
  }

  /**
   * Starts a container listening at `addr` (aiomas `Container.create`).
   *
   * @param addr `{hostname, port}` or `["host", port]` (port 0 picks a free
   *   port, and `addr` reports it), a Unix socket path,
   *   `"local://<name>"` for a container reachable only in this process, or
   *   `"worker://<name>"` for one inside a Worker (see `startContainerWorker`).
   * @param options Clock, codec, serializers, TLS; see {@linkcode ContainerOptions}.
   * @returns The container.
   * @throws {TypeError} For a malformed address, or a local name in use.
   * @throws {Deno.errors.AddrInUse} If the address is taken.
   */
  static async create(
    addr: Address,
    options: ContainerOptions = {},
  ): Promise<Container> {
    if (typeof addr === "string" && addr.startsWith("worker://")) {
      const name = addr.slice("worker://".length).replace(/\/$/, "");
      if (name === "" || name.includes("/")) {
        throw new TypeError(`Invalid worker address "${addr}"`);
      }
      // Reached only over links attached by startContainerWorker.
      return new Container(
        containerAddress({ worker: name }),
        undefined,
        undefined,
        options,
      );
    }
    if (typeof addr === "string" && addr.startsWith("local://")) {
      const name = addr.slice("local://".length).replace(/\/$/, "");
      if (name === "" || name.includes("/")) {
        throw new TypeError(`Invalid local address "${addr}"`);
      }
      if (localContainers.has(name)) {
        throw new TypeError(
          `Cannot create container: "local://${name}/" exists already`,
        );
      }
      const container = new Container(
        containerAddress({ name }),
        undefined,
        name,
        options,
      );
      localContainers.set(name, container);
      return container;
    }
    // Connections accepted before the constructor returns wait for it.
    const created = Promise.withResolvers<Container>();
    const server = await startServer(addr, async (channel) => {
      (await created.promise).#serve(channel);
    }, {
      codec: options.codec,
      serializers: [DATE_SERIALIZER, ...(options.serializers ?? [])],
      // aiomas verifies the certificates of connecting containers too.
      tls: options.tls && {
        cert: options.tls.cert,
        key: options.tls.key,
        clientCaCerts: options.tls.caCerts,
      },
    });
    const bound = server.addr;
    const container = new Container(
      containerAddress(typeof bound === "string" ? { path: bound } : bound),
      server,
      undefined,
      options,
    );
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
   * @param url The agent's address, e.g. `"tcp://127.0.0.1:5555/0"`.
   * @param options Retrying (`timeout` in seconds) and `signal`.
   * @returns The proxy, printed as `ClassNameProxy('<url>')`.
   * @throws {TypeError} For a malformed address.
   * @throws {Error} Named `LookupError` if there is no such agent there.
   * @throws {ConnectionClosedError} If this container is shut down.
   */
  async connect<T = unknown>(
    url: string,
    options: ConnectOptions = {},
  ): Promise<AgentProxy<T>> {
    const target = parseAgentAddress(url);
    this.#checkOpen();
    if (target.container === this.addr) {
      const agent = this.#agents.get(target.aid);
      if (agent === undefined) throw noSuchAgent(target.aid, this.addr);
      return this.#localProxy(agent) as AgentProxy<T>;
    }
    const connection = await this.#connection(target, options);
    let validated = connection.classes.get(target.aid);
    if (validated === undefined) {
      validated = connection.client.call("validate_aid", [target.aid]).then(
        (answer) => {
          if (answer === null) throw noSuchAgent(target.aid, target.container);
          return String(answer);
        },
      );
      connection.classes.set(target.aid, validated);
      // A failed answer is not kept: the agent may exist later.
      const failed = validated;
      failed.catch(() => {
        if (connection.classes.get(target.aid) === failed) {
          connection.classes.delete(target.aid);
        }
      });
    }
    const className = await validated;
    const caller: Caller = (path, args) => connection.client.call(path, args);
    return createRemote(
      caller,
      `agents/${target.aid}`,
      `${className}Proxy('${url}')`,
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
   * Stops serving, closes every connection (pending calls reject with
   * `ConnectionClosedError`) and, if the container made its clock, cancels
   * its timers. Idempotent.
   *
   * @returns A promise that settles when everything is released.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      this.#closing.abort(
        new ConnectionClosedError(`Container ${this.addr} is shut down`),
      );
      if (this.#localName !== undefined) {
        localContainers.delete(this.#localName);
      }
      // E.g. Workers it started: stopped while their links still work.
      await Promise.all(
        [...this.#shutdownTasks].map((task) => task().catch(() => {})),
      );
      const outgoing = [...this.#connections.values()].map((pending) =>
        pending.then(({ client }) => client.close(), () => {})
      );
      this.#connections.clear();
      await Promise.all([
        this.#server?.close(),
        ...outgoing,
        ...[...this.#clients].map((client) => client.close()),
      ]);
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

  #newCodec(): Codec {
    const codec = new this.#codec();
    for (const [type, toWire, fromWire] of this.#serializers) {
      codec.addSerializer(type, toWire, fromWire);
    }
    return codec;
  }

  /** Serves a connection: the container is the root service of both ends. */
  #serve(channel: Channel): RpcClient {
    const client = new RpcClient(channel, {
      service: this.#service,
      proxyFor: (path, caller) =>
        referenceProxy(path, caller, `tcp://${channel.peer}/`),
    });
    this.#track(client);
    return client;
  }

  /** Keeps `client` until it is released, so that shutdown waits for it. */
  #track(client: RpcClient): void {
    this.#clients.add(client);
    client.closed.catch(() => {}).finally(() => this.#clients.delete(client));
  }

  /** The shared connection to the container of `target`, opened if needed. */
  async #connection(
    target: ReturnType<typeof parseAgentAddress>,
    options: ConnectOptions,
  ): Promise<Connection> {
    const key = target.container;
    for (;;) {
      this.#checkOpen();
      let pending = this.#connections.get(key);
      if (pending === undefined) {
        const dialing = this.#dial(target, options);
        // A failed or broken connection is dropped, so the next connect dials again.
        const drop = () => {
          if (this.#connections.get(key) === dialing) {
            this.#connections.delete(key);
          }
        };
        dialing.then(({ client }) => client.closed.then(drop, drop), drop);
        this.#connections.set(key, dialing);
        pending = dialing;
      }
      const connection = await pending;
      // `closed` (and so the drop above) settles only once the connection is
      // released; a connection the peer has closed must not be handed out
      // meanwhile, so drop it now and dial again.
      if (!connection.client.channel.isClosed) return connection;
      if (this.#connections.get(key) === pending) this.#connections.delete(key);
    }
  }

  async #dial(
    target: ReturnType<typeof parseAgentAddress>,
    options: ConnectOptions,
  ): Promise<Connection> {
    let channel: Channel;
    if (target.scheme === "worker") {
      throw new ConnectionClosedError(
        `No link to ${target.container}: a worker container is reached from the container that started it, its siblings and itself`,
      );
    }
    if (target.scheme === "local") {
      const peer = localContainers.get(target.name);
      if (peer === undefined) {
        throw new ConnectionClosedError(
          `No container at ${target.container} in this process`,
        );
      }
      const [mine, theirs] = createMemoryPair();
      internals.get(peer)!.acceptLocal(theirs);
      channel = new Channel(mine, {
        codec: this.#newCodec(),
        peer: target.container,
      });
    } else {
      channel = await openConnection(
        target.scheme === "tcp"
          ? { hostname: target.hostname, port: target.port }
          : target.path,
        {
          codec: this.#codec,
          serializers: this.#serializers,
          tls: this.#tls,
          timeout: options.timeout,
          // Shutting down stops retrying, or shutdown would wait for it.
          signal: options.signal === undefined
            ? this.#closing.signal
            : AbortSignal.any([options.signal, this.#closing.signal]),
        },
      );
    }
    if (this.#shutdown !== null) {
      await channel.close();
      this.#checkOpen();
    }
    const client = new RpcClient(channel, {
      service: this.#service,
      proxyFor: (path, caller) =>
        referenceProxy(path, caller, target.container),
    });
    this.#track(client);
    return { client, classes: new Map() };
  }

  /** Makes `transport` the shared connection to the container at `addr`. */
  #attach(addr: string, transport: Transport): void {
    const channel = new Channel(transport, {
      codec: this.#newCodec(),
      peer: addr,
    });
    const client = new RpcClient(channel, {
      service: this.#service,
      proxyFor: (path, caller) => referenceProxy(path, caller, addr),
    });
    this.#track(client);
    const attached = Promise.resolve<Connection>({
      client,
      classes: new Map(),
    });
    this.#connections.set(addr, attached);
    const drop = () => {
      if (this.#connections.get(addr) === attached) {
        this.#connections.delete(addr);
      }
    };
    client.closed.then(drop, drop);
  }

  #localProxy(agent: Agent): DynamicRemote {
    let proxy = this.#localProxies.get(agent);
    if (proxy === undefined) {
      proxy = createRemote(
        this.#localCaller,
        `agents/${agent.aid}`,
        `${agent.constructor.name}Proxy('${agent.addr}')`,
      );
      this.#localProxies.set(agent, proxy);
      this.#localAgents.set(proxy, agent);
    }
    return proxy;
  }

  /** The proxy an agent reference of this container decodes to in a local call. */
  #referencedLocally(path: string): object {
    const aid = /^agents\/([^/]+)$/.exec(path)?.[1];
    const agent = aid === undefined ? undefined : this.#agents.get(aid);
    return agent === undefined
      ? referenceProxy(path, this.#localCaller, this.addr)
      : this.#localProxy(agent);
  }

  /**
   * A call to an agent of this container: no network, but the codec's
   * round trip, so that values and errors are those of a remote call.
   */
  async #callLocal(path: string, args: unknown[]): Promise<unknown> {
    // As over a connection: a closed container and arguments that cannot be
    // sent fail here, with their own errors; everything on the callee's side
    // (lookup, the call, a result that cannot be sent back) is a RemoteError.
    this.#checkOpen();
    let received = this.#wire.args(args);
    if (received instanceof Promise) received = await received;
    try {
      const resolved = this.#service.resolve(path);
      const result = await resolved.fn.apply(resolved.thisArg, received);
      const returned = this.#wire.result(result);
      return returned instanceof Promise ? await returned : returned;
    } catch (error) {
      throw new RemoteError(this.addr, formatError(error));
    }
  }
}

/** A proxy for an agent reference received from a peer container. */
function referenceProxy(
  path: string,
  caller: Caller,
  container: string,
): DynamicRemote {
  const match = /^agents\/([^/]+)$/.exec(path);
  const label = match
    ? `AgentProxy('${container}${match[1]}')`
    : `RpcProxy('${path}')`;
  return createRemote(caller, path, label);
}

function noSuchAgent(aid: string, container: string): Error {
  return lookupError(`No agent "${aid}" in container ${container}`);
}
