// OpenTelemetry spans and metrics of RPC calls, recorded by in-memory
// providers (dev-only SDK packages) passed in RpcClientOptions.telemetry
// or registered globally.
import assert from "node:assert/strict";
import { contextManager, Recorder } from "../_telemetry.ts";
import {
  createTraceState,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
} from "npm:@opentelemetry/api@^1.9.0";
import type { ReadableSpan } from "npm:@opentelemetry/sdk-trace-base@^2.12.1";
import type {
  DataPoint,
  Histogram,
} from "npm:@opentelemetry/sdk-metrics@^2.12.1";
import {
  Channel,
  createMemoryPair,
  type Transport,
} from "../../channel/mod.ts";
import {
  expose,
  openConnection,
  RpcClient,
  type RpcTelemetryOptions,
  ServiceDict,
  startServer,
} from "../../rpc/mod.ts";
import { localTelemetry } from "../../rpc/_telemetry.ts";

function valueError(message: string): Error {
  const error = new Error(message);
  error.name = "ValueError";
  return error;
}

const calculator = new ServiceDict({
  add: (a: number, b: number) => a + b,
  fail: () => {
    throw valueError("no");
  },
  later: async (a: number) => {
    await Promise.resolve();
    return a * 2;
  },
});

interface Calculator {
  add(a: number, b: number): number;
  fail(): never;
  later(a: number): Promise<number>;
}

/** A client and a server RpcClient on a memory pair. */
function memoryPair(
  service: object,
  clientTelemetry: RpcTelemetryOptions | false | undefined,
  serverTelemetry: RpcTelemetryOptions | false | undefined,
): [RpcClient<Calculator>, RpcClient] {
  const [a, b] = createMemoryPair();
  const server = new RpcClient(new Channel(b), {
    service,
    telemetry: serverTelemetry,
  });
  const client = new RpcClient<Calculator>(new Channel(a), {
    telemetry: clientTelemetry,
  });
  return [client, server];
}

function one(spans: ReadableSpan[], kind: SpanKind): ReadableSpan {
  const found = spans.filter((span) => span.kind === kind);
  assert.equal(found.length, 1, `one span of kind ${SpanKind[kind]}`);
  return found[0];
}

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

Deno.test("calls made while serving a call are its children", async () => {
  await using recorder = new Recorder();
  using _context = contextManager();
  // x calls y's relay, which calls z's add on another connection.
  const [yToZ, z] = memoryPair(calculator, recorder.options, false);
  await using _yToZ = yToZ;
  await using _z = z;
  class Relay {
    @expose
    async relay(a: number): Promise<number> {
      await Promise.resolve();
      return await yToZ.call("add", [a, 1]) as number;
    }
  }
  const [x, y] = memoryPair(new Relay(), false, recorder.options);
  await using _x = x;
  await using _y = y;
  assert.equal(await x.call("relay", [1]), 2);
  const spans = await recorder.spans();
  const served = spans.find((span) => span.name === "aiomas/relay")!;
  const sent = spans.find((span) => span.name === "aiomas/add")!;
  assert.equal(sent.kind, SpanKind.CLIENT);
  assert.equal(sent.parentSpanContext?.spanId, served.spanContext().spanId);
  assert.equal(sent.spanContext().traceId, served.spanContext().traceId);
});

Deno.test("a connection made while serving a call serves in the root context", async () => {
  await using recorder = new Recorder();
  using _context = contextManager();
  // y's `open` makes a new connection, whose server side later serves
  // calls of its own: their spans must not be children of `open`'s.
  const made: { close(): Promise<void> }[] = [];
  let peer: RpcClient<Calculator> | undefined;
  class Opener {
    @expose
    open(): void {
      const [client, server] = memoryPair(
        calculator,
        false,
        recorder.options,
      );
      made.push(client, server);
      peer = client;
    }
  }
  const [x, y] = memoryPair(new Opener(), false, recorder.options);
  await using _x = x;
  await using _y = y;
  await x.call("open");
  assert.equal(await peer!.call("add", [1, 2]), 3);
  for (const client of made) await client.close();
  const spans = await recorder.spans();
  const opened = spans.find((span) => span.name === "aiomas/open")!;
  const added = spans.find((span) => span.name === "aiomas/add")!;
  assert.equal(added.kind, SpanKind.SERVER);
  assert.equal(added.parentSpanContext, undefined);
  assert.notEqual(
    added.spanContext().traceId,
    opened.spanContext().traceId,
  );
});

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

/** A transport of a memory pair with a trace context carrier, and the bytes it wrote. */
function carried(
  transport: Transport,
  wire: Map<number, Readonly<Record<string, string>>>,
  written: Uint8Array[],
): Transport {
  const copy = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      written.push(chunk.slice());
      controller.enqueue(chunk);
    },
  });
  copy.readable.pipeTo(transport.writable).catch(() => {});
  return {
    readable: transport.readable,
    writable: copy.writable,
    traceContext: {
      outgoing: (id, context) => wire.set(id, context),
      incoming(id) {
        const context = wire.get(id);
        wire.delete(id);
        return context;
      },
    },
  };
}

/** A client and a server RpcClient over transports that carry trace context. */
function carriedPair(
  telemetry: RpcTelemetryOptions | false,
  written: Uint8Array[] = [],
): [
  RpcClient<Calculator>,
  RpcClient,
  Map<number, Readonly<Record<string, string>>>,
] {
  const [a, b] = createMemoryPair();
  const wire = new Map<number, Readonly<Record<string, string>>>();
  const server = new RpcClient(new Channel(carried(b, wire, [])), {
    service: calculator,
    telemetry,
  });
  const client = new RpcClient<Calculator>(
    new Channel(carried(a, wire, written)),
    { telemetry },
  );
  return [client, server, wire];
}

