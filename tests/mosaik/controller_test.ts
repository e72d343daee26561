// examples/mosaik/controller.ts against a mosaik side that answers its
// async requests.

import assert from "node:assert/strict";
import { Controller } from "../../examples/mosaik/controller.ts";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { runSimulator } from "../../mosaik/mod.ts";

Deno.test("the controller example reads val and sets delta through async requests", async () => {
  const [a, b] = createMemoryPair();
  await using mosaik = new Channel(b);
  const running = runSimulator(new Controller(), a);
  const meta = await mosaik.send([
    "init",
    ["Ctrl-0"],
    { time_resolution: 1, step_size: 2 },
  ]) as { type: string };
  assert.equal(meta.type, "event-based");
  assert.deepEqual(await mosaik.send(["create", [1, "Agent"], {}]), [
    { eid: "Agent_0", type: "Agent" },
  ]);
  const model = "ExampleSim-0.Model_0";
  // A step where val is 3: delta goes to -1.
  let stepped = mosaik.send(["step", [0, {}, 10], {}]);
  let request = await mosaik.recv();
  assert.deepEqual(request.content, [
    "get_related_entities",
    ["Ctrl-0.Agent_0"],
    {},
  ]);
  await request.reply({
    [model]: { sid: "ExampleSim-0", type: "ExampleModel" },
    "Collector-0.Monitor": { sid: "Collector-0", type: "Monitor" },
  });
  request = await mosaik.recv();
  assert.deepEqual(request.content, ["get_data", [{ [model]: ["val"] }], {}]);
  await request.reply({ [model]: { val: 3 } });
  request = await mosaik.recv();
  assert.deepEqual(request.content, [
    "set_data",
    [{ "Ctrl-0.Agent_0": { [model]: { delta: -1 } } }],
    {},
  ]);
  await request.reply(null);
  assert.equal(await stepped, 2);
  assert.deepEqual(
    await mosaik.send(["get_data", [{ Agent_0: ["delta"] }], {}]),
    {
      time: 0,
      Agent_0: { delta: -1 },
    },
  );
  // A step where val is within bounds: nothing is set.
  stepped = mosaik.send(["step", [2, {}, 10], {}]);
  await (await mosaik.recv()).reply({
    [model]: { sid: "ExampleSim-0", type: "ExampleModel" },
  });
  request = await mosaik.recv();
  await request.reply({ [model]: { val: 1 } });
  // The step's reply comes next, not a set_data request.
  const next = await Promise.race([
    stepped.then((time) => ({ time })),
    mosaik.recv().then((extra) => ({ extra: extra.content })),
  ]);
  assert.deepEqual(next, { time: 4 });
  mosaik.send(["stop", [], {}]).catch(() => {});
  await running;
});
