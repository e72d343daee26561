import { Float64 } from "../codecs/float64.ts";
import type {
  Constructor,
  SerializerSpec,
} from "../codecs/serializer_registry.ts";
import { describe } from "../codecs/serializer_registry.ts";
import { SerializationError } from "../errors.ts";
import { isRemote } from "../rpc/_proxy.ts";
import { Agent } from "./agent.ts";

/**
 * Copies call arguments and results between agents of one container the
 * way a round trip through a codec would, without encoding: plain data is
 * copied, classes with a serializer go through toWire/fromWire, agents
 * become proxies, and what a codec could not send is refused.
 */
export class LocalCopier {
  #serializers: Map<unknown, SerializerSpec>;
  #agentProxy: (agent: Agent) => unknown;
  #maxDepth: number;

  constructor(
    serializers: readonly SerializerSpec[],
    agentProxy: (agent: Agent) => unknown,
    maxDepth: number,
  ) {
    this.#serializers = new Map(
      serializers.map((spec) => [spec[0] as Constructor, spec]),
    );
    this.#agentProxy = agentProxy;
    this.#maxDepth = maxDepth;
  }

  copy(value: unknown, depth = 0): unknown {
    switch (typeof value) {
      case "string":
      case "number":
      case "boolean":
      case "bigint":
        return value;
      case "undefined":
        return null;
      case "object":
        break;
      default:
        throw new SerializationError(
          `Cannot pass ${describe(value)} to an agent`,
        );
    }
    if (value === null) return null;
    if (depth >= this.#maxDepth) {
      throw new SerializationError(
        `Cannot pass value: nesting deeper than maxDepth ${this.#maxDepth} (or a cycle)`,
      );
    }
    if (Array.isArray(value)) {
      const out = new Array(value.length);
      for (let i = 0; i < value.length; i++) {
        out[i] = this.copy(value[i], depth + 1);
      }
      return out;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      const out: Record<string, unknown> = {};
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) continue;
        Object.defineProperty(out, key, {
          value: this.copy(item, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    if (value instanceof Uint8Array) return value.slice();
    if (value instanceof Map) {
      const out = new Map();
      for (const [key, item] of value) {
        out.set(this.copy(key, depth + 1), this.copy(item, depth + 1));
      }
      return out;
    }
    if (value instanceof Float64) return value.value;
    if (value instanceof Agent) return this.#agentProxy(value);
    // A proxy is a reference: passing it within the process shares it.
    if (isRemote(value)) return value;
    const spec = this.#serializers.get(value.constructor);
    if (spec === undefined) {
      throw new SerializationError(
        `Cannot pass ${
          describe(value)
        } to an agent: no serializer is registered for it`,
      );
    }
    return spec[2](this.copy(spec[1](value), depth + 1));
  }
}
