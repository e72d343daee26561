// How large a step mosaik may send: frames up to maxFrameSize, and what
// they build when decoded up to maxDecodedSize (by default 10 units per
// byte of maxFrameSize, which mosaik's usual inputs stay under). Small
// frame sizes keep these tests fast; the ratio is the same at 16 MiB.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  ConnectionClosedError,
  type CreateResult,
  type InputData,
  type OutputData,
  runSimulator,
  Simulator,
  startSimulation,
} from "../../mosaik/mod.ts";
import { InProcess } from "./_mosaik.ts";

const FRAME = 64 * 1024;

class Stepper extends Simulator {
  constructor() {
    super({ models: {} });
  }
  create(): CreateResult[] {
    return [];
  }
  step(time: number, _inputs: InputData): number {
    return time + 1;
  }
  getData(): OutputData {
    return {};
  }
}

/**
 * A step's arguments whose JSON is about `bytes` long: inputs of one
 * entity's attribute from many sources, each sending `value`.
 */
function stepOf(bytes: number, value: unknown): unknown[] {
  const sources: Record<string, unknown> = {};
  const valueText = JSON.stringify(value);
  for (let i = 0, length = 0; length < bytes; i++) {
    const key = `PV-0.pv_${i}`;
    sources[key] = value;
    length += key.length + valueText.length + 4;
  }
  return [0, { Load_0: { P: sources } }, 10];
}

/** mosaik's usual inputs: numbers, keyed by full ids. */
const NUMBERS = 1.5;
/** Far denser: eight empty objects for every source (about 15 units per byte). */
const EMPTY_OBJECTS = Array.from({ length: 8 }, () => ({}));

Deno.test("a step of mosaik's usual inputs just under maxFrameSize decodes by default", async () => {
  await using sim = await InProcess.start(new Stepper(), [], {
    maxFrameSize: FRAME,
  });
  const args = stepOf(FRAME - 200, NUMBERS);
  const id = await sim.request("step", args);
  assert.ok(JSON.stringify([0, id, ["step", args, {}]]).length > FRAME - 200);
  assert.deepEqual(await sim.next(), [1, id, 1]);
  assert.equal(await sim.stop(), 0);
});

Deno.test("a step of one short-named source per entity just under maxFrameSize decodes by default", async () => {
  await using sim = await InProcess.start(new Stepper(), [], {
    maxFrameSize: FRAME,
  });
  // The densest usual shape: {"L7": {"P": {"S.7": 1}}}, about 8 units per byte.
  const inputs: Record<string, unknown> = {};
  for (let i = 0, length = 0; length < FRAME - 200; i++) {
    inputs[`L${i}`] = { P: { [`S.${i}`]: 1 } };
    length += JSON.stringify(inputs[`L${i}`]).length + `L${i}`.length + 4;
  }
  const args = [0, inputs, 10];
  const id = await sim.request("step", args);
  assert.ok(JSON.stringify([0, id, ["step", args, {}]]).length > FRAME - 400);
  assert.deepEqual(await sim.next(), [1, id, 1]);
  assert.equal(await sim.stop(), 0);
});

Deno.test("during a step of several MiB the simulator still reads mosaik's replies and a stop", async () => {
  // Such a step is charged more than a channel's default maxUnansweredSize
  // (64 Mi units at 32 per byte): reading would stop behind it.
  class Asking extends Simulator {
    readonly release = Promise.withResolvers<void>();
    progress: number[] = [];
    stopped = false;
    constructor() {
      super({ models: {} });
    }
    create(): CreateResult[] {
      return [];
    }
    getData(): OutputData {
      return {};
    }
    async step(time: number): Promise<number> {
      this.progress.push(await this.mosaik.getProgress());
      await this.release.promise;
      return time + 1;
    }
    override stop(): void {
      this.stopped = true;
    }
  }
  const asking = new Asking();
  await using sim = await InProcess.start(asking);
  const args = stepOf(3 * 1024 * 1024, NUMBERS);
  await sim.request("step", args);
  const request = await sim.next() as [number, number, [string]];
  assert.deepEqual(request[2], ["get_progress", [], {}]);
  await sim.send([1, request[1], 50]);
  // The reply was read; now mosaik shuts down while the step still runs.
  await sim.request("stop");
  sim.close();
  assert.equal(await sim.running, 0);
  assert.deepEqual(asking.progress, [50]);
  assert.ok(asking.stopped);
  asking.release.resolve();
});

