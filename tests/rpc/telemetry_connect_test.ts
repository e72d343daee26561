// rpc.openConnection inside a span `aiomas.connect` when a tracer provider
// is given or registered; none with telemetry: false.
import assert from "node:assert/strict";
import { contextManager, Recorder } from "../_telemetry.ts";
import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
} from "npm:@opentelemetry/api@^1.9.0";
import { openConnection, ServiceDict, startServer } from "../../rpc/mod.ts";

const LOCAL = { hostname: "127.0.0.1", port: 0 } as const;
const service = new ServiceDict({ ping: () => "pong" });

Deno.test("openConnection is a span aiomas.connect, a child of the active span", async () => {
  using _context = contextManager();
  await using recorder = new Recorder();
  await using server = await startServer(LOCAL, service);
  const tracer = recorder.tracerProvider.getTracer("test");
  const parent = tracer.startSpan("parent");
  const client = await context.with(
    trace.setSpan(context.active(), parent),
    () => openConnection(server.addr, { telemetry: recorder.options }),
  );
  await using _client = client;
  parent.end();
  assert.equal(await client.remote.ping(), "pong");
  const connect = (await recorder.spans()).filter((span) =>
    span.name === "aiomas.connect"
  );
  assert.equal(connect.length, 1);
  assert.equal(connect[0].kind, SpanKind.INTERNAL);
  assert.equal(connect[0].status.code, SpanStatusCode.UNSET);
  assert.equal(connect[0].attributes["server.address"], "127.0.0.1");
  assert.equal(
    connect[0].attributes["server.port"],
    (server.addr as Deno.NetAddr).port,
  );
  assert.equal(
    connect[0].parentSpanContext?.spanId,
    parent.spanContext().spanId,
  );
});

Deno.test("a refused openConnection ends its span aiomas.connect with ERROR", async () => {
  using _context = contextManager();
  await using recorder = new Recorder();
  const listener = Deno.listen(LOCAL);
  const closed = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    openConnection(`127.0.0.1:${closed}`, { telemetry: recorder.options }),
    Deno.errors.ConnectionRefused,
  );
  const failed = (await recorder.spans()).filter((span) =>
    span.name === "aiomas.connect"
  );
  assert.equal(failed.length, 1);
  assert.equal(failed[0].status.code, SpanStatusCode.ERROR);
  assert.equal(failed[0].attributes["server.port"], closed);
  assert.equal(typeof failed[0].attributes["error.type"], "string");
});

Deno.test("a Unix socket connection's span names its path; telemetry: false makes none", async () => {
  using _context = contextManager();
  await using recorder = new Recorder();
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/rpc.sock`;
    {
      await using server = await startServer({ path }, service);
      await using client = await openConnection(server.addr, {
        telemetry: recorder.options,
      });
      assert.equal(await client.remote.ping(), "pong");
      await using untraced = await openConnection(server.addr, {
        telemetry: false,
      });
      assert.equal(await untraced.remote.ping(), "pong");
    }
    const connect = (await recorder.spans()).filter((span) =>
      span.name === "aiomas.connect"
    );
    assert.equal(connect.length, 1);
    assert.equal(connect[0].attributes["network.transport"], "unix");
    assert.equal(connect[0].attributes["server.address"], path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
