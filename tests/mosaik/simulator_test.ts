import assert from "node:assert/strict";
import { ExampleSim } from "../../examples/mosaik/example_sim.ts";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { collectGarbage } from "../_collect.ts";
import {
  type CreateResult,
  type InputData,
  type Meta,
  type OutputData,
  type OutputRequest,
  RemoteError,
  runSimulator,
  Simulator,
} from "../../mosaik/mod.ts";
import { assertFailure, InProcess } from "./_mosaik.ts";
import { ProbeSim } from "./_probe_sim.ts";

class Thrower extends ExampleSim {
  override step(): number {
    throw new RangeError("step 0 went wrong");
  }
}

Deno.test("a simulator that throws in step sends a mosaik-format failure and keeps serving", async () => {
  await using sim = await InProcess.start(new Thrower());
  await sim.init();
  await sim.call("create", [1, "ExampleModel"], { init_val: 2 });
  const failure = await sim.call("step", [0, {}, 10]);
  assertFailure(failure, "RangeError", "step 0 went wrong");
  assert.match(
    (failure as [number, number, string[]])[2][2],
    /^Traceback \(most recent call last\):\n$/,
  );
  // The next call is served as usual.
  assert.deepEqual(await sim.call("get_data", [{ Model_0: ["val"] }]), [
    1,
    3,
    { time: 0, Model_0: { val: 2 } },
  ]);
  assert.equal(await sim.stop(), 0);
  assert.deepEqual(sim.exits, [0]);
});

Deno.test("stop: no reply, simulator.stop() runs, the simulator closes and exits 0", async () => {
  let stopped = 0;
  class Stopping extends ExampleSim {
    override stop(): void {
      stopped++;
    }
  }
  await using sim = await InProcess.start(new Stopping());
  await sim.init();
  assert.equal(await sim.stop(), 0); // stop() asserts EOF, not a reply
  assert.equal(stopped, 1);
  assert.deepEqual(sim.exits, [0]);
});

Deno.test("stop: a simulator.stop() that throws exits 1 with the error", async () => {
  class BadStop extends ExampleSim {
    override stop(): void {
      throw new Error("cannot save results");
    }
  }
  await using sim = await InProcess.start(new BadStop());
  await sim.init();
  assert.equal(await sim.stop(), 1);
  assert.deepEqual(sim.exits, [1]);
  assert.ok(
    sim.logs.includes("error: BadStop.stop() failed: cannot save results"),
    String(sim.logs),
  );
});

Deno.test("a connection lost before stop exits 1 with a clear message", async () => {
  await using sim = await InProcess.start(new ExampleSim());
  await sim.init();
  sim.close();
  assert.equal(await sim.running, 1);
  assert.deepEqual(sim.exits, [1]);
  assert.match(
    sim.logs.at(-1)!,
    /^error: The connection to mosaik \(127\.0\.0\.1:\d+\) was lost before stop: Connection closed by 127\.0\.0\.1:\d+$/,
  );
});

Deno.test("a connection lost while step awaits an async request exits 1", async () => {
  const sim = new ProbeSim();
  await using mosaik = await InProcess.start(sim);
  await mosaik.init("ExampleSim-0");
  await mosaik.request("step", [0, {}, 10]);
  assert.deepEqual(await mosaik.next(), [0, 0, ["get_progress", [], {}]]);
  mosaik.close();
  assert.equal(await mosaik.running, 1);
  assert.match(mosaik.logs.at(-1)!, /was lost before stop/);
});