Deno.test("a step that builds more than maxDecodedSize closes the connection and exits 1 naming it", async () => {
  await using sim = await InProcess.start(new Stepper(), [], {
    maxFrameSize: FRAME,
  });
  await sim.request("step", stepOf(FRAME - 200, EMPTY_OBJECTS));
  // mosaik sees the connection dropped.
  assert.equal(await sim.next(), null);
  assert.equal(await sim.running, 1);
  assert.match(
    sim.logs.at(-1)!,
    /^error: The connection to mosaik \(127\.0\.0\.1:\d+\) was lost before stop: .*Cannot decode JSON: the message builds more than maxDecodedSize \(655360 units\)/,
  );
});

Deno.test("maxDecodedSize raises the budget on its own", async () => {
  await using sim = await InProcess.start(new Stepper(), [], {
    maxFrameSize: FRAME,
    maxDecodedSize: 32 * FRAME,
  });
  const id = await sim.request("step", stepOf(FRAME - 200, EMPTY_OBJECTS));
  assert.deepEqual(await sim.next(), [1, id, 1]);
  assert.equal(await sim.stop(), 0);
});

Deno.test("startSimulation: a maxDecodedSize that is not a positive number exits 2 before connecting", async () => {
  for (const maxDecodedSize of [0, -1, NaN]) {
    const logs: string[] = [];
    const exits: number[] = [];
    const status = await startSimulation(new Stepper(), ["127.0.0.1:1"], {
      exit: (code) => exits.push(code),
      log: (level, message) => logs.push(`${level}: ${message}`),
      maxDecodedSize,
    });
    assert.equal(status, 2);
    assert.deepEqual(exits, [2]);
    assert.deepEqual(logs, [
      `error: Cannot use maxDecodedSize ${maxDecodedSize}: expected a positive number of cost units`,
    ]);
  }
});

Deno.test("startSimulation takes any positive maxDecodedSize, as runSimulator does (Infinity for no budget)", async () => {
  for (const maxDecodedSize of [0.5, Infinity]) {
    // Port 1 refuses: getting as far as connecting shows the option was taken.
    const logs: string[] = [];
    const status = await startSimulation(new Stepper(), ["127.0.0.1:1"], {
      exit: () => {},
      log: (level, message) => logs.push(`${level}: ${message}`),
      maxDecodedSize,
    });
    assert.equal(status, 1, logs.join("\n"));
    assert.ok(
      logs.every((line) => !line.includes("Cannot use")),
      logs.join("\n"),
    );
  }
});

Deno.test("runSimulator takes maxFrameSize and maxDecodedSize too", async () => {
  for (
    const [maxDecodedSize, served] of [[undefined, false], [
      32 * FRAME,
      true,
    ]] as const
  ) {
    const [a, b] = createMemoryPair();
    await using mosaik = new Channel(b, { maxFrameSize: 2 * FRAME });
    const running = runSimulator(new Stepper(), a, {
      maxFrameSize: FRAME,
      maxDecodedSize,
    });
    const stepped = mosaik.send([
      "step",
      stepOf(FRAME - 200, EMPTY_OBJECTS),
      {},
    ]);
    if (served) {
      assert.equal(await stepped, 1);
      mosaik.send(["stop", [], {}]).catch(() => {});
      await running;
    } else {
      await assert.rejects(stepped, ConnectionClosedError);
      await assert.rejects(running, (error) => {
        assert.ok(error instanceof ConnectionClosedError, String(error));
        assert.match(
          error.message,
          /more than maxDecodedSize \(655360 units\)/,
        );
        return true;
      });
    }
  }
});
