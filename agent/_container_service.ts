import { type Caller, remoteInfo } from "../rpc/_proxy.ts";
import { callContext, runInContext } from "../rpc/call_context.ts";
import { type Resolved, Service, type ServiceMember } from "../rpc/service.ts";
import { markServing } from "./_telemetry.ts";
import type { Agent } from "./agent.ts";

/** How many resolved paths a container keeps. */
const CACHED_PATHS = 4096;

/**
 * The root service of every connection of a container: `validate_aid(aid)`
 * and the sub-service `agents`, so method `m` of agent `3` is `agents/3/m`.
 */
export class ContainerService extends Service {
  #agents: ReadonlyMap<string, Agent>;
  #agentsMember: ServiceMember;
  #validateAid: ServiceMember;
  #localCaller: Caller;
  #closing: AbortSignal;
  /** The container's address, if calls are traced (see `markServing`). */
  #traced: string | undefined;
  /** Resolved paths: every call to an agent resolves one (see `forget`). */
  #resolved = new Map<string, Resolved>();

  /**
   * @param agents The container's agents by id.
   * @param localCaller What the proxies of its own agents call through.
   * @param closing Aborted when the container shuts down.
   * @param traced The container's address if calls are traced: agents'
   *   methods then run marked as served by their agent.
   */
  constructor(
    agents: ReadonlyMap<string, Agent>,
    localCaller: Caller,
    closing: AbortSignal,
    traced: string | undefined,
  ) {
    super({});
    this.#agents = agents;
    this.#localCaller = localCaller;
    this.#closing = closing;
    this.#traced = traced;
    // Made once: every call to an agent looks it up.
    this.#agentsMember = {
      kind: "service",
      service: new AgentsService(agents),
    };
    this.#validateAid = {
      kind: "function",
      fn: (aid: unknown) =>
        typeof aid === "string"
          ? this.#agents.get(aid)?.constructor.name ?? null
          : null,
      options: { params: ["aid"] },
    };
  }

  /**
   * Resolves a path, from a cache: an agent's methods do not change while
   * it lives, and {@linkcode forget} is called when one is removed. Only
   * paths that resolved are kept, and at most CACHED_PATHS of them.
   *
   * A handler that reads its `callContext()` gets a signal that also
   * aborts when the container shuts down, not only when its caller's
   * connection has closed (which a clean shutdown delays until the
   * handlers being served have answered).
   */
  override resolve(path: string): Resolved {
    let resolved = this.#resolved.get(path);
    if (resolved === undefined) {
      resolved = super.resolve(path);
      if (resolved.options.context === true) {
        resolved = withFn(resolved, this.#withShutdown(resolved.fn));
      }
      const aid = this.#traced === undefined
        ? undefined
        : /^agents\/([^/]+)\//.exec(path)?.[1];
      if (aid !== undefined) {
        resolved = withFn(
          resolved,
          markServing(this.#traced + aid, resolved.fn),
        );
      }
      if (this.#resolved.size >= CACHED_PATHS) this.#resolved.clear();
      this.#resolved.set(path, resolved);
    }
    return resolved;
  }

  #withShutdown(
    fn: (...args: unknown[]) => unknown,
  ): (...args: unknown[]) => unknown {
    const closing = this.#closing;
    return function (this: unknown, ...args: unknown[]): unknown {
      const { signal, peer } = callContext();
      return runInContext(
        { signal: AbortSignal.any([signal, closing]), peer },
        fn,
        this,
        args,
      );
    };
  }

  /** Drops the cached paths (an agent was removed). */
  forget(): void {
    this.#resolved.clear();
  }

  /**
   * An agent of this container, or a proxy of one made by this container
   * (also through `withOptions`), travels as `agents/<aid>`.
   */
  override pathOf(value: object): string | undefined {
    const info = remoteInfo(value);
    if (info !== undefined) {
      if (info.caller !== this.#localCaller) return undefined;
      const aid = /^agents\/([^/]+)$/.exec(info.path)?.[1];
      return aid !== undefined && this.#agents.has(aid) ? info.path : undefined;
    }
    const aid = (value as { aid?: unknown }).aid;
    if (typeof aid === "string" && this.#agents.get(aid) === value) {
      return `agents/${aid}`;
    }
    return undefined;
  }

  protected override get thisArg(): unknown {
    return undefined;
  }

  protected override memberNames(): Iterable<string> {
    return ["validate_aid", "agents"];
  }

  protected override member(name: string): ServiceMember {
    if (name === "validate_aid") return this.#validateAid;
    if (name === "agents") return this.#agentsMember;
    return undefined;
  }

  protected override qualname(name: string): string {
    return `Container.${name}`;
  }
}

/** The `agents` sub-service: agent id → the agent's own service. */
class AgentsService extends Service {
  #agents: ReadonlyMap<string, Agent>;

  constructor(agents: ReadonlyMap<string, Agent>) {
    super({});
    this.#agents = agents;
  }

  protected override memberNames(): Iterable<string> {
    return [];
  }

  protected override member(name: string): ServiceMember {
    const agent = this.#agents.get(name);
    return agent === undefined
      ? undefined
      : { kind: "service", service: Service.of(agent) };
  }

  protected override qualname(name: string): string {
    return `agents.${name}`;
  }
}

/**
 * `resolved` calling `fn` instead. Not a spread: that would drop the
 * `qualname` getter, and error messages would name `undefined()`.
 */
function withFn(
  resolved: Resolved,
  fn: (...args: unknown[]) => unknown,
): Resolved {
  return {
    fn,
    thisArg: resolved.thisArg,
    options: resolved.options,
    get qualname(): string {
      return resolved.qualname;
    },
  };
}
