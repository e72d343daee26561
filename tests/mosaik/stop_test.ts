// mosaik's stop while a call is still running: mosaik shuts down (another
// simulator failed, say), sends stop and closes the connection without
// waiting for the step.
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  type CreateResult,
  type OutputData,
  Simulator,
} from "../../mosaik/mod.ts";
import { within } from "../_within.ts";
import { InProcess } from "./_mosaik.ts";

/** A simulator whose step runs until `release` is called. */
class Slow extends Simulator {
  readonly started = Promise.withResolvers<void>();
  readonly release = Promise.withResolvers<void>();
  stopped = 0;
  constructor() {
    super({ models: {} });
  }
  create(): CreateResult[] {
    return [];
  }
  async step(time: number): Promise<number> {
    this.started.resolve();
    await this.release.promise;
    return time + 1;
  }
  dataCalls = 0;
  getData(): OutputData {
    this.dataCalls++;
    return {};
  }
  override stop(): void {
    this.stopped++;
  }
}

Deno.test("a stop that arrives during a step runs simulator.stop() even when mosaik closes before the step ends", async () => {
  const slow = new Slow();
  await using sim = await InProcess.start(slow);
  await sim.init();
  await sim.request("step", [0, {}, 10]);
  await slow.started.promise;
  // TCP delivers the stop before the end of the stream.
  await sim.request("stop");
  sim.close();
  assert.equal(await sim.running, 0);
  assert.equal(slow.stopped, 1);
  assert.deepEqual(sim.exits, [0]);
  assert.equal(sim.logs.at(-1), "info: Slow stopped");
  slow.release.resolve();
});

Deno.test("a stop that arrives during a step waits for the step while the connection stays", async () => {
  const slow = new Slow();
  await using sim = await InProcess.start(slow);
  await sim.init();
  const id = await sim.request("step", [0, {}, 10]);
  await slow.started.promise;
  await sim.request("stop");
  slow.release.resolve();
  // The step is answered first; then the simulator stops and closes.
  assert.deepEqual(await sim.next(), [1, id, 1]);
  assert.equal(await sim.next(), null);
  assert.equal(await sim.running, 0);
  assert.equal(slow.stopped, 1);
});

/** A simulator whose step asks mosaik for its progress and keeps what came of it. */
class Asking extends Slow {
  outcome: unknown = undefined;
  override async step(time: number): Promise<number> {
    try {
      this.outcome = await this.mosaik.getProgress();
    } catch (error) {
      this.outcome = error;
    }
    return time + 1;
  }
}

Deno.test("a stop that arrives while a step waits for mosaik's answer fails the step's request: mosaik answers none after stop, and the connection may stay", async () => {
  const asking = new Asking();
  await using sim = await InProcess.start(asking);
  await sim.init();
  const step = await sim.request("step", [0, {}, 10]);
  const progress = await sim.next() as [number, number, unknown];
  assert.deepEqual(progress[2], ["get_progress", [], {}]);
  // mosaik shuts down instead of answering, and keeps the connection.
  await sim.request("stop");
  assert.deepEqual(
    await within(5000, "the step's reply", sim.next()),
    [1, step, 1],
  );
  assert.equal(await sim.next(), null);
  assert.equal(await sim.running, 0);
  assert.ok(asking.outcome instanceof ConnectionClosedError);
  assert.match(
    (asking.outcome as Error).message,
    /^mosaik \(.*\) sent stop: the simulation is over/,
  );
  assert.equal(asking.stopped, 1);
});

Deno.test("a connection lost during a step without a stop still exits 1, naming the loss", async () => {
  const slow = new Slow();
  await using sim = await InProcess.start(slow);
  await sim.init();
  await sim.request("step", [0, {}, 10]);
  await slow.started.promise;
  sim.close();
  assert.equal(await sim.running, 1);
  assert.equal(slow.stopped, 0);
  assert.match(
    sim.logs.at(-1)!,
    /^error: The connection to mosaik \(127\.0\.0\.1:\d+\) was lost before stop/,
  );
  slow.release.resolve();
});

Deno.test("a simulator.stop() that throws a ConnectionClosedError is reported as stop() failing", async () => {
  class ClosedStop extends Slow {
    override stop(): void {
      throw new ConnectionClosedError("the results server went away");
    }
  }
  const sim = await InProcess.start(new ClosedStop());
  await using _ = sim;
  await sim.init();
  assert.equal(await sim.stop(), 1);
  assert.equal(
    sim.logs.at(-1),
    "error: ClosedStop.stop() failed: the results server went away",
  );
});

Deno.test("a call taken during a step is not served once the connection has closed", async () => {
  const slow = new Slow();
  await using sim = await InProcess.start(slow);
  await sim.init();
  await sim.request("step", [0, {}, 10]);
  await slow.started.promise;
  await sim.request("get_data", [{}]);
  sim.close();
  assert.equal(await sim.running, 1);
  assert.match(sim.logs.at(-1)!, /was lost before stop/);
  // The step ends after mosaik has gone; the call behind it never runs.
  slow.release.resolve();
  await slow.release.promise;
  assert.equal(slow.dataCalls, 0);
});