Deno.test("where the transport carries trace context, the server span is the client span's child", async () => {
  await using recorder = new Recorder();
  const [client, server, wire] = carriedPair(recorder.options);
  await using _client = client;
  await using _server = server;
  const seen: Readonly<Record<string, string>>[] = [];
  const set = wire.set.bind(wire);
  wire.set = (id, context) => {
    seen.push(context);
    return set(id, context);
  };
  assert.equal(await client.call("add", [3, 4]), 7);
  await assert.rejects(client.call("nope"), { name: "RemoteError" });
  const spans = await recorder.spans();
  for (const method of ["add", "_OTHER"]) {
    const served = spans.find((span) =>
      span.kind === SpanKind.SERVER && span.name === `aiomas/${method}`
    )!;
    const sent = spans.find((span) =>
      span.kind === SpanKind.CLIENT &&
      span.spanContext().spanId === served.parentSpanContext?.spanId
    );
    assert.ok(sent !== undefined, `the ${method} server span has a parent`);
    assert.equal(served.spanContext().traceId, sent.spanContext().traceId);
    assert.equal(served.parentSpanContext?.isRemote, true);
  }
  // No propagator is registered: the library wrote traceparent itself.
  const sent = one(
    spans.filter((span) => span.name === "aiomas/add"),
    SpanKind.CLIENT,
  );
  const { traceId, spanId } = sent.spanContext();
  assert.deepEqual(seen[0], { traceparent: `00-${traceId}-${spanId}-01` });
  assert.equal(wire.size, 0);
});

Deno.test("a registered propagator injects and extracts the trace context", async () => {
  await using recorder = new Recorder();
  let injected = 0;
  let extracted = 0;
  // A W3C propagator of its own that counts and adds a tracestate.
  propagation.setGlobalPropagator({
    inject(context, carrier, setter) {
      const span = trace.getSpanContext(context)!;
      injected++;
      setter.set(
        carrier,
        "traceparent",
        `00-${span.traceId}-${span.spanId}-01`,
      );
      setter.set(carrier, "tracestate", "test=1");
    },
    extract(context, carrier, getter) {
      extracted++;
      const [, traceId, spanId] = String(getter.get(carrier, "traceparent"))
        .split("-");
      return trace.setSpanContext(context, {
        traceId,
        spanId,
        traceFlags: 1,
        isRemote: true,
        traceState: createTraceState(String(getter.get(carrier, "tracestate"))),
      });
    },
    fields: () => ["traceparent", "tracestate"],
  });
  try {
    const [client, server] = carriedPair(recorder.options);
    await using _client = client;
    await using _server = server;
    assert.equal(await client.call("add", [3, 4]), 7);
  } finally {
    propagation.disable();
  }
  assert.deepEqual([injected, extracted], [1, 1]);
  const spans = await recorder.spans();
  const sent = one(spans, SpanKind.CLIENT);
  const served = one(spans, SpanKind.SERVER);
  assert.equal(served.parentSpanContext?.spanId, sent.spanContext().spanId);
  assert.equal(served.parentSpanContext?.traceState?.get("test"), "1");
});

Deno.test("a malformed traceparent from the peer makes a root server span", async () => {
  await using recorder = new Recorder();
  const [a, b] = createMemoryPair();
  const wire = new Map<number, Readonly<Record<string, string>>>();
  await using server = new RpcClient(new Channel(carried(b, wire, [])), {
    service: calculator,
    telemetry: recorder.options,
  });
  await using client = new RpcClient(new Channel(a), { telemetry: false });
  const malformed = [
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",
    "not a traceparent",
  ];
  // The client sends without telemetry: these stand for its requests 0-3.
  malformed.forEach((traceparent, id) => wire.set(id, { traceparent }));
  for (let i = 0; i < malformed.length; i++) {
    assert.equal(await client.call("add", [1, 1]), 2);
  }
  assert.equal(wire.size, 0);
  const spans = await recorder.spans();
  assert.equal(spans.length, malformed.length);
  for (const span of spans) assert.equal(span.parentSpanContext, undefined);
  assert.ok(server.channel.stats.bytesReceived > 0);
});

Deno.test("over TCP nothing is carried: the server span is a root; a traced call's bytes are an untraced one's", async () => {
  await using recorder = new Recorder();
  await using server = await startServer(
    { hostname: "127.0.0.1", port: 0 },
    calculator,
    { telemetry: recorder.options },
  );
  await using client = await openConnection<Calculator>(server.addr, {
    telemetry: recorder.options,
  });
  assert.equal(await client.remote.add(1, 2), 3);
  const spans = await recorder.spans();
  const sent = one(spans, SpanKind.CLIENT);
  const served = one(spans, SpanKind.SERVER);
  assert.equal(served.parentSpanContext, undefined);
  assert.notEqual(served.spanContext().traceId, sent.spanContext().traceId);
  // The bytes a traced call writes are an untraced call's.
  const traced: Uint8Array[] = [];
  const plain: Uint8Array[] = [];
  for (
    const [telemetry, written] of [[recorder.options, traced], [
      false,
      plain,
    ]] as const
  ) {
    const [a, b] = createMemoryPair();
    await using _server = new RpcClient(new Channel(b), {
      service: calculator,
    });
    const wire = new Map();
    await using client = new RpcClient<Calculator>(
      new Channel(carried(a, wire, written)),
      { telemetry },
    );
    wire.clear();
    assert.equal(await client.remote.add(1, 2), 3);
  }
  assert.deepEqual(traced, plain);
  assert.ok(traced.length > 0);
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
