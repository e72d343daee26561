import type { Channel } from "../channel/channel.ts";
import { formatPeerValue } from "../channel/_message.ts";
import type { MosaikProxy } from "./mosaik_proxy.ts";
import type {
  Attr,
  EntityGraph,
  EntitySpec,
  FullId,
  OutputRequest,
  Time,
} from "./types.ts";

const NO_KWARGS: Record<string, never> = Object.freeze({});

/**
 * The {@linkcode MosaikProxy} of a simulator's connection to mosaik; each
 * call gives up after `timeout` ms (with a `TimeoutError`), if given, and
 * when `stopped` aborts (mosaik sent stop: the simulation is over).
 */
export class RemoteMosaikProxy implements MosaikProxy {
  #channel: Channel;
  #options: { timeout?: number; signal: AbortSignal };

  constructor(channel: Channel, stopped: AbortSignal, timeout?: number) {
    this.#channel = channel;
    this.#options = timeout === undefined
      ? { signal: stopped }
      : { timeout, signal: stopped };
  }

  async getProgress(): Promise<number> {
    const progress = await this.#call("get_progress", []);
    if (typeof progress !== "number") {
      throw unexpected("get_progress", progress, "a number");
    }
    return progress;
  }

  getRelatedEntities(): Promise<EntityGraph>;
  getRelatedEntities(entity: FullId): Promise<Record<FullId, EntitySpec>>;
  getRelatedEntities(
    entities: readonly FullId[],
  ): Promise<Record<FullId, Record<FullId, EntitySpec>>>;
  async getRelatedEntities(
    entities?: FullId | readonly FullId[],
  ): Promise<unknown> {
    return expectMap(
      "get_related_entities",
      await this.#call("get_related_entities", [entities ?? null]),
    );
  }

  async getData(
    request: OutputRequest,
  ): Promise<Record<FullId, Record<Attr, unknown>>> {
    return expectMap(
      "get_data",
      await this.#call("get_data", [request]),
    ) as Record<FullId, Record<Attr, unknown>>;
  }

  async setData(
    data: Record<FullId, Record<FullId, Record<Attr, unknown>>>,
  ): Promise<void> {
    await this.#call("set_data", [data]);
  }

  async setEvent(time: Time): Promise<void> {
    await this.#call("set_event", [time]);
  }

  #call(method: string, args: unknown[]): Promise<unknown> {
    return this.#channel.send([method, args, NO_KWARGS], this.#options);
  }
}

/** A reply of mosaik's of the type its API promises, or a `TypeError`. */
function expectMap(method: string, reply: unknown): Record<string, unknown> {
  if (typeof reply !== "object" || reply === null || Array.isArray(reply)) {
    throw unexpected(method, reply, "an object");
  }
  return reply as Record<string, unknown>;
}

function unexpected(
  method: string,
  reply: unknown,
  expected: string,
): TypeError {
  return new TypeError(
    `mosaik answered ${method} with ${
      formatPeerValue(reply)
    }; expected ${expected}`,
  );
}
