import { pathToFileURL } from "node:url";
import { expose } from "../rpc/expose.ts";
import { Agent } from "./agent.ts";
import type { Container } from "./container.ts";
import { ExternalClock } from "./external_clock.ts";

/** An agent class as `Manager.spawn` finds it: constructed with its container first. */
// deno-lint-ignore no-explicit-any
export type AgentClass = new (container: Container, ...args: any[]) => Agent;

/** Options of {@linkcode Manager}. */
export interface ManagerOptions {
  /**
   * Where relative module specifiers in `spawn` are resolved from.
   *
   * @default {the current working directory}
   */
  base?: string | URL;
  /** Called after `stop()` has shut the container down (e.g. to exit the process). */
  onStop?: () => void;
}

/**
 * The agent that manages a container from outside (aiomas
 * `subproc.Manager`): it spawns agents, sets the time of an external clock
 * and stops the container. Create it first, so that it has aid `"0"`.
 *
 * The method names and result shapes are aiomas's, so a Python master can
 * manage a Deno container and the other way round.
 *
 * @example
 * ```ts
 * import { Container, ExternalClock, Manager } from "@aiomas/aiomas/agent";
 * import assert from "node:assert/strict";
 *
 * await using container = await Container.create("local://managed", {
 *   clock: new ExternalClock("2016-01-01T00:00:00+00:00"),
 * });
 * const manager = new Manager(container);
 * assert.equal(manager.aid, "0");
 * manager.set_time(10);
 * assert.equal(container.clock.time(), 10);
 * ```
 */
export class Manager extends Agent {
  #base: string | URL;
  #onStop: (() => void) | undefined;

  /**
   * Creates the manager of `container`.
   *
   * @param container The container to manage.
   * @param options See {@linkcode ManagerOptions}.
   */
  constructor(container: Container, options: ManagerOptions = {}) {
    super(container);
    // pathToFileURL escapes `#`, `%` and spaces and knows Windows drives.
    this.#base = options.base ?? pathToFileURL(`${Deno.cwd()}/`).href;
    this.#onStop = options.onStop;
  }

  /**
   * Creates an agent of a class exported by a module.
   *
   * @param spec `"<module>#<ExportName>"`, e.g. `"./agents.ts#Worker"` or a
   *   full URL; relative modules are resolved from `options.base`.
   * @param args The constructor's arguments after the container.
   * @returns `[agent, address]`; the agent travels as a reference.
   * @throws {TypeError} If the spec is malformed or names no agent class.
   */
  @expose
  async spawn(spec: string, ...args: unknown[]): Promise<[Agent, string]> {
    const AgentClass = await loadAgentClass(spec, this.#base);
    const agent = new AgentClass(this.container, ...args);
    return [agent, agent.addr];
  }

  /**
   * Sets the container's external clock.
   *
   * @param time The new time in seconds (later than the current one).
   * @throws {TypeError} If the container's clock is not an `ExternalClock`.
   * @throws {RangeError} If `time` is not later than the current time.
   */
  @expose
  set_time(time: number): void {
    const clock = this.container.clock;
    if (!(clock instanceof ExternalClock)) {
      throw new TypeError(
        "Cannot set the time: the container's clock is not an ExternalClock",
      );
    }
    clock.setTime(time);
  }

  /**
   * Shuts the container down once this call has been answered.
   */
  @expose
  stop(): void {
    // Let the reply go out first; shutdown then closes every connection.
    setTimeout(async () => {
      await this.container.shutdown();
      this.#onStop?.();
    }, 0);
  }
}

/**
 * Imports the agent class named by a spawn spec.
 *
 * @param spec `"<module>#<ExportName>"`.
 * @param base Where relative modules are resolved from.
 * @returns The class.
 * @throws {TypeError} If the spec is malformed or names no agent class.
 */
export async function loadAgentClass(
  spec: string,
  base: string | URL,
): Promise<AgentClass> {
  const hash = typeof spec === "string" ? spec.lastIndexOf("#") : -1;
  if (hash <= 0 || hash === spec.length - 1) {
    throw new TypeError(
      `Invalid agent spec ${
        JSON.stringify(spec)
      }: expected "<module>#<ExportName>"`,
    );
  }
  const url = new URL(spec.slice(0, hash), base);
  const name = spec.slice(hash + 1);
  const module = await import(url.href);
  if (!(name in module)) {
    throw new TypeError(
      `Invalid agent spec ${
        JSON.stringify(spec)
      }: module "${url.href}" has no export "${name}"`,
    );
  }
  const value = module[name];
  if (typeof value !== "function" || !(value.prototype instanceof Agent)) {
    throw new TypeError(
      `Invalid agent spec ${
        JSON.stringify(spec)
      }: "${name}" is not an Agent class`,
    );
  }
  return value as AgentClass;
}
