// What a simulator returns is checked before it goes to mosaik: a wrong
// shape fails that call with a TypeError naming the method and the value
// (mosaik would fail later, inside itself), and the simulator keeps serving.
import assert from "node:assert/strict";
import { ExampleSim } from "../../examples/mosaik/example_sim.ts";
import type { CreateResult, OutputData } from "../../mosaik/mod.ts";
import { assertFailure, InProcess } from "./_mosaik.ts";

/** An ExampleSim whose `create`, `step` and `getData` return `returned`. */
function returning(method: "create" | "step" | "getData", returned: unknown) {
  return class Wrong extends ExampleSim {
    override create(
      num: number,
      model: string,
      params: Record<string, unknown>,
    ): CreateResult[] {
      const made = super.create(num, model, params);
      return method === "create" ? returned as CreateResult[] : made;
    }
    override step(
      time: number,
      inputs: Record<string, never>,
      maxAdvance: number,
    ): number {
      const next = super.step(time, inputs, maxAdvance);
      return method === "step" ? returned as number : next;
    }
    override getData(outputs: Record<string, string[]>): OutputData {
      const data = super.getData(outputs);
      return method === "getData" ? returned as OutputData : data;
    }
  };
}

/** Calls init, create and `call`; returns the reply to `call`. */
async function callWith(
  method: "create" | "step" | "getData",
  returned: unknown,
): Promise<unknown[]> {
  const Wrong = returning(method, returned);
  await using sim = await InProcess.start(new Wrong());
  await sim.init();
  const created = await sim.call("create", [1, "ExampleModel"], {
    init_val: 0,
  });
  let reply = created;
  if (method === "step") reply = await sim.call("step", [0, {}, 10]);
  if (method === "getData") {
    reply = await sim.call("get_data", [{ Model_0: ["val"] }]);
  }
  // It keeps serving.
  assert.deepEqual((await sim.call("setup_done") as unknown[])[2], null);
  assert.equal(await sim.stop(), 0);
  return reply as unknown[];
}

/** The content of a success reply. */
async function replyOf(
  method: "create" | "step" | "getData",
  returned: unknown,
): Promise<unknown> {
  const [type, , content] = await callWith(method, returned);
  assert.equal(type, 1, JSON.stringify(content));
  return content;
}

Deno.test("mosaik: results of the wrong shape fail the call with a TypeError naming the method and the value", async () => {
  const cases: ["create" | "step" | "getData", unknown, string][] = [
    ["create", 5, "Wrong.create() must return a list of entities, not 5"],
    [
      "create",
      [{ eid: 1, type: "ExampleModel" }],
      'Wrong.create() must return entities { eid: string, type: string }; entity [0] is { eid: 1, type: "ExampleModel" }',
    ],
    [
      "create",
      [{ eid: "a", type: "M", children: [null] }],
      "Wrong.create() must return entities { eid: string, type: string }; entity [0].children[0] is null",
    ],
    [
      "step",
      1.5,
      "Wrong.step() must return the time of its next step (a whole number of time units) or null, not 1.5",
    ],
    [
      "step",
      "1",
      'Wrong.step() must return the time of its next step (a whole number of time units) or null, not "1"',
    ],
    [
      "getData",
      { time: 0, Model_0: 5 },
      'Wrong.getData() must return {eid: {attr: value}}; "Model_0" is 5',
    ],
    [
      "getData",
      [],
      "Wrong.getData() must return {eid: {attr: value}}, not an Array",
    ],
    [
      "getData",
      { time: -1, Model_0: { val: 1 } },
      "Wrong.getData() must return a time that is a whole number of time units, not -1",
    ],
  ];
  for (const [method, returned, message] of cases) {
    assertFailure(await callWith(method, returned), "TypeError", message);
  }
});

Deno.test("mosaik: results of the right shapes pass, none included", async () => {
  assert.deepEqual(await replyOf("step", null), null);
  assert.deepEqual(await replyOf("step", 7), 7);
  assert.deepEqual(
    await replyOf("getData", {
      time: 3,
      Model_0: { val: 1 },
      Model_1: undefined,
    }),
    { time: 3, Model_0: { val: 1 } },
  );
  assert.deepEqual(
    await replyOf("create", [{
      eid: "a",
      type: "M",
      rel: [],
      children: [{ eid: "b", type: "N" }],
    }]),
    [{ eid: "a", type: "M", rel: [], children: [{ eid: "b", type: "N" }] }],
  );
});
