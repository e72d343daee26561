import type {
  Attr,
  EntityGraph,
  EntitySpec,
  FullId,
  OutputRequest,
  Time,
} from "./types.ts";

/**
 * The simulator's handle on mosaik: the requests a simulator may make while
 * mosaik waits for its `step` reply ("async requests"), as
 * `this.mosaik` of a connected {@linkcode Simulator}. Each sends
 * `[method, args, {}]` on the simulator's connection and resolves with
 * mosaik's reply.
 *
 * Every method rejects with a `RemoteError` whose `remoteName` and
 * `remoteMessage` are mosaik's exception type and message when mosaik
 * answers with a failure (e.g. `"SimulationError"` for `setEvent` outside
 * real-time mode), with a `ConnectionClosedError` when the connection is
 * gone, and with a `TypeError` when a reply is not of the type promised
 * here (a number of percent, an object). Requests to read or set other
 * simulators' data need the scenario to connect them with
 * `async_requests=True`.
 *
 * @example
 * ```ts
 * import { Channel, createMemoryPair } from "@aiomas/aiomas/channel";
 * import { type InputData, runSimulator, Simulator } from "@aiomas/aiomas/mosaik";
 * import assert from "node:assert/strict";
 *
 * class Watcher extends Simulator {
 *   progress: number[] = [];
 *   constructor() {
 *     super({ type: "event-based", models: {} });
 *   }
 *   create(): [] {
 *     return [];
 *   }
 *   async step(time: number, _inputs: InputData): Promise<null> {
 *     this.progress.push(await this.mosaik.getProgress());
 *     return null;
 *   }
 *   getData(): Record<string, never> {
 *     return {};
 *   }
 * }
 * const [a, b] = createMemoryPair();
 * await using mosaik = new Channel(b);
 * const watcher = new Watcher();
 * const running = runSimulator(watcher, a);
 * const stepped = mosaik.send(["step", [0, {}, 10], {}]);
 * const request = await mosaik.recv(); // the simulator's request
 * assert.deepEqual(request.content, ["get_progress", [], {}]);
 * await request.reply(42.5);
 * assert.equal(await stepped, null);
 * assert.deepEqual(watcher.progress, [42.5]);
 * mosaik.send(["stop", [], {}]).catch(() => {});
 * await running;
 * ```
 */
export interface MosaikProxy {
  /**
   * Asks how far the simulation is.
   *
   * @returns The progress in percent (0 to 100).
   */
  getProgress(): Promise<number>;
  /**
   * Asks for the whole entity graph (mosaik gets `[null]`).
   *
   * @returns Every entity by full id, and the edges between them.
   */
  getRelatedEntities(): Promise<EntityGraph>;
  /**
   * Asks for the entities related to one entity.
   *
   * @param entity The entity's full id, e.g. `"ExampleSim-0.Model_0"`.
   * @returns The related entities by full id.
   */
  getRelatedEntities(entity: FullId): Promise<Record<FullId, EntitySpec>>;
  /**
   * Asks for the entities related to each of several entities.
   *
   * @param entities Full ids.
   * @returns For each of them, its related entities by full id.
   */
  getRelatedEntities(
    entities: readonly FullId[],
  ): Promise<Record<FullId, Record<FullId, EntitySpec>>>;
  /**
   * Reads other simulators' outputs: `{full_id: [attr, ...]}`.
   *
   * @param request The attributes to read, by full id.
   * @returns `{full_id: {attr: value}}`.
   */
  getData(
    request: OutputRequest,
  ): Promise<Record<FullId, Record<Attr, unknown>>>;
  /**
   * Sets other simulators' inputs for their next step:
   * `{src_full_id: {dest_full_id: {attr: value}}}`.
   *
   * @param data The values, by the sending entity and the receiving one.
   * @returns A promise that resolves once mosaik has taken them.
   */
  setData(
    data: Record<FullId, Record<FullId, Record<Attr, unknown>>>,
  ): Promise<void>;
  /**
   * Asks mosaik to step this simulator at `time` (real-time mode only;
   * otherwise mosaik answers with a `SimulationError`).
   *
   * @param time The time of the step.
   * @returns A promise that resolves once mosaik has scheduled it.
   */
  setEvent(time: Time): Promise<void>;
}
