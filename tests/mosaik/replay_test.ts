// The captured runs of mosaik 3.3.3 (tests/fixtures/mosaik/capture.txt)
// replayed: A against the probe simulator in this process, B and C against
// examples/mosaik/example_sim.ts in a subprocess, in cmd and connect mode.

import assert from "node:assert/strict";
import { RemoteError, startSimulation } from "../../mosaik/mod.ts";
import {
  type CapturedFrame,
  loadCapture,
  replay,
  replayExampleSim,
  withWatchdog,
} from "./_driver.ts";
import { ProbeSim } from "./_probe_sim.ts";

const capture = await loadCapture();

function simFrames(frames: readonly CapturedFrame[]): number {
  return frames.filter((frame) => frame.from === "sim").length;
}

Deno.test("replay A (cmd mode): extra methods, async requests and failures both ways, against a probe simulator", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sim = new ProbeSim();
  const exits: number[] = [];
  const logs: string[] = [];
  const running = startSimulation(sim, [`127.0.0.1:${listener.addr.port}`], {
    exit: (code) => exits.push(code),
    log: (level, message) => logs.push(`${level}: ${message}`),
  });
  const conn = await Promise.race([
    listener.accept(),
    running.then((code) => {
      throw new Error(`exited with ${code} before connecting: ${logs}`);
    }),
  ]);
  const result = await withWatchdog(conn, () => replay(conn, capture.A));
  assert.equal(result.checked, simFrames(capture.A));
  assert.equal(await running, 0);
  assert.deepEqual(exits, [0]);
  assert.deepEqual(logs, [
    "info: Starting ProbeSim ...",
    "info: ProbeSim stopped",
  ]);
  // What the async requests got back, as mosaik sent it.
  assert.equal(sim.seen.progress, 0);
  assert.deepEqual(Object.keys(sim.seen.graph!.nodes).sort(), [
    "Collector-0.Monitor",
    "ExampleSim-0.Model_0",
    "ExampleSim-0.Model_1",
    "ExampleSim-0.Model_2",
  ]);
  assert.deepEqual(sim.seen.graph!.edges[0], [
    "ExampleSim-0.Model_0",
    "Collector-0.Monitor",
    {},
  ]);
  assert.deepEqual(sim.seen.one, {
    "Collector-0.Monitor": { sid: "Collector-0", type: "Monitor" },
  });
  assert.deepEqual(Object.keys(sim.seen.many!), [
    "ExampleSim-0.Model_0",
    "ExampleSim-0.Model_1",
  ]);
  const error = sim.seen.eventError;
  assert.ok(error instanceof RemoteError);
  assert.equal(error.remoteName, "SimulationError");
  assert.equal(
    error.remoteMessage,
    "Simulator 'ExampleSim-0' tried to set an event in non-real-time mode.",
  );
  assert.match(error.remoteTraceback, /^Traceback \(most recent call last\)/);
});

Deno.test("replay B (cmd mode): the demo_2 world with same-time loops, against examples/mosaik/example_sim.ts", async () => {
  const { result, status, stderr } = await replayExampleSim(capture.B, "cmd");
  assert.equal(result.checked, simFrames(capture.B));
  assert.equal(status.code, 0, stderr.join("\n"));
  assert.deepEqual(stderr, [
    "INFO:mosaik:Starting ExampleSim ...",
    "INFO:mosaik:ExampleSim stopped",
  ]);
});

Deno.test("replay C (connect mode): example_sim.ts -r 127.0.0.1:0 listens, the driver connects", async () => {
  const { result, status, stderr } = await replayExampleSim(
    capture.C,
    "connect",
  );
  assert.equal(result.checked, simFrames(capture.C));
  assert.equal(status.code, 0, stderr.join("\n"));
  assert.match(
    stderr[1],
    /^INFO:mosaik:Waiting for connection from mosaik on 127\.0\.0\.1:\d+$/,
  );
});

Deno.test("the driver notices a wrong reply (it can fail)", async () => {
  // Section B with one value of the capture changed: the replay must fail.
  const frames = capture.B.map((frame) =>
    frame.json === "[1, 7, 1]" ? { ...frame, json: "[1, 7, 2]" } : frame
  );
  assert.notDeepEqual(frames, capture.B);
  await assert.rejects(
    replayExampleSim(frames, "cmd"),
    /capture frame \d+ of \d+: got \[1,7,1\], expected \[1,7,2\]/,
  );
});
