// mosaik's JSON is plain Python json: a "__type__" key is data, not an
// aiomas serialized object, and values nest as deep as Python's recursion
// limit allows.
import assert from "node:assert/strict";
import {
  type CreateResult,
  Float64,
  type InputData,
  type OutputData,
  Simulator,
} from "../../mosaik/mod.ts";
import { InProcess } from "./_mosaik.ts";

/** Steps record their inputs; get_data sends back the value it was given. */
class Relay extends Simulator {
  inputs: InputData[] = [];
  constructor(public value: unknown) {
    super({ models: { Node: { public: true, params: [], attrs: ["v"] } } });
  }
  create(num: number): CreateResult[] {
    return Array.from({ length: num }, (_, i) => ({
      eid: `E${i}`,
      type: "Node",
    }));
  }
  step(time: number, inputs: InputData): number {
    this.inputs.push(inputs);
    return time + 1;
  }
  getData(): OutputData {
    return { E0: { v: this.value } };
  }
}

/** `{"a": {"a": … value …}}`, `depth` maps deep. */
function nested(depth: number, value: unknown): unknown {
  let result = value;
  for (let i = 0; i < depth; i++) result = { a: result };
  return result;
}

const TAGGED = { __type__: "Battery", kWh: 5 };

Deno.test("mosaik: a __type__ key in inputs and outputs is plain data", async () => {
  const relay = new Relay(TAGGED);
  await using sim = await InProcess.start(relay);
  await sim.call("init", ["Relay-0"]);
  const inputs = { E0: { v: { "Other-0.E0": TAGGED } } };
  assert.deepEqual(await sim.call("step", [0, inputs, 10]), [1, 1, 1]);
  assert.deepEqual(relay.inputs, [inputs]);
  // A value with the key travels out as it is, so the next simulator reads
  // what this one wrote.
  assert.deepEqual(await sim.call("get_data", [{ E0: ["v"] }]), [
    1,
    2,
    { E0: { v: TAGGED } },
  ]);
  // Also a bare "__type__" map such as aiomas writes: still just data.
  const aiomasLike = { E0: { v: { "Other-0.E0": { __type__: [0, [1, 2]] } } } };
  assert.deepEqual(await sim.call("step", [1, aiomasLike, 10]), [1, 3, 2]);
  assert.deepEqual(relay.inputs[1], aiomasLike);
  assert.equal(await sim.stop(), 0);
});

Deno.test("mosaik: a whole number goes out as an int; wrapped in Float64 (exported here) as a float", async () => {
  for (const [value, json] of [[2, "2"], [new Float64(2), "2.0"]] as const) {
    await using sim = await InProcess.start(new Relay(value));
    await sim.call("init", ["Relay-0"]);
    const id = await sim.request("get_data", [{ E0: ["v"] }]);
    assert.equal(await sim.nextText(), `[1,${id},{"E0":{"v":${json}}}]`);
    assert.equal(await sim.stop(), 0);
  }
});

Deno.test("mosaik: values nest up to 1000 levels both ways, as Python's json takes them; an output deeper is refused", async () => {
  const deep = nested(900, 1);
  const relay = new Relay(deep);
  await using sim = await InProcess.start(relay);
  await sim.call("init", ["Relay-0"]);
  const inputs = { E0: { v: { "Other-0.E0": deep } } };
  assert.deepEqual(await sim.call("step", [0, inputs, 10]), [1, 1, 1]);
  assert.deepEqual(relay.inputs, [inputs]);
  assert.deepEqual(await sim.call("get_data", [{ E0: ["v"] }]), [
    1,
    2,
    { E0: { v: deep } },
  ]);
  // Beyond the limit an output is refused with a failure reply, and the
  // connection serves on.
  const tooDeep = nested(1000, 1);
  relay.value = tooDeep;
  const failure = await sim.call("get_data", [{ E0: ["v"] }]) as unknown[];
  assert.equal(failure[0], 2);
  assert.equal((failure[2] as string[])[0], "SerializationError");
  assert.match((failure[2] as string[])[1], /maxDepth 1000/);
  assert.deepEqual(await sim.call("step", [1, {}, 10]), [1, 4, 2]);
  assert.equal(await sim.stop(), 0);
});
