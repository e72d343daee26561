import type { Container } from "./container.ts";
import { internalsOf } from "./_internal.ts";

/**
 * The base class of agents. An agent lives in one container, which gives
 * it the next agent id (`"0"`, `"1"`, …, never reused) and its address
 * `"<container address><aid>"`. Mark the methods other agents may call
 * with `@expose`.
 *
 * @example
 * ```ts
 * import { Agent, Container, expose } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * class Echo extends Agent {
 *   @expose echo(value: number): number {
 *     return value;
 *   }
 * }
 * await using container = await Container.create({ hostname: "127.0.0.1", port: 0 });
 * const agent = new Echo(container);
 * assert.equal(String(agent), `Echo('${container.addr}0')`);
 * const proxy = await container.connect<Echo>(agent.addr);
 * assert.equal(await proxy.echo(42), 42);
 * ```
 */
export class Agent {
  /** The container the agent lives in. */
  readonly container: Container;
  /** The agent id within its container. */
  readonly aid: string;
  /** The agent's address, e.g. `"tcp://127.0.0.1:5555/0"`. */
  readonly addr: string;

  /**
   * Creates the agent and registers it with its container.
   *
   * @param container The container.
   * @throws {TypeError} If `container` is not a Container (for a Promise:
   *   a hint that `await` is missing on `Container.create`).
   * @throws {ConnectionClosedError} If the container is shut down.
   */
  constructor(container: Container) {
    const internal = internalsOf(container, `new ${new.target.name}()`);
    this.container = container;
    this.aid = internal.register(this);
    this.addr = container.addr + this.aid;
  }

  /**
   * `ClassName('<address>')`, as aiomas prints agents.
   *
   * @returns The description.
   */
  toString(): string {
    return `${this.constructor.name}('${this.addr}')`;
  }
}
