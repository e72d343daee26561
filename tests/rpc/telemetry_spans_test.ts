// OpenTelemetry spans of RPC calls: names, attributes, errors and the
// aiomas.connection.closed event, recorded by in-memory providers (dev-only
// SDK packages) passed in RpcClientOptions.telemetry; and localTelemetry.
import assert from "node:assert/strict";
import { contextManager, Recorder } from "../_telemetry.ts";
import { SpanKind, SpanStatusCode } from "npm:@opentelemetry/api@^1.9.0";
import type { ReadableSpan } from "npm:@opentelemetry/sdk-trace-base@^2.12.1";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  openConnection,
  RpcClient,
  type RpcTelemetryOptions,
  ServiceDict,
  startServer,
} from "../../rpc/mod.ts";
import { localTelemetry } from "../../rpc/_telemetry.ts";
import { calculator, memoryPair, one } from "./_telemetry_calculator.ts";

Deno.test("a call makes one client span and one server span", async () => {
  await using recorder = new Recorder();
  const [client, server] = memoryPair(
    calculator,
    recorder.options,
    recorder.options,
  );
  await using _client = client;
  await using _server = server;
  assert.equal(await client.call("add", [3, 4]), 7);
  const spans = await recorder.spans();
  assert.equal(spans.length, 2);
  const sent = one(spans, SpanKind.CLIENT);
  const served = one(spans, SpanKind.SERVER);
  for (const span of [sent, served]) {
    assert.equal(span.name, "aiomas/add");
    assert.equal(span.attributes["rpc.system"], "aiomas");
    assert.equal(span.attributes["rpc.method"], "add");
    assert.equal(span.attributes["aiomas.codec"], "json");
    assert.equal(span.attributes["network.peer.address"], "peer");
    assert.equal(span.attributes["error.type"], undefined);
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.equal(span.instrumentationScope.name, "@aiomas/aiomas");
  }
  // Nothing is carried on the aiomas wire: the server span is a root.
  assert.equal(served.parentSpanContext, undefined);
  assert.notEqual(served.spanContext().traceId, sent.spanContext().traceId);
});

Deno.test("proxy calls and async handlers are traced the same", async () => {
  await using recorder = new Recorder();
  const [client, server] = memoryPair(
    calculator,
    recorder.options,
    recorder.options,
  );
  await using _client = client;
  await using _server = server;
  assert.equal(await client.remote.later(21), 42);
  const spans = await recorder.spans();
  assert.deepEqual(
    spans.map((span) => [span.name, span.kind]).sort(),
    [["aiomas/later", SpanKind.SERVER], ["aiomas/later", SpanKind.CLIENT]],
  );
});

Deno.test("a RemoteError sets error status and error.type on both spans", async () => {
  await using recorder = new Recorder();
  const [client, server] = memoryPair(
    calculator,
    recorder.options,
    recorder.options,
  );
  await using _client = client;
  await using _server = server;
  await assert.rejects(client.call("fail"), { name: "RemoteError" });
  const spans = await recorder.spans();
  const sent = one(spans, SpanKind.CLIENT);
  const served = one(spans, SpanKind.SERVER);
  assert.equal(sent.status.code, SpanStatusCode.ERROR);
  assert.match(sent.status.message ?? "", /ValueError: no/);
  assert.equal(sent.attributes["error.type"], "RemoteError");
  assert.equal(sent.attributes["aiomas.remote_error.type"], "ValueError");
  assert.equal(sent.events[0]?.name, "exception");
  assert.equal(served.status.code, SpanStatusCode.ERROR);
  assert.equal(served.status.message, "no");
  assert.equal(served.attributes["error.type"], "ValueError");
});

Deno.test("a path the service does not have is rpc.method _OTHER on the server", async () => {
  await using recorder = new Recorder();
  const [client, server] = memoryPair(
    calculator,
    recorder.options,
    recorder.options,
  );
  await using _client = client;
  await using _server = server;
  // A hostile peer's made-up paths must not become span names or metric keys.
  await assert.rejects(client.call("x".repeat(1000)), { name: "RemoteError" });
  const served = one(await recorder.spans(), SpanKind.SERVER);
  assert.equal(served.name, "aiomas/_OTHER");
  assert.equal(served.attributes["rpc.method"], "_OTHER");
  assert.equal(served.attributes["error.type"], "LookupError");
  const started = await recorder.points("aiomas.rpc.server.calls.started");
  assert.deepEqual(started.map((point) => point.attributes["rpc.method"]), [
    "_OTHER",
  ]);
});

