// Trace context between this library's peers over NATS: the client span's
// W3C context travels in the headers of the session's data messages
// (`Aiomas-Trace`), so the server span in the other process is its child;
// over TCP nothing is carried. Real nats-server, in-memory OpenTelemetry
// providers (dev-only SDK packages).
import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "npm:@opentelemetry/api@^1.9.0";
import type { ReadableSpan } from "npm:@opentelemetry/sdk-trace-base@^2.12.1";
import { connect, headers } from "npm:@nats-io/transport-node@3.4.0";
import { Agent, Container } from "../../agent/mod.ts";
import { Channel } from "../../channel/mod.ts";
import {
  connectNats,
  NatsEndpoint,
  type NatsTransport,
  serveNats,
} from "../../nats/mod.ts";
import {
  MAX_RECEIVED_TRACE_BYTES,
  MAX_TRACE_CONTEXTS,
  MAX_TRACE_HEADER_BYTES,
  NatsTraceCarrier,
  TRACE_HEADER,
} from "../../nats/_trace_carrier.ts";
import { expose, ServiceDict } from "../../rpc/mod.ts";
import { collectGarbage } from "../_collect.ts";
import { Recorder } from "../_telemetry.ts";
import { NatsServer } from "./_server.ts";

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

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

/**
 * Watches the raw NATS messages of a subject pattern (the sessions' data
 * messages included): their `Aiomas-Trace` header values.
 */
