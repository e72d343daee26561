import { exposedInfo } from "./expose.ts";
import { Service, type ServiceMember } from "./service.ts";

/** What a {@linkcode ServiceDict} may hold: functions and sub-services. */
export type ServiceDictEntries = Record<
  string,
  ((...args: never[]) => unknown) | object
>;

/**
 * A service made of a dictionary (aiomas's `ServiceDict`): every function
 * in it is exposed, every object in it is a sub-service. Only the
 * dictionary's own entries are reachable.
 *
 * @example
 * ```ts
 * import { ServiceDict } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * const service = new ServiceDict({
 *   add: (a: number, b: number) => a + b,
 *   sub: new ServiceDict({ mul: (a: number, b: number) => a * b }),
 * });
 * const { fn } = service.resolve("sub/mul");
 * assert.equal(fn(6, 7), 42);
 * ```
 */
export class ServiceDict extends Service {
  #entries: Map<string, unknown>;

  /**
   * Creates the service.
   *
   * @param entries Functions (exposed under their keys) and sub-services.
   */
  constructor(entries: ServiceDictEntries) {
    super(entries);
    this.#entries = new Map(Object.entries(entries));
  }

  /**
   * Functions in a dictionary are called without `this`.
   *
   * @returns undefined.
   */
  protected override get thisArg(): unknown {
    return undefined;
  }

  /**
   * The dictionary's keys.
   *
   * @returns The keys.
   */
  protected override memberNames(): Iterable<string> {
    return this.#entries.keys();
  }

  /**
   * Looks up one of the dictionary's own entries.
   *
   * @param name One part of a path.
   * @returns The function or sub-service under that key.
   */
  protected override member(name: string): ServiceMember {
    if (!this.#entries.has(name)) return undefined;
    const value = this.#entries.get(name);
    if (typeof value === "function") {
      return {
        kind: "function",
        fn: value as (...args: unknown[]) => unknown,
        options: exposedInfo(value) ?? {},
      };
    }
    if (typeof value === "object" && value !== null) {
      return { kind: "service", service: Service.of(value) };
    }
    return { kind: "hidden" };
  }

  /**
   * Entries are named by their key.
   *
   * @param name The key.
   * @returns The key.
   */
  protected override qualname(name: string): string {
    return name;
  }
}