Deno.test("a result that cannot be encoded fails the server span", async () => {
  await using recorder = new Recorder();
  const service = new ServiceDict({ bad: () => new WeakMap() });
  const [client, server] = memoryPair(service, false, recorder.options);
  await using _client = client;
  await using _server = server;
  await assert.rejects(client.call("bad"), { name: "RemoteError" });
  const served = one(await recorder.spans(), SpanKind.SERVER);
  assert.equal(served.attributes["error.type"], "SerializationError");
});

Deno.test("a timed-out call ends its client span with TimeoutError", async () => {
  await using recorder = new Recorder();
  const { promise: never, resolve: release } = Promise.withResolvers<void>();
  const service = new ServiceDict({ wait: () => never });
  const [client, server] = memoryPair(service, recorder.options, false);
  await using _client = client;
  await using _server = server;
  await assert.rejects(client.call("wait", [], {}, { timeout: 1 }), {
    name: "TimeoutError",
  });
  release();
  const sent = one(await recorder.spans(), SpanKind.CLIENT);
  assert.equal(sent.attributes["error.type"], "TimeoutError");
  assert.equal(sent.status.code, SpanStatusCode.ERROR);
});

Deno.test("TCP spans name the peer's host and port", async () => {
  await using recorder = new Recorder();
  await using server = await startServer("127.0.0.1:0", calculator, {
    telemetry: recorder.options,
  });
  await using client = await openConnection(server.addr, {
    telemetry: recorder.options,
  });
  assert.equal(await client.call("add", [1, 2]), 3);
  const spans = await recorder.spans();
  const port = (server.addr as { port: number }).port;
  const sent = one(spans, SpanKind.CLIENT);
  assert.equal(sent.attributes["server.address"], "127.0.0.1");
  assert.equal(sent.attributes["server.port"], port);
  assert.equal(sent.attributes["network.peer.port"], port);
  const served = one(spans, SpanKind.SERVER);
  assert.equal(served.attributes["client.address"], "127.0.0.1");
  assert.equal(typeof served.attributes["client.port"], "number");
});

Deno.test("attributes, callAttributes and simTime go on every span", async () => {
  await using recorder = new Recorder();
  let now: number | undefined = 5;
  const telemetry: RpcTelemetryOptions = {
    ...recorder.options,
    attributes: { "aiomas.container": "tcp://127.0.0.1:5555" },
    simTime: () => now,
    callAttributes: (method, side) => ({ "test.call": `${side}:${method}` }),
  };
  const [client, server] = memoryPair(calculator, telemetry, telemetry);
  await using _client = client;
  await using _server = server;
  await client.call("add", [1, 1]);
  now = 7.5;
  await client.call("add", [1, 1]);
  now = undefined;
  await client.call("add", [1, 1]);
  const spans = await recorder.spans();
  assert.deepEqual(
    spans.filter((span) => span.kind === SpanKind.CLIENT).map((span) =>
      span.attributes["aiomas.sim_time"]
    ),
    [5, 7.5, undefined],
  );
  for (const span of spans) {
    assert.equal(span.attributes["aiomas.container"], "tcp://127.0.0.1:5555");
    const side = span.kind === SpanKind.CLIENT ? "client" : "server";
    assert.equal(span.attributes["test.call"], `${side}:add`);
  }
});

Deno.test("localTelemetry traces calls that take no connection", async () => {
  await using recorder = new Recorder();
  using _context = contextManager();
  const telemetry = localTelemetry("tcp://127.0.0.1:5555", "msgpack", {
    ...recorder.options,
    simTime: () => 3,
  })!;
  const result = await telemetry.track("agents/0/add", async () => {
    await Promise.resolve();
    const served = telemetry.serve("agents/0/add");
    const sum = telemetry.within(served, (a: number) => a + 1, undefined, 1);
    telemetry.served(served);
    return sum;
  });
  assert.equal(result, 2);
  const spans = await recorder.spans();
  const sent = one(spans, SpanKind.CLIENT);
  const served = one(spans, SpanKind.SERVER);
  assert.equal(sent.name, "aiomas/agents/0/add");
  assert.equal(sent.attributes["server.address"], "127.0.0.1");
  assert.equal(sent.attributes["server.port"], 5555);
  assert.equal(sent.attributes["aiomas.codec"], "msgpack");
  assert.equal(sent.attributes["aiomas.sim_time"], 3);
  // Within one process the context is carried: the server span is a child.
  assert.equal(served.parentSpanContext?.spanId, sent.spanContext().spanId);
  // No connection is counted for calls that take none.
  assert.deepEqual(await recorder.points("aiomas.rpc.connections.open"), []);
  const failed = telemetry.track("agents/0/x", () => {
    throw new TypeError("bad argument");
  });
  await assert.rejects(failed, TypeError);
  const spans2 = await recorder.spans();
  assert.equal(spans2.at(-1)?.attributes["error.type"], "TypeError");
});

