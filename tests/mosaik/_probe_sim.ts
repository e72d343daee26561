// The simulator of capture section A: the tutorial ExampleSim plus what the
// probe did there: extra methods describe(text, upper) and fail(), and, in
// its first step, the async requests get_progress, get_related_entities
// (whole graph, one id, a list of ids) and set_event(5), whose failure it
// survives.

import { ExampleSim, META } from "../../examples/mosaik/example_sim.ts";
import {
  type CreateResult,
  type EntityGraph,
  type EntitySpec,
  type InputData,
  type Meta,
  type OutputData,
  type OutputRequest,
  Simulator,
} from "../../mosaik/mod.ts";
import { expose } from "../../rpc/expose.ts";

/** Python's ValueError, as mosaik shows it. */
export class ValueError extends Error {
  override name = "ValueError";
}

/** What the first step got from mosaik. */
export interface Seen {
  progress?: number;
  graph?: EntityGraph;
  one?: Record<string, EntitySpec>;
  many?: Record<string, Record<string, EntitySpec>>;
  eventError?: unknown;
}

export class ProbeSim extends Simulator {
  readonly seen: Seen = {};
  #inner = new ExampleSim();
  #first = true;

  constructor() {
    super({ ...META, extra_methods: ["describe", "fail"] });
  }

  override init(
    sid: string,
    timeResolution: number,
    simParams: Record<string, unknown>,
  ): Meta {
    this.#inner.init(sid, timeResolution, simParams);
    return this.meta;
  }

  create(
    num: number,
    model: string,
    params: Record<string, unknown>,
  ): CreateResult[] {
    return this.#inner.create(num, model, params);
  }

  async step(
    time: number,
    inputs: InputData,
    maxAdvance: number,
  ): Promise<number> {
    if (this.#first) {
      this.#first = false;
      this.seen.progress = await this.mosaik.getProgress();
      this.seen.graph = await this.mosaik.getRelatedEntities();
      this.seen.one = await this.mosaik.getRelatedEntities(
        "ExampleSim-0.Model_0",
      );
      this.seen.many = await this.mosaik.getRelatedEntities([
        "ExampleSim-0.Model_0",
        "ExampleSim-0.Model_1",
      ]);
      try {
        await this.mosaik.setEvent(5);
      } catch (error) {
        this.seen.eventError = error;
      }
    }
    return this.#inner.step(time, inputs, maxAdvance);
  }

  getData(outputs: OutputRequest): OutputData {
    return this.#inner.getData(outputs);
  }

  @expose({ params: ["text", "upper"] })
  describe(text: string, upper = false): { what: string; n: number } {
    return { what: upper ? text.toUpperCase() : text, n: text.length };
  }

  fail(): never {
    throw new ValueError("fail() was asked to fail");
  }
}
