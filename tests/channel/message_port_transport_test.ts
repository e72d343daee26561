import assert from "node:assert/strict";
import { Channel, messagePortTransport } from "../../channel/mod.ts";
import { type CodecClass, JsonCodec, MsgPackCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError, ProtocolError } from "../../errors.ts";
import { within } from "../_within.ts";

/** Two channels over the ends of a MessageChannel. */
function channelPair(codec: CodecClass = JsonCodec) {
  const { port1, port2 } = new MessageChannel();
  const a = new Channel(messagePortTransport(port1), { codec: new codec() });
  const b = new Channel(messagePortTransport(port2), { codec: new codec() });
  return { a, b };
}

/** Answers every request of `channel` with `answer(content)` until it closes. */
async function serve(
  channel: Channel,
  answer: (content: unknown) => unknown,
): Promise<void> {
  for await (const request of channel) {
    await request.reply(await answer(request.content));
  }
}

/** Reads exactly one chunk from a transport's readable. */
async function readOne(
  readable: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const reader = readable.getReader();
  try {
    const { value, done } = await reader.read();
    assert.equal(done, false);
    return value!;
  } finally {
    reader.releaseLock();
  }
}

Deno.test("messagePortTransport: round trips both ways", async () => {
  const { a, b } = channelPair();
  await using _a = a;
  await using _b = b;
  const servedByB = serve(b, (content) => ["b", content]);
  const servedByA = serve(a, (content) => ["a", content]);
  assert.deepEqual(await a.send("ohai"), ["b", "ohai"]);
  assert.deepEqual(await b.send({ x: [1, 2] }), ["a", { x: [1, 2] }]);
  for (let i = 0; i < 20; i++) {
    assert.deepEqual(await a.send(i), ["b", i]);
    assert.deepEqual(await b.send(-i), ["a", -i]);
  }
  await a.close();
  await Promise.all([servedByA, servedByB, b.closed]);
});

Deno.test("messagePortTransport: many concurrent requests, answered out of order", async () => {
  const { a, b } = channelPair(MsgPackCodec);
  await using _a = a;
  await using _b = b;
  const requests = [];
  const received = (async () => {
    for (let i = 0; i < 1000; i++) requests.push(await b.recv());
    // Reply last-in first-out.
    for (const request of requests.reverse()) {
      await request.reply((request.content as number) * 2);
    }
  })();
  const replies = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => a.send(i)),
  );
  await received;
  assert.deepEqual(replies, Array.from({ length: 1000 }, (_, i) => i * 2));
});

for (
  const [name, codec, payload] of [
    ["JSON string", JsonCodec, "x".repeat(1 << 20)],
    ["msgpack bytes", MsgPackCodec, new Uint8Array(1 << 20).fill(9)],
  ] as const
) {
  Deno.test(`messagePortTransport: 1 MiB payloads, one after another and at once (${name})`, async () => {
    const { a, b } = channelPair(codec);
    await using _a = a;
    await using _b = b;
    const served = serve(b, (content) => content);
    // More than the channel's send buffer (1 MiB) in total, both ways.
    for (let i = 0; i < 4; i++) {
      const echoed = await within(
        5000,
        `1 MiB round trip #${i}`,
        a.send(payload),
      );
      assert.deepEqual(echoed, payload);
    }
    const all = await within(
      5000,
      "4 concurrent 1 MiB round trips",
      Promise.all([1, 2, 3, 4].map(() => a.send(payload))),
    );
    for (const echoed of all) assert.deepEqual(echoed, payload);
    await a.close();
    await served;
  });
}

Deno.test("messagePortTransport: whole buffers are transferred, views are copied", async () => {
  const { port1, port2 } = new MessageChannel();
  const sender = messagePortTransport(port1);
  const receiver = messagePortTransport(port2);
  const writer = sender.writable.getWriter();

  // A chunk that owns its whole buffer moves: the sender's view is detached.
  // It is read in pieces of 256 KiB, views of the buffer that moved.
  const owned = new Uint8Array(1 << 20).fill(1);
  await writer.write(owned);
  assert.equal(owned.byteLength, 0);
  for (let piece = 0; piece < 4; piece++) {
    const got = await readOne(receiver.readable);
    assert.equal(got.byteLength, 1 << 18);
    assert.equal(got.buffer.byteLength, 1 << 20);
    assert.equal(got.byteOffset, piece << 18);
    assert.equal(got[0], 1);
    assert.equal(got[(1 << 18) - 1], 1);
  }

  // A view of a larger buffer is copied: the sender's buffer stays usable,
  // and only the view's bytes cross (not the whole buffer).
  const backing = new Uint8Array(1 << 16);
  const view = backing.subarray(100, 110).fill(5);
  await writer.write(view);
  assert.equal(backing.byteLength, 1 << 16);
  assert.equal(view.byteLength, 10);
  backing[100] = 6; // still writable …
  const copy = await readOne(receiver.readable);
  assert.deepEqual(copy, new Uint8Array(10).fill(5)); // … and not shared
  assert.equal(copy.buffer.byteLength, 10);

  // Also a view over shared memory: copied, not shared.
  const shared = new Uint8Array(new SharedArrayBuffer(8)).fill(3);
  await writer.write(shared.subarray(0, 4));
  shared[0] = 4;
  assert.deepEqual(
    await readOne(receiver.readable),
    new Uint8Array([3, 3, 3, 3]),
  );

  await writer.close();
  const reader = receiver.readable.getReader();
  assert.equal((await reader.read()).done, true);
  reader.releaseLock();
  receiver.close?.();
});