Deno.test("localTelemetry is undefined when nothing would be recorded", () => {
  assert.equal(
    localTelemetry("tcp://127.0.0.1:5555", "json", undefined),
    undefined,
  );
  assert.equal(
    localTelemetry("tcp://127.0.0.1:5555", "json", false),
    undefined,
  );
});

/** The events named `aiomas.connection.closed` of a span. */
function closedEvents(span: ReadableSpan) {
  return span.events.filter((event) =>
    event.name === "aiomas.connection.closed"
  );
}

Deno.test("a budget cut-off adds aiomas.connection.closed to the spans still open on both sides", async () => {
  await using recorder = new Recorder();
  const held = Promise.withResolvers<string>();
  const entered = Promise.withResolvers<void>();
  const service = new ServiceDict({
    add: (a: number, b: number) => a + b,
    hold: () => {
      entered.resolve();
      return held.promise;
    },
    echo: (value: string) => value,
  });
  const [a, b] = createMemoryPair();
  await using server = new RpcClient(new Channel(b, { maxFrameSize: 64 }), {
    service,
    telemetry: recorder.options,
  });
  await using client = new RpcClient(new Channel(a, { peer: "far" }), {
    telemetry: recorder.options,
  });
  assert.equal(await client.call("add", [1, 2]), 3);
  const holding = client.call("hold");
  await entered.promise;
  // A frame over the server's maxFrameSize: the server cuts the connection.
  const big = client.call("echo", ["x".repeat(100)]);
  await assert.rejects(server.closed, { name: "ProtocolError" });
  await assert.rejects(holding, { name: "ConnectionClosedError" });
  await assert.rejects(big, { name: "ConnectionClosedError" });
  // The server's handler answers late: its span ends now.
  held.resolve("late");
  await server.close();
  const spans = await recorder.spans();
  // The call answered before has no event.
  for (const span of spans.filter((span) => span.name === "aiomas/add")) {
    assert.deepEqual(closedEvents(span), []);
  }
  const servedHold = one(
    spans.filter((span) => span.name === "aiomas/hold"),
    SpanKind.SERVER,
  );
  const [cut] = closedEvents(servedHold);
  assert.equal(cut.attributes?.["error.type"], "ProtocolError");
  assert.equal(cut.attributes?.["exception.type"], "ProtocolError");
  assert.match(
    String(cut.attributes?.["exception.message"]),
    /length \d+ exceeds maxFrameSize 64/,
  );
  assert.equal(cut.attributes?.["aiomas.peer"], "peer");
  // The client saw the peer go: both its open calls say so.
  for (const method of ["hold", "echo"]) {
    const sent = one(
      spans.filter((span) => span.name === `aiomas/${method}`),
      SpanKind.CLIENT,
    );
    const events = closedEvents(sent);
    assert.equal(events.length, 1, method);
    // The cut reaches the client as a reset, as over TCP.
    assert.equal(events[0].attributes?.["error.type"], "NetworkError");
    assert.equal(events[0].attributes?.["exception.type"], "NetworkError");
    assert.equal(events[0].attributes?.["aiomas.peer"], "far");
    assert.equal(sent.status.code, SpanStatusCode.ERROR);
    // The event came before the span ended.
    assert.ok(
      events[0].time[0] * 1e9 + events[0].time[1] <=
        sent.endTime[0] * 1e9 + sent.endTime[1],
    );
  }
});

Deno.test("closing a connection adds aiomas.connection.closed to its pending calls' spans", async () => {
  await using recorder = new Recorder();
  const entered = Promise.withResolvers<void>();
  const service = new ServiceDict({
    hold: () => {
      entered.resolve();
      return new Promise<never>(() => {});
    },
  });
  const [a, b] = createMemoryPair();
  await using server = new RpcClient(new Channel(b), { service });
  const client = new RpcClient(new Channel(a), { telemetry: recorder.options });
  const holding = client.call("hold");
  await entered.promise;
  await client.close();
  await assert.rejects(holding, { name: "ConnectionClosedError" });
  await server.closed;
  const [sent] = await recorder.spans();
  const [closed] = closedEvents(sent);
  assert.equal(closed.attributes?.["exception.type"], "ConnectionClosedError");
  assert.match(String(closed.attributes?.["exception.message"]), /closed/);
  assert.equal(closed.attributes?.["error.type"], undefined);
});
