// OpenTelemetry metrics of RPC calls and connections, and which providers
// record: those in RpcClientOptions.telemetry, the global ones, none, or
// none with telemetry: false (in-memory providers, dev-only SDK packages).
import assert from "node:assert/strict";
import { Recorder } from "../_telemetry.ts";
import type {
  DataPoint,
  Histogram,
} from "npm:@opentelemetry/sdk-metrics@^2.12.1";
import { ServiceDict } from "../../rpc/mod.ts";
import { calculator, memoryPair } from "./_telemetry_calculator.ts";

Deno.test("metrics count calls by method and outcome, pending calls and connections", async () => {
  await using recorder = new Recorder();
  const [client, server] = memoryPair(
    calculator,
    recorder.options,
    recorder.options,
  );
  await client.call("add", [1, 2]);
  await client.call("add", [1, 2]);
  await assert.rejects(client.call("fail"));
  const started = (points: DataPoint<unknown>[], method: string) =>
    points.find((point) => point.attributes["rpc.method"] === method)?.value;
  // The duration histograms count the calls finished by method and outcome.
  const finished = (
    points: DataPoint<unknown>[],
    method: string,
    outcome: string,
  ) =>
    points.filter((point) =>
      point.attributes["rpc.method"] === method &&
      point.attributes["aiomas.outcome"] === outcome
    ).map((point) => (point.value as Histogram).count);
  for (const side of ["client", "server"]) {
    const starts = await recorder.points(`aiomas.rpc.${side}.calls.started`);
    assert.equal(started(starts, "add"), 2);
    assert.equal(started(starts, "fail"), 1);
    const durations = await recorder.points(`rpc.${side}.duration`);
    assert.deepEqual(finished(durations, "add", "ok"), [2]);
    assert.deepEqual(finished(durations, "add", "error"), []);
    assert.deepEqual(finished(durations, "fail", "error"), [1]);
    const failed = durations.find((p) =>
      p.attributes["rpc.method"] === "fail"
    )!;
    assert.equal(
      failed.attributes["error.type"],
      side === "client" ? "RemoteError" : "ValueError",
    );
    const pending = await recorder.points(`aiomas.rpc.${side}.calls.pending`);
    assert.equal(pending[0].value, 0);
  }
  const open = await recorder.points("aiomas.rpc.connections.open");
  assert.deepEqual(
    open.map((p) => [p.attributes["aiomas.codec"], p.value]),
    [["json", 2]],
  );
  await client.close();
  await server.closed;
  await server.close();
  assert.equal(
    (await recorder.points("aiomas.rpc.connections.open"))[0].value,
    0,
  );
  const closed = await recorder.points("aiomas.rpc.connections.closed");
  assert.deepEqual(
    closed.map((p) => [p.attributes["aiomas.close_reason"], p.value]),
    [["closed", 2]],
  );
});

Deno.test("a pending call is counted until it is answered", async () => {
  await using recorder = new Recorder();
  const { promise: gate, resolve: open } = Promise.withResolvers<void>();
  const { promise: entered, resolve: enter } = Promise.withResolvers<void>();
  const service = new ServiceDict({
    wait: async () => {
      enter();
      await gate;
      return 1;
    },
  });
  const [client, server] = memoryPair(
    service,
    recorder.options,
    recorder.options,
  );
  await using _client = client;
  await using _server = server;
  const reply = client.call("wait");
  await entered;
  assert.equal(
    (await recorder.points("aiomas.rpc.client.calls.pending"))[0].value,
    1,
  );
  assert.equal(
    (await recorder.points("aiomas.rpc.server.calls.pending"))[0].value,
    1,
  );
  open();
  assert.equal(await reply, 1);
  assert.equal(
    (await recorder.points("aiomas.rpc.client.calls.pending"))[0].value,
    0,
  );
  assert.equal(
    (await recorder.points("aiomas.rpc.server.calls.pending"))[0].value,
    0,
  );
});

Deno.test("telemetry: false records nothing even with providers given", async () => {
  await using recorder = new Recorder();
  using _global = recorder.registerGlobally();
  const [client, server] = memoryPair(calculator, false, false);
  await using _client = client;
  await using _server = server;
  assert.equal(await client.call("add", [1, 2]), 3);
  await recorder.assertNothingRecorded();
});

Deno.test("the global providers are used by default", async () => {
  await using recorder = new Recorder();
  using _global = recorder.registerGlobally();
  const [client, server] = memoryPair(calculator, undefined, undefined);
  await using _client = client;
  await using _server = server;
  assert.equal(await client.call("add", [1, 2]), 3);
  assert.equal((await recorder.spans()).length, 2);
  const started = await recorder.points("aiomas.rpc.client.calls.started");
  assert.equal(started[0].value, 1);
});

Deno.test("with no provider registered nothing is recorded and calls work", async () => {
  await using recorder = new Recorder();
  // Made before registering: a connection decides once, when it is made.
  const [client, server] = memoryPair(calculator, undefined, undefined);
  await using _client = client;
  await using _server = server;
  assert.equal(await client.call("add", [1, 2]), 3);
  await assert.rejects(client.call("fail"), { name: "RemoteError" });
  assert.equal(await client.remote.later(2), 4);
  using _global = recorder.registerGlobally();
  assert.equal(await client.call("add", [1, 2]), 3);
  await recorder.assertNothingRecorded();
});

Deno.test("metrics count at most 1024 methods apart per side, and none with a name over 256 characters: the rest are _OTHER (a peer's references make paths of its choosing)", async () => {
  await using recorder = new Recorder();
  const [client, server] = memoryPair(calculator, recorder.options, false);
  try {
    // Paths the server does not have: each fails there, and counts here.
    const paths = [
      "x".repeat(257),
      ...Array.from({ length: 1100 }, (_, i) => `m${i}`),
    ];
    for (const path of paths) await assert.rejects(client.call(path));
    const methods = new Map<string, number>();
    for (
      const point of await recorder.points("aiomas.rpc.client.calls.started")
    ) {
      methods.set(
        String(point.attributes["rpc.method"]),
        point.value as number,
      );
    }
    assert.equal(methods.size, 1024);
    assert.equal(methods.get("m1022"), 1);
    assert.equal(methods.has("m1023"), false);
    // The long name, and the 77 beyond the 1024th method.
    assert.equal(methods.get("_OTHER"), 1 + 77);
    // The failed calls' durations count under the same names.
    const durations = new Set(
      (await recorder.points("rpc.client.duration")).map((point) =>
        point.attributes["rpc.method"]
      ),
    );
    assert.equal(durations.size, 1024);
    assert.ok(durations.has("_OTHER") && !durations.has("m1023"));
  } finally {
    await client.close();
    await server.close();
  }
});