Deno.test("calls that cannot be served get failures in mosaik's form", async () => {
  await using sim = await InProcess.start(new ProbeSim());
  await sim.init("ExampleSim-0");
  assertFailure(
    await sim.call("nope"),
    "LookupError",
    'ProbeSim has no method "nope" (not an API call and not in meta.extra_methods)',
  );
  // Methods of the object that the meta does not list are not callable.
  assertFailure(await sim.call("constructor"), "LookupError", /no method/);
  assertFailure(
    await sim.call("describe", ["abc"], { loud: true }),
    "TypeError",
    "describe() got an unexpected keyword argument 'loud'",
  );
  assertFailure(
    await sim.call("describe", ["abc"], { text: "x" }),
    "TypeError",
    "describe() got multiple values for argument 'text'",
  );
  assertFailure(
    await sim.call("create", ["1", "ExampleModel"]),
    "TypeError",
    "create() takes (num: integer, model: string)",
  );
  assertFailure(
    await sim.call("step", [0, [], 10]),
    "TypeError",
    "step() takes (time: number, inputs: object, max_advance: number)",
  );
  assertFailure(
    await sim.call("get_data", [{ Nobody: ["val"] }]),
    "RangeError",
    "Unknown entity: Nobody",
  );
  await sim.send([0, 99, "not a call"]);
  assertFailure(
    await sim.next(),
    "TypeError",
    "A mosaik request must be [method: string, args: array, kwargs: object]",
  );
  // Extra methods: positional, and keyword arguments bound by @expose params.
  assert.deepEqual(await sim.call("describe", ["abc"]), [
    1,
    8,
    { what: "abc", n: 3 },
  ]);
  assert.deepEqual(
    await sim.call("describe", [], { text: "ab", upper: true }),
    [
      1,
      9,
      { what: "AB", n: 2 },
    ],
  );
  assert.equal(await sim.stop(), 0);
});

Deno.test("more positional arguments than Python's API takes are refused", async () => {
  await using sim = await InProcess.start(new ProbeSim());
  await sim.init("ExampleSim-0");
  assertFailure(
    await sim.call("create", [1, "ExampleModel", 5]),
    "TypeError",
    "create() takes (num: integer, model: string)",
  );
  assertFailure(
    await sim.call("step", [0, {}, 10, 11]),
    "TypeError",
    "step() takes (time: number, inputs: object, max_advance: number)",
  );
  assertFailure(
    await sim.call("get_data", [{}, {}]),
    "TypeError",
    "get_data() takes (outputs: {eid: [attr, ...]})",
  );
  assert.equal(await sim.stop(), 0);
});

Deno.test("keyword arguments to an extra method without @expose params are refused", async () => {
  class Plain extends ExampleSim {
    constructor() {
      super();
      this.meta.extra_methods = ["greet"];
    }
    greet(name = "you"): string {
      return `hi ${name}`;
    }
  }
  await using sim = await InProcess.start(new Plain());
  await sim.init();
  assert.deepEqual(await sim.call("greet", ["ann"]), [1, 1, "hi ann"]);
  assertFailure(
    await sim.call("greet", [], { name: "bob" }),
    "TypeError",
    "greet() got keyword arguments (name) but declares no params for them (mark it @expose({ params: [...] }))",
  );
  assert.equal(await sim.stop(), 0);
});

Deno.test("init fails when meta.extra_methods lists a method the simulator lacks", async () => {
  class Liar extends ExampleSim {
    constructor() {
      super();
      this.meta.extra_methods = ["missing"];
    }
  }
  await using sim = await InProcess.start(new Liar());
  assertFailure(
    await sim.init(),
    "TypeError",
    'meta.extra_methods lists "missing", but Liar has no such method',
  );
  assert.equal(await sim.stop(), 0);
});