Deno.test("messagePortTransport: closing one channel ends the other's; pending sends reject", async () => {
  const { a, b } = channelPair();
  await using _a = a;
  await using _b = b;
  // b takes a's request but never answers; a's request is pending.
  const fromA = a.send("never answered");
  const taken = await b.recv();
  assert.equal(taken.content, "never answered");
  // b has a request pending at a, which nobody takes.
  const fromB = b.send("never taken");
  const fromBFailed = assert.rejects(fromB, ConnectionClosedError);
  const closing = a.close();
  await assert.rejects(fromA, ConnectionClosedError);
  await closing;
  // b sees the end: `closed` resolves and its own pending send rejects.
  await b.closed;
  await fromBFailed;
  await assert.rejects(b.send("too late"), ConnectionClosedError);
  assert.equal(a.isClosed, true);
  assert.equal(b.isClosed, true);
});

Deno.test("messagePortTransport: close() ends both channels (as when a Worker is terminated)", async () => {
  const { port1, port2 } = new MessageChannel();
  const transport = messagePortTransport(port1);
  await using a = new Channel(transport);
  await using b = new Channel(messagePortTransport(port2));
  const pendingAtB = a.send("lost");
  const failed = assert.rejects(pendingAtB, ConnectionClosedError);
  await b.recv();
  // The owner of the link drops it: a peer that vanished says nothing.
  transport.close!();
  await failed;
  await Promise.all([a.closed, b.closed]);
  // Idempotent.
  transport.close!();
});

Deno.test("messagePortTransport: cancelling the readable tells the peer", async () => {
  const { port1, port2 } = new MessageChannel();
  const left = messagePortTransport(port1);
  const right = messagePortTransport(port2);
  await left.readable.cancel();
  const reader = right.readable.getReader();
  assert.equal((await reader.read()).done, true);
  reader.releaseLock();
  // The cancelled side can no longer write.
  await assert.rejects(
    left.writable.getWriter().write(new Uint8Array(1)),
    TypeError,
  );
  right.close?.();
});

Deno.test("messagePortTransport: what the peer posts that is not bytes closes the channel with a ProtocolError naming it", async () => {
  const cases: [unknown, string][] = [
    [42, "a number"],
    ["hello", "a string"],
    [{ a: 1 }, "an Object"],
    [[0, 0, 0, 1, 65], "an Array"],
    [new ArrayBuffer(8), "an ArrayBuffer"],
    [new Uint16Array([1, 2]), "a Uint16Array"],
    [new Float64Array(1), "a Float64Array"],
  ];
  for (const [message, named] of cases) {
    const { port1, port2 } = new MessageChannel();
    const channel = new Channel(messagePortTransport(port1));
    port2.postMessage(message);
    await within(
      10_000,
      `the channel after ${named}`,
      assert.rejects(channel.closed, (error: Error) => {
        assert.ok(error instanceof ProtocolError, String(error));
        assert.match(
          error.message,
          new RegExp(`The peer posted ${named} on the port, not bytes`),
        );
        return true;
      }),
    );
    port2.close();
  }
});

Deno.test("messagePortTransport: a large message of tiny frames is read in pieces, so a full request queue stops the reading", async () => {
  const { port1, port2 } = new MessageChannel();
  const channel = new Channel(messagePortTransport(port1), {
    maxQueuedRequests: 4,
  });
  // 1 MiB of requests [0, i, 0] in JSON, one message: about 80 000 frames.
  const encoder = new TextEncoder();
  const frames: Uint8Array[] = [];
  let size = 0;
  for (let i = 0; size < 1024 * 1024; i++) {
    const body = encoder.encode(`[0,${i},0]`);
    const frame = new Uint8Array(4 + body.length);
    new DataView(frame.buffer).setUint32(0, body.length);
    frame.set(body, 4);
    frames.push(frame);
    size += frame.length;
  }
  const message = new Uint8Array(size);
  let at = 0;
  for (const frame of frames) {
    message.set(frame, at);
    at += frame.length;
  }
  port2.postMessage(message);
  // Once the first requests are queued, the channel reads no further
  // than the piece they came in.
  const first = await channel.recv();
  assert.equal(first.content, 0);
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
  assert.ok(
    channel.stats.bytesReceived <= 256 * 1024,
    `${channel.stats.bytesReceived} bytes read with 4 requests allowed in the queue`,
  );
  port2.close();
  await channel.close({ timeout: 0 });
});
