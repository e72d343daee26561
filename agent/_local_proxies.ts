// The proxies of a container's own agents: what `Container.connect` gives
// for one of them (made once per agent, unless the call options differ),
// and what an agent reference decodes to in a call between its agents.
import { type Caller, createRemote } from "../rpc/_proxy.ts";
import type { DynamicRemote } from "../rpc/remote.ts";
import type { CallOptions } from "../rpc/with_options.ts";
import { noSuchAgent } from "./_agent_classes.ts";
import { referenceLabel } from "./_peers.ts";
import type { Agent } from "./agent.ts";

/** The proxies of the agents of the container at `addr`, calling through `caller`. */
export class LocalProxies {
  #addr: string;
  #agents: ReadonlyMap<string, Agent>;
  #caller: Caller;
  #proxies = new WeakMap<Agent, DynamicRemote>();

  constructor(
    addr: string,
    agents: ReadonlyMap<string, Agent>,
    caller: Caller,
  ) {
    this.#addr = addr;
    this.#agents = agents;
    this.#caller = caller;
  }

  /**
   * The proxy of agent `aid`, for `Container.connect`.
   *
   * @throws {LookupError} If there is no such agent.
   */
  proxyOf(aid: string, options: CallOptions | undefined): DynamicRemote {
    const agent = this.#agents.get(aid);
    if (agent === undefined) throw noSuchAgent(aid, this.#addr);
    return options === undefined
      ? this.#localProxy(agent)
      : this.#makeLocalProxy(agent, options);
  }

  /** The proxy an agent reference of this container decodes to in a local call. */
  referenced(path: string): object {
    const aid = /^agents\/([^/]+)$/.exec(path)?.[1];
    const agent = aid === undefined ? undefined : this.#agents.get(aid);
    return agent === undefined
      ? createRemote(this.#caller, path, referenceLabel(this.#addr))
      : this.#localProxy(agent);
  }

  /** The proxy of an agent of this container, made once. */
  #localProxy(agent: Agent): DynamicRemote {
    let proxy = this.#proxies.get(agent);
    if (proxy === undefined) {
      proxy = this.#makeLocalProxy(agent, undefined);
      this.#proxies.set(agent, proxy);
    }
    return proxy;
  }

  #makeLocalProxy(
    agent: Agent,
    options: CallOptions | undefined,
  ): DynamicRemote {
    return createRemote(
      this.#caller,
      `agents/${agent.aid}`,
      `${agent.constructor.name}Proxy('${agent.addr}')`,
      options,
    );
  }
}
