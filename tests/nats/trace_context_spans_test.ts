// Trace context between this library's peers over NATS, end to end: the
// client span's W3C context travels in the headers of the session's data
// messages (`Aiomas-Trace`), so the server span (an RPC service, an agent in
// a container, in this or another process) is its child. Real nats-server,
// in-memory OpenTelemetry providers (dev-only SDK packages).
import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "npm:@opentelemetry/api@^1.9.0";
import type { ReadableSpan } from "npm:@opentelemetry/sdk-trace-base@^2.12.1";
import { Agent, Container } from "../../agent/mod.ts";
import { connectNats, serveNats } from "../../nats/mod.ts";
import { expose, ServiceDict } from "../../rpc/mod.ts";
import { Recorder } from "../_telemetry.ts";
import { NatsServer } from "./_server.ts";
import { watch } from "./_trace_context_watch.ts";

const service = new ServiceDict({ add: (a: number, b: number) => a + b });

function one(spans: ReadableSpan[], kind: SpanKind): ReadableSpan {
  const found = spans.filter((span) => span.kind === kind);
  assert.equal(found.length, 1, `one span of kind ${SpanKind[kind]}`);
  return found[0];
}

function assertChild(served: ReadableSpan, sent: ReadableSpan): void {
  assert.equal(served.spanContext().traceId, sent.spanContext().traceId);
  assert.equal(served.parentSpanContext?.spanId, sent.spanContext().spanId);
  assert.equal(served.parentSpanContext?.isRemote, true);
}

