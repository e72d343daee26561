import type { MosaikProxy } from "./mosaik_proxy.ts";
import type {
  CreateResult,
  InputData,
  Meta,
  MetaInit,
  ModelName,
  OutputData,
  OutputRequest,
  SimId,
  Time,
} from "./types.ts";

/**
 * The mosaik API version this module implements: the default
 * `api_version` of a {@linkcode Simulator}'s meta.
 *
 * @example
 * ```ts
 * import { API_VERSION } from "@aiomas/aiomas/mosaik";
 * import assert from "node:assert/strict";
 *
 * assert.equal(API_VERSION, "3.0");
 * ```
 */
export const API_VERSION = "3.0";

const proxies = new WeakMap<Simulator, MosaikProxy>();

/** Hands a simulator its proxy to mosaik (`runSimulator` does this). */
export function attachMosaik(simulator: Simulator, proxy: MosaikProxy): void {
  proxies.set(simulator, proxy);
}

/**
 * A mosaik simulator: extend it and implement `create`, `step` and
 * `getData`; override `init`, `setupDone` and `stop` when needed. mosaik's
 * wire names map to these methods (`setup_done` to `setupDone`, `get_data`
 * to `getData`, `time_resolution` to `init`'s `timeResolution`); extra
 * methods listed in `meta.extra_methods` are called by those names, with
 * keyword arguments bound by the parameter names given to
 * `@expose({ params })` (from `@aiomas/aiomas/rpc`).
 *
 * Every method may return a value or a promise of it. An error thrown goes
 * to mosaik as a failure `[error.name, error.message, ...traceback]`.
 *
 * @example
 * ```ts
 * import { type CreateResult, type InputData, Simulator } from "@aiomas/aiomas/mosaik";
 * import assert from "node:assert/strict";
 *
 * class Counter extends Simulator {
 *   #counts = new Map<string, number>();
 *   constructor() {
 *     super({ type: "time-based", models: { Counter: { public: true, params: [], attrs: ["count"] } } });
 *   }
 *   create(num: number, model: string): CreateResult[] {
 *     return Array.from({ length: num }, () => {
 *       const eid = `C${this.#counts.size}`;
 *       this.#counts.set(eid, 0);
 *       return { eid, type: model };
 *     });
 *   }
 *   step(time: number, _inputs: InputData): number {
 *     for (const [eid, count] of this.#counts) this.#counts.set(eid, count + 1);
 *     return time + 1;
 *   }
 *   getData(outputs: Record<string, readonly string[]>): Record<string, Record<string, number>> {
 *     return Object.fromEntries(
 *       Object.keys(outputs).map((eid) => [eid, { count: this.#counts.get(eid)! }]),
 *     );
 *   }
 * }
 * const counter = new Counter();
 * counter.create(2, "Counter");
 * counter.step(0, {});
 * assert.deepEqual(counter.getData({ C0: ["count"] }), { C0: { count: 1 } });
 * ```
 */
export abstract class Simulator {
  /** The meta data `init` returns by default. */
  readonly meta: Meta;
  /** The seconds one time unit stands for, as `init` was given it. @default {1} */
  timeResolution = 1;

  /**
   * Creates a simulator with its meta data.
   *
   * @param meta The meta data; `api_version` defaults to `"3.0"`, `type`
   *   to `"time-based"` and `extra_methods` to `[]`, as in
   *   mosaik-api-python.
   */
  constructor(meta: MetaInit) {
    const {
      api_version = API_VERSION,
      models,
      extra_methods = [],
      type = "time-based",
      ...rest
    } = meta;
    // This order of keys is mosaik-api-python's.
    this.meta = { api_version, models, extra_methods, type, ...rest };
  }

  /**
   * mosaik's proxy for the async requests (`getProgress`,
   * `getRelatedEntities`, `getData`, `setData`, `setEvent`), usable from
   * `init` on and while `step` is pending. It is the proxy of the last
   * connection the simulator was served on: serve one instance per
   * connection (mosaik starts a simulator process per `world.start`).
   *
   * @returns The proxy.
   * @throws {Error} Before the simulator is connected to mosaik.
   */
  get mosaik(): MosaikProxy {
    const proxy = proxies.get(this);
    if (proxy === undefined) {
      throw new Error(
        `${this.constructor.name} is not connected to mosaik yet (run it with startSimulation or runSimulator)`,
      );
    }
    return proxy;
  }

  /**
   * mosaik's `init`: the first call. Returns the meta data.
   *
   * @param sid The id mosaik gave this simulator, e.g. `"ExampleSim-0"`.
   * @param timeResolution The seconds one time unit stands for, a finite
   *   number above 0 (already stored in {@linkcode Simulator.timeResolution}).
   * @param simParams The other keyword arguments of `world.start(...)`.
   * @returns The meta data; by default {@linkcode Simulator.meta}.
   */
  init(
    sid: SimId,
    timeResolution: number,
    simParams: Record<string, unknown>,
  ): Meta | Promise<Meta>;
  init(): Meta | Promise<Meta> {
    return this.meta;
  }

  /**
   * mosaik's `create`: makes `num` entities of a public model.
   *
   * @param num How many entities, a whole number from 0 up.
   * @param model The model, a key of `meta.models`.
   * @param modelParams The model's parameters by name (`meta.models[model].params`).
   * @returns One {@linkcode CreateResult} per entity, `num` of them.
   */
  abstract create(
    num: number,
    model: ModelName,
    modelParams: Record<string, unknown>,
  ): CreateResult[] | Promise<CreateResult[]>;

  /**
   * mosaik's `setup_done`: the scenario is built, the simulation starts.
   *
   * @returns Nothing; by default does nothing.
   */
  setupDone(): void | Promise<void> {}

  /**
   * mosaik's `step`: advances to `time` with `inputs`.
   *
   * @param time The time of this step, a whole number from 0 up (the same
   *   time may come again, in a same-time loop).
   * @param inputs The inputs by entity, attribute and sender.
   * @param maxAdvance How far the simulator may advance without missing an
   *   input, a whole number from -1 up: one less than the earliest step
   *   another simulator may still cause (-1 at time 0 in a same-time loop
   *   whose simulators start at 0), or mosaik's `until`
   *   (`Number.MAX_SAFE_INTEGER` for an `until` beyond 2^53 − 1).
   * @returns The time of the next step, or `null` (or nothing) for none.
   */
  abstract step(
    time: Time,
    inputs: InputData,
    maxAdvance: Time,
  ): Time | null | void | Promise<Time | null | void>;

  /**
   * mosaik's `get_data`: the values of the requested attributes.
   *
   * @param outputs The attributes asked for by entity.
   * @returns `{eid: {attr: value}}`, plus `time` for event-based and hybrid
   *   simulators.
   */
  abstract getData(outputs: OutputRequest): OutputData | Promise<OutputData>;

  /**
   * Called when mosaik sends `stop`, before the connection is closed (it
   * gets no reply). An error thrown here makes the process exit non-zero.
   *
   * @returns Nothing; by default does nothing.
   */
  stop(): void | Promise<void> {}
}
