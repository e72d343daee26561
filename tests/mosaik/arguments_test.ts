// mosaik's arguments that type-check but are out of range: each is refused
// with a RangeError reply, and the simulator never sees it.
import assert from "node:assert/strict";
import { ExampleSim } from "../../examples/mosaik/example_sim.ts";
import type { InputData } from "../../mosaik/mod.ts";
import { assertFailure, InProcess } from "./_mosaik.ts";

/** The ExampleSim, recording the times its step got. */
class Recording extends ExampleSim {
  steps: [number, number][] = [];
  override step(time: number, inputs: InputData, maxAdvance: number): number {
    this.steps.push([time, maxAdvance]);
    return super.step(time, inputs, maxAdvance);
  }
}

Deno.test("init: a time_resolution that is not finite or not above 0 is a RangeError", async () => {
  const example = new Recording();
  await using sim = await InProcess.start(example);
  // JSON has no NaN, but mosaik's (Python's) json writes and reads it.
  for (const given of ["NaN", "-1", "0", "Infinity"]) {
    await sim.requestText(
      `["init", ["S-0"], {"time_resolution": ${given}}]`,
    );
    assertFailure(
      await sim.next(),
      "RangeError",
      `init() got time_resolution ${
        Number(given)
      }; it must be a finite number of seconds above 0`,
    );
  }
  assert.equal(example.timeResolution, 1);
  const reply = await sim.call("init", ["S-0"], { time_resolution: 0.25 });
  assert.equal((reply as unknown[])[0], 1, "a success");
  assert.equal(example.timeResolution, 0.25);
  assert.equal(await sim.stop(), 0);
});

Deno.test("create: a negative num is a RangeError; 0 makes no entities", async () => {
  await using sim = await InProcess.start(new Recording());
  await sim.init();
  assertFailure(
    await sim.call("create", [-5, "ExampleModel"], { init_val: 1 }),
    "RangeError",
    "create() got num -5; it must be a number of entities from 0 up",
  );
  assert.deepEqual(
    (await sim.call("create", [0, "ExampleModel"], { init_val: 1 }) as [
      number,
      number,
      unknown,
    ])[2],
    [],
  );
  assert.equal(await sim.stop(), 0);
});

Deno.test("step: a time that is not a whole number from 0 up, or a max_advance from -1 up, is a RangeError", async () => {
  const example = new Recording();
  await using sim = await InProcess.start(example);
  await sim.init();
  const refused: [string, string, string, number][] = [
    ["NaN", "10", "time NaN", 0],
    ["-Infinity", "10", "time -Infinity", 0],
    ["-1", "10", "time -1", 0],
    ["1.5", "10", "time 1.5", 0],
    ["0", "NaN", "max_advance NaN", -1],
    ["0", "-2", "max_advance -2", -1],
    ["0", "0.5", "max_advance 0.5", -1],
    ["0", "-9007199254741002", "max_advance -9007199254741002", -1],
  ];
  for (const [time, maxAdvance, what, least] of refused) {
    await sim.requestText(`["step", [${time}, {}, ${maxAdvance}], {}]`);
    assertFailure(
      await sim.next(),
      "RangeError",
      `step() got ${what}; it must be a whole number of time units from ${least} up`,
    );
  }
  assert.deepEqual(example.steps, []);
  assert.deepEqual((await sim.call("step", [0, {}, 10]) as unknown[])[2], 1);
  assert.deepEqual(example.steps, [[0, 10]]);
  assert.equal(await sim.stop(), 0);
});

Deno.test("step: max_advance -1 (a same-time loop starting at 0) reaches the simulator", async () => {
  // mosaik 3.3.3 sends it: max_advance is one less than the earliest step a
  // predecessor may still cause, here its initial event at 0.
  const example = new Recording();
  await using sim = await InProcess.start(example);
  await sim.init();
  assert.deepEqual((await sim.call("step", [0, {}, -1]) as unknown[])[2], 1);
  assert.deepEqual(example.steps, [[0, -1]]);
  assert.equal(await sim.stop(), 0);
});

Deno.test("step: a max_advance beyond 2^53 - 1 (mosaik's until, e.g. sys.maxsize, 1e20 or inf) reaches the simulator as Number.MAX_SAFE_INTEGER", async () => {
  const example = new Recording();
  await using sim = await InProcess.start(example);
  await sim.init();
  const untils = [
    "9007199254741002",
    "9223372036854775807",
    "1e20",
    "9007199254740992.0",
    "Infinity",
  ];
  for (const until of untils) {
    await sim.requestText(`["step", [0, {}, ${until}], {}]`);
    assert.deepEqual(((await sim.next()) as unknown[])[2], 1);
  }
  assert.deepEqual(
    example.steps,
    untils.map(() => [0, Number.MAX_SAFE_INTEGER]),
  );
  assert.equal(await sim.stop(), 0);
});
