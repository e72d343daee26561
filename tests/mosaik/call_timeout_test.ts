// callTimeout: how long the simulator's own calls (this.mosaik.*) wait for
// mosaik's answer before the step that made them fails.
import assert from "node:assert/strict";
import { createMemoryPair } from "../../channel/mod.ts";
import { META } from "../../examples/mosaik/example_sim.ts";
import {
  type CreateResult,
  type OutputData,
  runSimulator,
  Simulator,
  startSimulation,
} from "../../mosaik/mod.ts";
import { assertFailure, InProcess } from "./_mosaik.ts";

/** A simulator that asks mosaik for its progress in every step. */
class Asking extends Simulator {
  constructor() {
    super(META);
  }

  override create(): CreateResult[] {
    return [];
  }

  override async step(time: number): Promise<number> {
    await this.mosaik.getProgress();
    return time + 1;
  }

  override getData(): OutputData {
    return {};
  }
}

Deno.test("callTimeout: a step whose call mosaik does not answer fails with a TimeoutError", async () => {
  await using sim = await InProcess.start(new Asking(), [], {
    callTimeout: 50,
  });
  await sim.init();
  const step = await sim.request("step", [0, {}, 10]);
  const call = await sim.next() as [number, number, [string, unknown[]]];
  assert.equal(call[0], 0, "a request of the simulator's");
  assert.equal(call[2][0], "get_progress");
  // Not answered: the step fails once the call gives up.
  const failure = await sim.next() as unknown[];
  assert.equal(failure[1], step);
  assertFailure(failure, "TimeoutError", /timed out after 50 ms/);
  // A late answer is dropped, and the simulator goes on.
  await sim.send([1, call[1], 0.5]);
  const again = await sim.request("step", [1, {}, 10]);
  const next = await sim.next() as [number, number, [string, unknown[]]];
  await sim.send([1, next[1], 0.5]);
  assert.deepEqual(await sim.next(), [1, again, 2]);
  assert.equal(await sim.stop(), 0);
});

Deno.test("callTimeout: Infinity is no limit", async () => {
  await using sim = await InProcess.start(new Asking(), [], {
    callTimeout: Infinity,
  });
  await sim.init();
  const step = await sim.request("step", [0, {}, 10]);
  const call = await sim.next() as [number, number, [string, unknown[]]];
  // No event to await: a timer for Infinity would fire after about 1 ms.
  await new Promise((resolve) => setTimeout(resolve, 20));
  await sim.send([1, call[1], 0.5]);
  assert.deepEqual(await sim.next(), [1, step, 1]);
  assert.equal(await sim.stop(), 0);
});

Deno.test("callTimeout: a value that is not milliseconds above 0 is refused at once", async () => {
  for (const callTimeout of [0, -1, NaN, "5" as unknown as number]) {
    const [a, b] = createMemoryPair();
    assert.throws(
      () => runSimulator(new Asking(), a, { callTimeout }),
      new RangeError(
        `Cannot use callTimeout ${callTimeout}: expected milliseconds above 0 (or Infinity)`,
      ),
    );
    await a.close?.();
    await b.close?.();
    const logs: string[] = [];
    const status = await startSimulation(new Asking(), ["127.0.0.1:1"], {
      exit: () => {},
      log: (level, message) => logs.push(`${level}: ${message}`),
      callTimeout,
    });
    assert.equal(status, 2);
    assert.deepEqual(logs, [
      `error: Cannot use callTimeout ${callTimeout}: expected milliseconds above 0 (or Infinity)`,
    ]);
  }
});
