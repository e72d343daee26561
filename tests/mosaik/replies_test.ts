// Replies of mosaik's to the simulator's requests are checked against the
// types its API promises: a wrong one fails the call that asked.
import assert from "node:assert/strict";
import {
  type CreateResult,
  type OutputData,
  Simulator,
} from "../../mosaik/mod.ts";
import { assertFailure, InProcess } from "./_mosaik.ts";

/** A simulator whose step makes one request of mosaik's. */
class Asking extends Simulator {
  constructor(readonly ask: (sim: Simulator) => Promise<unknown>) {
    super({ models: {} });
  }
  create(): CreateResult[] {
    return [];
  }
  async step(time: number): Promise<number> {
    await this.ask(this);
    return time + 1;
  }
  getData(): OutputData {
    return {};
  }
}

const CASES: [
  string,
  (sim: Simulator) => Promise<unknown>,
  unknown,
  string,
][] = [
  ["get_progress", (sim) => sim.mosaik.getProgress(), "50", '"50"'],
  ["get_progress", (sim) => sim.mosaik.getProgress(), null, "null"],
  [
    "get_related_entities",
    (sim) => sim.mosaik.getRelatedEntities(),
    [1, 2],
    "an Array",
  ],
  [
    "get_data",
    (sim) => sim.mosaik.getData({ "X-0.e": ["v"] }),
    "nothing",
    '"nothing"',
  ],
];

for (const [method, ask, reply, shown] of CASES) {
  Deno.test(`a ${method} reply of ${shown} fails the step with a TypeError`, async () => {
    await using sim = await InProcess.start(new Asking(ask));
    await sim.init();
    const id = await sim.request("step", [0, {}, 10]);
    const request = await sim.next() as [number, number, [string]];
    assert.equal(request[2][0], method);
    await sim.send([1, request[1], reply]);
    const failure = await sim.next() as unknown[];
    assert.equal(failure[1], id);
    assertFailure(
      failure,
      "TypeError",
      new RegExp(
        `^mosaik answered ${method} with ${
          shown.replace(/[[\]"]/g, "\\$&")
        }.*; expected an? (number|object)$`,
      ),
    );
    assert.equal(await sim.stop(), 0);
  });
}

Deno.test("replies of the promised types pass", async () => {
  const seen: unknown[] = [];
  const sim = await InProcess.start(
    new Asking(async (s) => {
      seen.push(await s.mosaik.getProgress());
      seen.push(await s.mosaik.getData({ "X-0.e": ["v"] }));
    }),
  );
  await using _ = sim;
  await sim.init();
  const id = await sim.request("step", [0, {}, 10]);
  for (const reply of [12.5, { "X-0.e": { v: 1 } }]) {
    const request = await sim.next() as [number, number];
    await sim.send([1, request[1], reply]);
  }
  assert.deepEqual(await sim.next(), [1, id, 1]);
  assert.deepEqual(seen, [12.5, { "X-0.e": { v: 1 } }]);
  assert.equal(await sim.stop(), 0);
});
