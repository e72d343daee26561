import type { Channel } from "../channel/channel.ts";
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
 * call gives up after `timeout` ms (with a `TimeoutError`), if given.
 */
export class RemoteMosaikProxy implements MosaikProxy {
  #channel: Channel;
  #options: { timeout: number } | undefined;

  constructor(channel: Channel, timeout?: number) {
    this.#channel = channel;
    this.#options = timeout === undefined ? undefined : { timeout };
  }

  getProgress(): Promise<number> {
    return this.#call("get_progress", []) as Promise<number>;
  }

  getRelatedEntities(): Promise<EntityGraph>;
  getRelatedEntities(entity: FullId): Promise<Record<FullId, EntitySpec>>;
  getRelatedEntities(
    entities: readonly FullId[],
  ): Promise<Record<FullId, Record<FullId, EntitySpec>>>;
  getRelatedEntities(
    entities?: FullId | readonly FullId[],
  ): Promise<unknown> {
    return this.#call("get_related_entities", [entities ?? null]);
  }

  getData(
    request: OutputRequest,
  ): Promise<Record<FullId, Record<Attr, unknown>>> {
    return this.#call("get_data", [request]) as Promise<
      Record<FullId, Record<Attr, unknown>>
    >;
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