Deno.test("an RPC call over NATS: the server span is the child of the client span", async () => {
  await using server = await NatsServer.start();
  await using recorder = new Recorder();
  await using watcher = await watch(server.url);
  const nats = { servers: server.url };
  await using _service = await serveNats(service, {
    nats,
    subject: "calc",
    telemetry: recorder.options,
  });
  await using client = await connectNats<{ add(a: number, b: number): number }>(
    "calc",
    { nats, telemetry: recorder.options },
  );
  assert.equal(await client.remote.add(1, 2), 3);
  // Many calls in one tick: each gets its own parent.
  const sums = await Promise.all(
    Array.from({ length: 50 }, (_, i) => client.remote.add(i, 1)),
  );
  assert.deepEqual(sums, Array.from({ length: 50 }, (_, i) => i + 1));
  const spans = await recorder.spans();
  const sent = spans.filter((span) => span.kind === SpanKind.CLIENT);
  const served = spans.filter((span) => span.kind === SpanKind.SERVER);
  assert.equal(sent.length, 51);
  assert.equal(served.length, 51);
  const bySpanId = new Map(
    sent.map((span) => [span.spanContext().spanId, span]),
  );
  for (const span of served) {
    const parent = bySpanId.get(span.parentSpanContext?.spanId ?? "");
    assert.ok(parent !== undefined, "every server span has its client span");
    assertChild(span, parent);
    assert.equal(span.attributes["rpc.method"], "add");
  }
  await client.close();
  // The 51 contexts went in headers, one value per call, and nowhere else.
  assert.equal(watcher.seen.flat().length, 51);
  for (const value of watcher.seen.flat()) {
    assert.match(value, /^\d+ 00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  }
});

Deno.test("a traced call larger than max_payload: the context goes with its first piece", async () => {
  await using server = await NatsServer.start();
  await using recorder = new Recorder();
  const nats = { servers: server.url };
  await using _service = await serveNats(
    new ServiceDict({ size: (text: string) => text.length }),
    { nats, subject: "big", telemetry: recorder.options },
  );
  await using client = await connectNats<{ size(text: string): number }>(
    "big",
    { nats, telemetry: recorder.options },
  );
  const text = "x".repeat(3 * 1024 * 1024);
  const [a, b] = await Promise.all([
    client.remote.size(text),
    client.remote.size("small"),
  ]);
  assert.deepEqual([a, b], [text.length, 5]);
  const spans = await recorder.spans();
  const served = spans.filter((span) => span.kind === SpanKind.SERVER);
  assert.equal(served.length, 2);
  for (const span of served) {
    const parent = spans.find((sent) =>
      sent.kind === SpanKind.CLIENT &&
      sent.spanContext().spanId === span.parentSpanContext?.spanId
    );
    assert.ok(parent !== undefined);
  }
});

Deno.test("connectNats opens each session inside a span aiomas.connect", async () => {
  await using server = await NatsServer.start();
  await using recorder = new Recorder();
  const nats = { servers: server.url };
  await using _service = await serveNats(service, { nats, subject: "calc" });
  await using client = await connectNats<{ add(a: number, b: number): number }>(
    "calc",
    { nats, telemetry: recorder.options },
  );
  assert.equal(await client.remote.add(1, 2), 3);
  await assert.rejects(
    connectNats("nobody", { nats, telemetry: recorder.options }),
    { name: "ConnectionClosedError" },
  );
  const connects = (await recorder.spans()).filter((span) =>
    span.name === "aiomas.connect"
  );
  assert.deepEqual(
    connects.map((span) => [
      span.attributes["network.peer.address"],
      span.kind,
      span.status.code,
      span.attributes["error.type"],
    ]),
    [
      ["nats:calc", SpanKind.INTERNAL, SpanStatusCode.UNSET, undefined],
      [
        "nats:nobody",
        SpanKind.INTERNAL,
        SpanStatusCode.ERROR,
        "ConnectionClosedError",
      ],
    ],
  );
});

Deno.test("with no provider nothing is recorded and no message has headers", async () => {
  await using server = await NatsServer.start();
  await using recorder = new Recorder();
  await using watcher = await watch(server.url);
  const nats = { servers: server.url };
  await using _service = await serveNats(service, { nats, subject: "calc" });
  await using client = await connectNats<{ add(a: number, b: number): number }>(
    "calc",
    { nats },
  );
  assert.equal(await client.remote.add(1, 2), 3);
  await client.close();
  await recorder.assertNothingRecorded();
  assert.ok(watcher.messages > 0);
  assert.deepEqual(watcher.seen, []);
});

class Callee extends Agent {
  @expose
  echo(value: number): number {
    return value;
  }
}

Deno.test("an agent calling an agent in a container on NATS: the callee's server span is the caller's child", async () => {
  await using server = await NatsServer.start();
  await using recorder = new Recorder();
  const nats = { servers: server.url };
  await using alice = await Container.create("nats://alice", {
    nats,
    telemetry: recorder.options,
  });
  await using bob = await Container.create("nats://bob", {
    nats,
    telemetry: recorder.options,
  });
  const callee = new Callee(bob);
  const proxy = await alice.connect<Callee>(callee.addr);
  assert.equal(await proxy.echo(7), 7);
  const spans = (await recorder.spans()).filter((span) =>
    span.name === "aiomas/agents/0/echo"
  );
  const sent = one(spans, SpanKind.CLIENT);
  const served = one(spans, SpanKind.SERVER);
  assertChild(served, sent);
  assert.equal(sent.attributes["aiomas.container"], "nats://alice/");
  assert.equal(served.attributes["aiomas.container"], "nats://bob/");
  assert.equal(served.attributes["aiomas.agent.callee"], "nats://bob/0");
});

const TRACED_PROCESS = new URL(
  "./_traced_container_process.ts",
  import.meta.url,
);

/** What `_traced_container_process.ts` prints of a span. */
interface PrintedSpan {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  parentIsRemote?: boolean;
  container?: string;
}

Deno.test("an agent calling an agent in another process over NATS: the callee's server span is the caller's child", async () => {
  await using server = await NatsServer.start();
  await using recorder = new Recorder();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRACED_PROCESS.href, server.url, "bob"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream());
  let text = "";
  const reader = lines.getReader();
  try {
    while (!text.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`The container process ended: ${text}`);
      text += value;
    }
    {
      await using alice = await Container.create("nats://alice", {
        nats: { servers: server.url },
        telemetry: recorder.options,
      });
      const proxy = await alice.connect<Callee>("nats://bob/0");
      assert.equal(await proxy.echo(7), 7);
    }
    await child.stdin.close();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  } finally {
    reader.releaseLock();
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited already.
    }
    await child.status;
  }
  const theirs: PrintedSpan[] = JSON.parse(text.split("\n")[1]);
  const served = theirs.filter((span) =>
    span.name === "aiomas/agents/0/echo" && span.kind === SpanKind.SERVER
  );
  assert.equal(served.length, 1);
  assert.equal(served[0].container, "nats://bob/");
  const sent = one(
    (await recorder.spans()).filter((span) =>
      span.name === "aiomas/agents/0/echo"
    ),
    SpanKind.CLIENT,
  );
  assert.equal(served[0].traceId, sent.spanContext().traceId);
  assert.equal(served[0].parentSpanId, sent.spanContext().spanId);
  assert.equal(served[0].parentIsRemote, true);
});
