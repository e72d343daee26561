// Type tests: a wrong shape is a compile error. `deno test` type-checks this
// file; each `@ts-expect-error` fails the check if its line compiles.

import assert from "node:assert/strict";
import {
  type CreateResult,
  type EntityGraph,
  type InputData,
  type Meta,
  type MetaInit,
  type OutputData,
  type OutputRequest,
  Simulator,
} from "../../mosaik/mod.ts";

const MODELS = {
  A: { public: true, params: ["x"], attrs: ["y"] },
} as const;

class Good extends Simulator {
  constructor() {
    super({ type: "event-based", models: MODELS, extra_methods: [] });
  }
  override init(): Meta {
    return this.meta;
  }
  create(num: number, model: string): CreateResult[] {
    return Array.from({ length: num }, (_, i) => ({
      eid: `${model}_${i}`,
      type: model,
      rel: [],
      children: [{ eid: `child_${i}`, type: "B" }],
    }));
  }
  async step(time: number, inputs: InputData): Promise<number | null> {
    const graph: EntityGraph = await this.mosaik.getRelatedEntities();
    const one = await this.mosaik.getRelatedEntities("S-0.A_0");
    const many = await this.mosaik.getRelatedEntities(["S-0.A_0"]);
    const progress: number = await this.mosaik.getProgress();
    await this.mosaik.setData({ "S-0.A_0": { "T-0.B_0": { y: 1 } } });
    await this.mosaik.setEvent(time + 1);
    const values = await this.mosaik.getData({ "T-0.B_0": ["y"] });
    void [graph.edges, one["x"]?.sid, many["S-0.A_0"], progress, values];
    // @ts-expect-error getRelatedEntities(id) is not the graph
    (await this.mosaik.getRelatedEntities("S-0.A_0")).nodes.length;
    // @ts-expect-error set_event takes a time
    await this.mosaik.setEvent("5");
    // @ts-expect-error set_data is {src: {dest: {attr: value}}}
    await this.mosaik.setData({ "S-0.A_0": 1 });
    return Object.keys(inputs).length > 0 ? time + 1 : null;
  }
  getData(outputs: OutputRequest): OutputData {
    return {
      time: 0,
      ...Object.fromEntries(Object.keys(outputs).map((eid) => [eid, { y: 1 }])),
    };
  }
}

class WrongInitMeta extends Simulator {
  constructor() {
    super({ models: MODELS });
  }
  override init(): Meta {
    // @ts-expect-error "type" must be "time-based", "event-based" or "hybrid"
    return { api_version: "3.0", type: "timebased", models: MODELS };
  }
  create(): CreateResult[] {
    return [];
  }
  step(): null {
    return null;
  }
  getData(): OutputData {
    return {};
  }
}

class WrongMetaShapes extends WrongInitMeta {
  override init(): Meta {
    // @ts-expect-error a meta without models
    return { api_version: "3.0", type: "hybrid" };
  }
  // @ts-expect-error setupDone returns nothing
  override setupDone(): number {
    return 1;
  }
}

const badModel: MetaInit = {
  models: {
    // @ts-expect-error "public" is a boolean
    A: { public: "yes", params: [], attrs: [] },
  },
};
const missingAttrs: MetaInit = {
  // @ts-expect-error a model needs attrs
  models: { A: { public: true, params: [] } },
};
const triggerAll: MetaInit = {
  models: {
    // @ts-expect-error trigger is a list of attributes (mosaik refuses true)
    A: { public: true, params: [], attrs: ["x"], trigger: true },
  },
};
const persistentAll: MetaInit = {
  models: {
    // @ts-expect-error persistent is a list of attributes (mosaik refuses true)
    A: { public: true, params: [], attrs: ["x"], persistent: true },
  },
};
const otherForms: MetaInit = {
  models: {
    A: {
      public: true,
      params: [],
      attrs: ["x", "y"],
      "non-trigger": ["y"],
      "non-persistent": ["x"],
    },
  },
  set_events: true,
};
const typo: MetaInit = {
  models: {},
  // @ts-expect-error extra_methods, not extraMethods
  extraMethods: ["x"],
};

class WrongReturns extends WrongInitMeta {
  override create(): CreateResult[] {
    // @ts-expect-error create returns entities with a string eid
    return [{ eid: 1, type: "A" }];
  }
  // @ts-expect-error step returns a time (or null), not a string
  override step(): string {
    return "1";
  }
  override getData(): OutputData {
    // @ts-expect-error "time" is a number
    return { time: "0" };
  }
}

// @ts-expect-error create, step and getData are abstract
class Incomplete extends Simulator {
  constructor() {
    super({ models: {} });
  }
}

Deno.test("the mosaik types compile where right and refuse wrong shapes (see @ts-expect-error)", () => {
  assert.equal(new Good().meta.type, "event-based");
  void [
    WrongMetaShapes,
    WrongReturns,
    Incomplete,
    badModel,
    missingAttrs,
    triggerAll,
    persistentAll,
    otherForms,
    typo,
  ];
});
