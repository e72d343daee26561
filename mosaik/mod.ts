/**
 * A simulator API for mosaik, the co-simulation framework (mosaik API 3):
 * extend {@linkcode Simulator}, and run it with
 * {@linkcode startSimulation}, which takes mosaik-api-python's command line
 * (`HOST:PORT` to connect to mosaik, `-r HOST:PORT` to wait for it). mosaik
 * speaks aiomas's channel with the JSON codec; failures travel in mosaik's
 * form `[type, message, ...traceback lines]`.
 *
 * @example A simulator that mosaik starts with
 * `deno run --allow-net counter.ts %(addr)s`
 * ```ts
 * import { type CreateResult, type InputData, type OutputData, type OutputRequest, Simulator, startSimulation } from "@aiomas/aiomas/mosaik";
 *
 * class Counter extends Simulator {
 *   #counts = new Map<string, number>();
 *   #time = 0;
 *   constructor() {
 *     super({ type: "hybrid", models: { Counter: { public: true, params: ["start"], attrs: ["count"] } } });
 *   }
 *   create(num: number, model: string, { start = 0 }: { start?: number }): CreateResult[] {
 *     return Array.from({ length: num }, () => {
 *       const eid = `Counter_${this.#counts.size}`;
 *       this.#counts.set(eid, start);
 *       return { eid, type: model };
 *     });
 *   }
 *   step(time: number, _inputs: InputData, _maxAdvance: number): number {
 *     this.#time = time;
 *     for (const [eid, count] of this.#counts) this.#counts.set(eid, count + 1);
 *     return time + 1;
 *   }
 *   getData(outputs: OutputRequest): OutputData {
 *     const data: OutputData = { time: this.#time };
 *     for (const eid of Object.keys(outputs)) data[eid] = { count: this.#counts.get(eid) };
 *     return data;
 *   }
 * }
 *
 * if (import.meta.main) await startSimulation(new Counter());
 * ```
 *
 * @module
 */
// The channel types that appear in runSimulator's signature.
export type { TraceContextCarrier, Transport } from "../channel/transport.ts";
export { ConnectionClosedError, RemoteError } from "../errors.ts";
// A whole number is an int in mosaik's JSON; Float64 sends a float.
export { Float64 } from "../codecs/float64.ts";
export type { MosaikProxy } from "./mosaik_proxy.ts";
export { runSimulator } from "./run_simulator.ts";
export type { RunSimulatorOptions } from "./run_simulator.ts";
export { API_VERSION, Simulator } from "./simulator.ts";
export { startSimulation } from "./start_simulation.ts";
export type { LogLevel, StartSimulationOptions } from "./start_simulation.ts";
export type {
  Attr,
  CreateResult,
  EntityGraph,
  EntityId,
  EntitySpec,
  FullId,
  InputData,
  Meta,
  MetaInit,
  ModelMeta,
  ModelName,
  OutputData,
  OutputRequest,
  SimId,
  SimulatorType,
  Time,
} from "./types.ts";