Deno.test("init fails, naming the field, when the meta data is not what mosaik can use", async () => {
  const cases: [(meta: Record<string, unknown>) => void, string][] = [
    [
      (m) => m.api_version = 3,
      'meta.api_version must be a version such as "3.0", not 3',
    ],
    [
      (m) => m.type = "timebased",
      'meta.type must be "time-based", "event-based" or "hybrid", not "timebased"',
    ],
    [
      (m) => m.models = ["ExampleModel"],
      "meta.models must map model names to their meta data",
    ],
    [
      (m) => (m.models as Record<string, unknown>).Broken = true,
      'meta.models["Broken"] must be an object, not true',
    ],
    [
      (m) => model(m).public = "yes",
      'meta.models["ExampleModel"].public must be true or false',
    ],
    [
      (m) => model(m).params = "init_val",
      'meta.models["ExampleModel"].params must be a list of names, not "init_val"',
    ],
    [
      (m) => model(m).attrs = ["val", 1],
      'meta.models["ExampleModel"].attrs[1] must be a name, not 1',
    ],
    [
      (m) => model(m).any_inputs = 1,
      'meta.models["ExampleModel"].any_inputs must be true or false',
    ],
    [
      (m) => model(m).trigger = true,
      'meta.models["ExampleModel"].trigger must be a list of names, not true',
    ],
    [
      (m) => model(m)["non-persistent"] = "val",
      'meta.models["ExampleModel"].non-persistent must be a list of names, not "val"',
    ],
    [
      (m) => m.extra_methods = "greet",
      'meta.extra_methods must be a list of names, not "greet"',
    ],
    [(m) => m.set_events = "no", "meta.set_events must be true or false"],
  ];
  function model(meta: Record<string, unknown>): Record<string, unknown> {
    return (meta.models as Record<string, Record<string, unknown>>)
      .ExampleModel;
  }
  for (const [spoil, message] of cases) {
    class Spoilt extends ExampleSim {
      override init(): Meta {
        const meta = structuredClone(this.meta) as unknown as Record<
          string,
          unknown
        >;
        spoil(meta);
        return meta as unknown as Meta;
      }
    }
    await using sim = await InProcess.start(new Spoilt());
    assertFailure(await sim.init(), "TypeError", message);
    assert.equal(await sim.stop(), 0);
  }
  // The example's own meta passes.
  await using sim = await InProcess.start(new ExampleSim());
  const meta = await sim.init();
  assert.equal((meta as [number, number, Meta])[2].type, "hybrid");
  assert.equal(await sim.stop(), 0);
});

Deno.test("init fails, naming what init() returned, when it is not meta data", async () => {
  for (
    const [returned, shown] of [
      [() => {}, "a function"],
      [5n, "5"],
      [undefined, "undefined"],
    ] as const
  ) {
    class Wrong extends ExampleSim {
      override init(): never {
        return returned as never;
      }
    }
    await using sim = await InProcess.start(new Wrong());
    assertFailure(
      await sim.init(),
      "TypeError",
      `Wrong.init() must return the meta data, not ${shown}`,
    );
    assert.equal(await sim.stop(), 0);
  }
});

Deno.test("a result the codec cannot encode becomes a failure", async () => {
  class Odd extends ExampleSim {
    override getData(): OutputData {
      return { Model_0: { val: Symbol("x") } };
    }
  }
  await using sim = await InProcess.start(new Odd());
  await sim.init();
  const failure = await sim.call("get_data", [{ Model_0: ["val"] }]);
  assertFailure(failure, "SerializationError", /Symbol|symbol/);
  assert.equal(await sim.stop(), 0);
});

Deno.test("init: time_resolution and sim params reach the simulator; eid_prefix names entities", async () => {
  const example = new ExampleSim();
  await using sim = await InProcess.start(example);
  const [, , meta] = await sim.call("init", ["ExampleSim-0"], {
    time_resolution: 0.5,
    eid_prefix: "M",
  }) as [number, number, Record<string, unknown>];
  assert.deepEqual(Object.keys(meta), [
    "api_version",
    "models",
    "extra_methods",
    "type",
  ]);
  assert.equal(example.timeResolution, 0.5);
  assert.deepEqual(
    await sim.call("create", [2, "ExampleModel"], { init_val: 1 }),
    [
      1,
      1,
      [{ eid: "M0", type: "ExampleModel" }, {
        eid: "M1",
        type: "ExampleModel",
      }],
    ],
  );
  assert.deepEqual(await sim.call("setup_done"), [1, 2, null]);
  assert.equal(await sim.stop(), 0);
});

