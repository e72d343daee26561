/**
 * An agent module for the process and Worker examples: containers in other
 * processes and in Workers create its agents with
 * `manager.spawn("<this module's URL>#Counter")`.
 */
import { Agent, type Container, expose } from "../mod.ts";

/** Counts the primes below a limit: a fixed amount of CPU work. */
export class Counter extends Agent {
  #label: string;

  /**
   * Creates the agent.
   *
   * @param container Its container.
   * @param label A name used in its answers.
   */
  constructor(container: Container, label = "counter") {
    super(container);
    this.#label = label;
  }

  /**
   * Counts the primes below `limit`.
   *
   * @param limit The limit.
   * @returns `[label, count]`.
   */
  @expose
  primes(limit: number): [string, number] {
    let count = 0;
    for (let n = 2; n < limit; n++) {
      let prime = true;
      for (let d = 2; d * d <= n; d++) {
        if (n % d === 0) {
          prime = false;
          break;
        }
      }
      if (prime) count++;
    }
    return [this.#label, count];
  }
}
