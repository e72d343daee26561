// The trace context of RPC calls: calls made while serving a call are its
// children, and where the transport carries trace context the server span is
// the client span's child (in-memory providers, dev-only SDK packages).
import assert from "node:assert/strict";
import { contextManager, Recorder } from "../_telemetry.ts";
import {
  createTraceState,
  propagation,
  SpanKind,
  trace,
} from "npm:@opentelemetry/api@^1.9.0";
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
  startServer,
} from "../../rpc/mod.ts";
import {
  type Calculator,
  calculator,
  memoryPair,
  one,
} from "./_telemetry_calculator.ts";

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
