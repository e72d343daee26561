/**
 * mosaik's tutorial ExampleSim in TypeScript: a hybrid simulator with one
 * model, `ExampleModel`, whose entities add `delta` to `val` at every step.
 *
 * mosaik starts it (cmd mode) with
 *
 *     sim_config = {"ExampleSim": {"cmd": "deno run --allow-net examples/mosaik/example_sim.ts %(addr)s"}}
 *
 * or it waits for mosaik (connect mode) with
 *
 *     deno run --allow-net examples/mosaik/example_sim.ts -r 127.0.0.1:5678
 *
 * and `sim_config = {"ExampleSim": {"connect": "127.0.0.1:5678"}}`.
 *
 * @module
 */
import {
  type CreateResult,
  type InputData,
  type Meta,
  type MetaInit,
  type OutputData,
  type OutputRequest,
  Simulator,
  startSimulation,
} from "../../mosaik/mod.ts";

/** The tutorial's meta data. */
export const META: MetaInit = {
  type: "hybrid",
  models: {
    ExampleModel: {
      public: true,
      params: ["init_val"],
      attrs: ["delta", "val"],
      trigger: ["delta"],
    },
  },
};

/** One entity: `val` grows by `delta` at every step. */
export class ExampleModel {
  /** The value. */
  val: number;
  /** What a step adds to `val`. */
  delta = 1;

  /** @param initVal The first value. */
  constructor(initVal: number) {
    this.val = initVal;
  }

  /** Advances one step. */
  step(): void {
    this.val += this.delta;
  }
}

/** The tutorial's ExampleSim. */
export class ExampleSim extends Simulator {
  /** The entities by id, in the order they were created. */
  readonly entities: Map<string, ExampleModel> = new Map();
  #eidPrefix = "Model_";
  #time = 0;

  /** A simulator with the tutorial's meta data. */
  constructor() {
    super(META);
  }

  /**
   * Takes `eid_prefix` (default `"Model_"`) from the simulator's
   * parameters; others are refused, as Python refuses an unexpected
   * keyword argument (a misspelt name would be ignored otherwise).
   */
  override init(
    _sid: string,
    _timeResolution: number,
    { eid_prefix, ...others }: { eid_prefix?: unknown },
  ): Meta {
    const unexpected = Object.keys(others);
    if (unexpected.length > 0) {
      throw new TypeError(
        `init() got an unexpected keyword argument '${unexpected[0]}'`,
      );
    }
    if (eid_prefix !== undefined && eid_prefix !== null) {
      this.#eidPrefix = String(eid_prefix);
    }
    return this.meta;
  }

  /** Creates `num` entities `<prefix><n>`, numbered across all calls. */
  create(
    num: number,
    model: string,
    { init_val }: { init_val?: unknown },
  ): CreateResult[] {
    if (typeof init_val !== "number") {
      throw new TypeError(`init_val must be a number, not ${init_val}`);
    }
    const created: CreateResult[] = [];
    const next = this.entities.size;
    for (let i = next; i < next + num; i++) {
      const eid = `${this.#eidPrefix}${i}`;
      this.entities.set(eid, new ExampleModel(init_val));
      created.push({ eid, type: model });
    }
    return created;
  }

  /** A new `delta` is the sum of its inputs; then every entity steps. */
  step(time: number, inputs: InputData, _maxAdvance: number): number {
    this.#time = time;
    for (const [eid, model] of this.entities) {
      const deltas = inputs[eid]?.delta;
      if (deltas !== undefined) {
        model.delta = Object.values(deltas).reduce<number>((sum, value) => {
          // As Python's sum() refuses a string.
          if (typeof value !== "number") {
            throw new TypeError(
              `delta of ${eid} must be a number, not ${JSON.stringify(value)}`,
            );
          }
          return sum + value;
        }, 0);
      }
      model.step();
    }
    return time + 1;
  }

  /** The requested attributes, with the time of the last step. */
  getData(outputs: OutputRequest): OutputData {
    const attrs = META.models.ExampleModel.attrs;
    const data: OutputData = {};
    for (const [eid, names] of Object.entries(outputs)) {
      data.time = this.#time;
      const model = this.entities.get(eid);
      if (model === undefined) throw new RangeError(`Unknown entity: ${eid}`);
      const values: Record<string, number> = {};
      for (const attr of names) {
        if (!attrs.includes(attr)) {
          throw new RangeError(`Unknown output attribute: ${attr}`);
        }
        values[attr] = model[attr as "delta" | "val"];
      }
      data[eid] = values;
    }
    return data;
  }
}

if (import.meta.main) await startSimulation(new ExampleSim());
