// The example ExampleSim refuses what the tutorial's Python one refuses,
// instead of going on in a corrupted state.
import assert from "node:assert/strict";
import { ExampleSim } from "../../examples/mosaik/example_sim.ts";
import { assertFailure, InProcess } from "./_mosaik.ts";

Deno.test("ExampleSim: a misspelt simulator parameter is refused, as Python refuses an unexpected keyword", async () => {
  await using sim = await InProcess.start(new ExampleSim());
  assertFailure(
    await sim.call("init", ["ExampleSim-0"], {
      time_resolution: 1,
      eid_prefx: "M",
    }),
    "TypeError",
    "init() got an unexpected keyword argument 'eid_prefx'",
  );
  assert.equal(await sim.stop(), 0);
});

Deno.test("ExampleSim: a delta input that is not a number fails the step and leaves the entity as it was", async () => {
  const example = new ExampleSim();
  await using sim = await InProcess.start(example);
  await sim.init();
  await sim.call("create", [1, "ExampleModel"], { init_val: 2 });
  assertFailure(
    await sim.call("step", [
      0,
      { Model_0: { delta: { "Ctrl-0.A": "a" } } },
      10,
    ]),
    "TypeError",
    'delta of Model_0 must be a number, not "a"',
  );
  const model = example.entities.get("Model_0")!;
  assert.equal(model.val, 2);
  assert.equal(model.delta, 1);
  assert.equal(await sim.stop(), 0);
});