async function watch(url: string) {
  const nc = await connect({ servers: url });
  const seen: string[][] = [];
  let messages = 0;
  nc.subscribe(">", {
    callback: (_error, msg) => {
      messages++;
      const values = msg.headers?.values(TRACE_HEADER) ?? [];
      if (values.length > 0) seen.push(values);
    },
  });
  await nc.flush();
  return {
    seen,
    get messages() {
      return messages;
    },
    async [Symbol.asyncDispose]() {
      await nc.flush();
      await nc.close();
    },
  };
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

Deno.test("a trace context handed to a session goes in the headers of its next data message only", async () => {
  await using server = await NatsServer.start();
  await using watcher = await watch(server.url);
  const nats = { servers: server.url };
  const accepted = Promise.withResolvers<NatsTransport>();
  await using _near = await NatsEndpoint.create({
    nats,
    subject: "far",
    onSession: (transport) => accepted.resolve(transport),
  });
  await using far = await NatsEndpoint.create({ nats });
  const mine = await far.open("far");
  const theirs = await accepted.promise;
  await using client = new Channel(mine);
  await using peer = new Channel(theirs);
  const context = { traceparent: TRACEPARENT, tracestate: "a=1,b=2" };
  const reply = client.send("traced", { traceContext: context });
  const request = await peer.recv();
  assert.deepEqual(request.traceContext, context);
  await request.reply("ok");
  assert.equal(await reply, "ok");
  const untraced = client.send("plain");
  const second = await peer.recv();
  assert.equal(second.traceContext, undefined);
  await second.reply("ok");
  await untraced;
  assert.deepEqual(watcher.seen, [[`0 ${TRACEPARENT} a=1,b=2`]]);
  // Taken once: nothing is held any more.
  assert.equal((theirs.traceContext as NatsTraceCarrier).held, 0);
});

Deno.test("a peer that sends trace contexts for requests that never come is held to a bound", async () => {
  await using server = await NatsServer.start();
  const nats = { servers: server.url };
  const accepted = Promise.withResolvers<NatsTransport>();
  await using _near = await NatsEndpoint.create({
    nats,
    subject: "far",
    onSession: (transport) => accepted.resolve(transport),
  });
  await using far = await NatsEndpoint.create({ nats });
  // The session is open; its far side (an honest peer) stays quiet.
  await far.open("far");
  const theirs = await accepted.promise;
  const carrier = theirs.traceContext as NatsTraceCarrier;
  // The attacker's session publishes raw data messages whose headers name
  // requests it never sends, each message a fresh batch of ids.
  const nc = await connect({ servers: server.url });
  try {
    const flood = 3 * MAX_TRACE_CONTEXTS;
    let id = 0;
    for (let seq = 1; id < flood; seq++) {
      const block = headers();
      for (let i = 0; i < 1000; i++) {
        block.append(
          TRACE_HEADER,
          `${id++} ${TRACEPARENT} k=${"v".repeat(200)}`,
        );
      }
      // A data message: [0][seq u32] and one byte that starts no frame.
      nc.publish(theirs.subject, new Uint8Array([0, 0, 0, 0, seq, 0]), {
        headers: block,
      });
    }
    await nc.flush();
    // Their byte each: once read, every message has been received.
    const buffer = new Uint8Array(64);
    for (let read = 0; read < Math.ceil(flood / 1000);) {
      const n = await theirs.read(buffer);
      assert.ok(n !== null);
      read += n;
    }
    // 64 bytes, the traceparent (55) and the tracestate (202) each.
    assert.equal(carrier.held, Math.floor(MAX_RECEIVED_TRACE_BYTES / 321));
    assert.ok(carrier.heldBytes <= MAX_RECEIVED_TRACE_BYTES);
    // The newest are kept, the oldest dropped.
    assert.equal(carrier.incoming(id - 1)?.traceparent, TRACEPARENT);
    assert.equal(carrier.incoming(0), undefined);
  } finally {
    await nc.close();
  }
});

/** nats.js's MsgHdrs as the carrier uses it: the values appended. */
function recordingHeaders(): {
  append(k: string, v: string): void;
  values: string[];
} {
  const values: string[] = [];
  return {
    values,
    append(key, value) {
      assert.equal(key, TRACE_HEADER);
      values.push(value);
    },
  };
}

Deno.test("the carrier sends only well-formed contexts, splits them by room and holds a bounded number", () => {
  const carrier = new NatsTraceCarrier();
  assert.equal(carrier.pending, false);
  carrier.outgoing(1, { traceparent: "00-1-2-01" });
  carrier.outgoing(2, { b3: "x" });
  assert.equal(carrier.pending, false);
  // A tracestate a header cannot hold, or too long, is left out.
  carrier.outgoing(3, { traceparent: TRACEPARENT, tracestate: "a=1\r\nX: y" });
  carrier.outgoing(4, {
    traceparent: TRACEPARENT,
    tracestate: "a".repeat(513),
  });
  carrier.outgoing(5, { traceparent: TRACEPARENT, tracestate: " a=1 " });
  let made = recordingHeaders();
  const block = carrier.headers(() => made, 1 << 20)!;
  assert.deepEqual(made.values, [
    `3 ${TRACEPARENT}`,
    `4 ${TRACEPARENT}`,
    `5 ${TRACEPARENT} a=1`,
  ]);
  // nats.js's encoding: "NATS/1.0\r\n", "Aiomas-Trace: <value>\r\n" each, "\r\n".
  const encoded = "NATS/1.0\r\n" +
    made.values.map((value) => `${TRACE_HEADER}: ${value}\r\n`).join("") +
    "\r\n";
  assert.equal(block.size, encoded.length);
  assert.equal(carrier.pending, false);
  // What does not fit waits for the next message, in order.
  for (let id = 0; id < 10; id++) {
    carrier.outgoing(id, { traceparent: TRACEPARENT });
  }
  const perValue = `${TRACE_HEADER}: 0 ${TRACEPARENT}\r\n`.length;
  made = recordingHeaders();
  carrier.headers(() => made, 12 + 4 * perValue);
  assert.deepEqual(made.values.map((value) => value.split(" ")[0]), [
    "0",
    "1",
    "2",
    "3",
  ]);
  assert.equal(carrier.pending, true);
  made = recordingHeaders();
  carrier.headers(() => made, 1 << 20);
  assert.equal(made.values.length, 6);
  // Without nats.js's headers() they are dropped, not kept.
  carrier.outgoing(11, { traceparent: TRACEPARENT });
  assert.equal(carrier.headers(undefined, 1 << 20), undefined);
  assert.equal(carrier.pending, false);
  // Contexts handed over faster than messages go: the oldest are dropped.
  for (let id = 0; id < 2 * MAX_TRACE_CONTEXTS; id++) {
    carrier.outgoing(id, { traceparent: TRACEPARENT });
  }
  made = recordingHeaders();
  carrier.headers(() => made, 1 << 30);
  assert.equal(made.values.length, MAX_TRACE_CONTEXTS);
  assert.equal(made.values[0].split(" ")[0], String(MAX_TRACE_CONTEXTS));
  // Received: malformed values are ignored; a context is taken once.
  carrier.received({
    values: () => [
      `7 ${TRACEPARENT} k=v`,
      `x ${TRACEPARENT}`,
      `8 00-zz-1-01`,
      `9`,
    ],
  });
  assert.equal(carrier.held, 1);
  assert.deepEqual(carrier.incoming(7), {
    traceparent: TRACEPARENT,
    tracestate: "k=v",
  });
  assert.equal(carrier.incoming(7), undefined);
});

Deno.test("received trace contexts do not keep the header block they were cut from", async () => {
  const carrier = new NatsTraceCarrier();
  await collectGarbage();
  const before = Deno.memoryUsage().heapUsed;
  for (let message = 0; message < 8; message++) {
    // A 4 MiB header block decoded whole, and a value cut from it, as
    // parsing the block makes them (a slice keeps what it was cut from).
    const value = `${message} ${TRACEPARENT} k=v`;
    const block = `${value}\r\n${"x".repeat(4 * 1024 * 1024)}`;
    carrier.received({ values: () => [block.slice(0, value.length)] });
  }
  await collectGarbage();
  const grown = Deno.memoryUsage().heapUsed - before;
  assert.equal(carrier.held, 8);
  // Without a copy, each context's texts would keep their 4 MiB block.
  assert.ok(grown < 8 * 1024 * 1024, `${grown} bytes kept`);
  assert.equal(carrier.incoming(7)?.tracestate, "k=v");
});

Deno.test("every context one data message carries is kept until its request is read", () => {
  const sender = new NatsTraceCarrier();
  const receiver = new NatsTraceCarrier();
  // As many as a sender holds: a burst of calls before a data message.
  for (let id = 0; id < MAX_TRACE_CONTEXTS; id++) {
    sender.outgoing(id, { traceparent: TRACEPARENT });
  }
  // The default max_payload's quarter, capped as the transport caps it.
  const room = Math.min((1024 * 1024) >> 2, MAX_TRACE_HEADER_BYTES);
  let next = 0;
  for (let message = 0; sender.pending; message++) {
    const values: string[] = [];
    const block = sender.headers(
      () => ({ append: (_key: string, value: string) => values.push(value) }),
      room,
    );
    assert.ok(block !== undefined && values.length > 0);
    receiver.received({ values: () => values });
    // Its frames are read after it: each finds its context.
    for (const value of values) {
      const id = Number(value.split(" ")[0]);
      assert.equal(id, next++);
      assert.equal(receiver.incoming(id)?.traceparent, TRACEPARENT, `${id}`);
    }
  }
  assert.equal(next, MAX_TRACE_CONTEXTS);
});