Deno.test("mosaik's failures to async requests are RemoteErrors in either form (mosaik's list, aiomas's text)", async () => {
  for (const errorFormat of ["mosaik", "aiomas"] as const) {
    const sim = new ProbeSim();
    const [a, b] = createMemoryPair();
    await using mosaik = new Channel(b, { errorFormat });
    const running = runSimulator(sim, a);
    await mosaik.send(["init", ["ExampleSim-0"], { time_resolution: 1 }]);
    const stepped = mosaik.send(["step", [0, {}, 10], {}]);
    (await mosaik.recv()).reply(12.5);
    (await mosaik.recv()).reply({ nodes: {}, edges: [] });
    (await mosaik.recv()).reply({});
    (await mosaik.recv()).reply({});
    const setEvent = await mosaik.recv();
    assert.deepEqual(setEvent.content, ["set_event", [5], {}]);
    class SimulationError extends Error {
      override name = "SimulationError";
    }
    await setEvent.fail(new SimulationError("not in real-time mode"));
    assert.equal(await stepped, 1);
    assert.equal(sim.seen.progress, 12.5);
    const error = sim.seen.eventError;
    assert.ok(error instanceof RemoteError, errorFormat);
    assert.equal(error.remoteName, "SimulationError");
    assert.equal(error.remoteMessage, "not in real-time mode");
    mosaik.send(["stop", [], {}]).catch(() => {});
    await running;
  }
});

Deno.test("simulator.mosaik before the simulator is connected throws", () => {
  assert.throws(
    () => new ExampleSim().mosaik,
    /ExampleSim is not connected to mosaik yet/,
  );
});

Deno.test("the meta defaults are mosaik-api-python's", () => {
  class Bare extends Simulator {
    constructor() {
      super({ models: {} });
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
  assert.deepEqual(new Bare().meta, {
    api_version: "3.0",
    models: {},
    extra_methods: [],
    type: "time-based",
  });
});

Deno.test("a connection lost while step hangs still exits 1", async () => {
  const hanging = Promise.withResolvers<number>();
  class Hangs extends ProbeSim {
    override step(): Promise<number> {
      return hanging.promise;
    }
  }
  await using sim = await InProcess.start(new Hangs());
  await sim.init();
  await sim.request("step", [0, {}, 10]);
  sim.close();
  assert.equal(await sim.running, 1);
  assert.match(sim.logs.at(-1)!, /was lost before stop/);
  hanging.resolve(1); // too late: nobody is waiting for it
});

Deno.test("between calls, the simulator's loop keeps neither the last step's inputs nor the last data it sent", async () => {
  const kept: { inputs?: WeakRef<object>; data?: WeakRef<object> } = {};
  class Watched extends ExampleSim {
    override step(time: number, inputs: InputData, maxAdvance: number): number {
      kept.inputs = new WeakRef(inputs);
      return super.step(time, inputs, maxAdvance);
    }
    override getData(outputs: OutputRequest): OutputData {
      const data = super.getData(outputs);
      kept.data = new WeakRef(data);
      return data;
    }
  }
  await using sim = await InProcess.start(new Watched());
  await sim.init();
  await sim.call("create", [1, "ExampleModel"], { init_val: 2 });
  // After each call the simulator waits for mosaik's next one.
  await sim.call("get_data", [{ Model_0: ["val"] }]);
  await collectGarbage();
  // Not assert.equal: a failure would print the whole value.
  assert.ok(kept.data?.deref() === undefined, "the data sent is kept");
  await sim.call("step", [0, { Model_0: { delta: { "Other-0.a": 1 } } }, 10]);
  await collectGarbage();
  assert.ok(kept.inputs?.deref() === undefined, "the step's inputs are kept");
  assert.equal(await sim.stop(), 0);
});
