// The NATS trace carrier: contexts handed to a session go in the
// `Aiomas-Trace` headers of its data messages, only well-formed ones, split
// by room and held to a bound on both sides. Real nats-server where a
// session is needed.
import assert from "node:assert/strict";
import { connect, headers } from "npm:@nats-io/transport-node@3.4.0";
import { Channel } from "../../channel/mod.ts";
import { NatsEndpoint, type NatsTransport } from "../../nats/mod.ts";
import {
  MAX_RECEIVED_TRACE_BYTES,
  MAX_TRACE_CONTEXTS,
  MAX_TRACE_HEADER_BYTES,
  NatsTraceCarrier,
  TRACE_HEADER,
} from "../../nats/_trace_carrier.ts";
import { collectGarbage } from "../_collect.ts";
import { NatsServer } from "./_server.ts";
import { watch } from "./_trace_context_watch.ts";

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

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
