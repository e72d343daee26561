import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { JsonCodec, MsgPackCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { concat, frame } from "../_frames.ts";
import { connLike, type ConnLikeLog } from "./_conn_like.ts";

function newLog(): ConnLikeLog {
  return { writes: [], reads: 0 };
}

async function serve(channel: Channel): Promise<void> {
  for await (const request of channel) await request.reply(request.content);
}

Deno.test("a transport's own read and write are used instead of its streams", async () => {
  const [a, b] = createMemoryPair();
  const clientLog = newLog();
  const serverLog = newLog();
  const client = new Channel(connLike(a, clientLog));
  const server = new Channel(connLike(b, serverLog));
  const serving = serve(server);
  const contents = Array.from({ length: 100 }, (_, i) => `message ${i}`);
  assert.deepEqual(
    await Promise.all(contents.map((c) => client.send(c))),
    contents,
  );
  assert.ok(clientLog.reads > 0 && serverLog.reads > 0);
  // The 100 requests were queued in one turn: they leave in one write.
  assert.equal(clientLog.writes.length, 1);
  await client.close();
  await serving;
  await server.closed;
});

Deno.test("the frames a message's code queues are written before the next read is set up", async () => {
  const [a, b] = createMemoryPair();
  const clientLog: ConnLikeLog = { writes: [], reads: 0, calls: [] };
  const serverLog: ConnLikeLog = { writes: [], reads: 0, calls: [] };
  const client = new Channel(connLike(a, clientLog));
  const server = new Channel(connLike(b, serverLog));
  const serving = serve(server);
  // Each reply wakes the code that sends the next request.
  for (let i = 0; i < 3; i++) assert.equal(await client.send(i), i);
  await client.close();
  await serving;
  await server.closed;
  // Reading starts at once. Each request read is answered before the
  // next read, and each reply read is followed by the next request.
  assert.deepEqual(
    serverLog.calls!.slice(0, 7),
    ["read", "write", "read", "write", "read", "write", "read"],
  );
  assert.deepEqual(
    clientLog.calls!.slice(0, 6),
    ["read", "write", "write", "read", "write", "read"],
  );
});

Deno.test("partial writes: the rest of a chunk is written", async () => {
  const [a, b] = createMemoryPair();
  const log = newLog();
  const client = new Channel(connLike(a, log, { maxWrite: 3 }), {
    codec: new MsgPackCodec(),
  });
  const server = new Channel(b, { codec: new MsgPackCodec() });
  const serving = serve(server);
  const big = "x".repeat(10_000);
  assert.deepEqual(
    await Promise.all([client.send(big), client.send([1, 2, 3])]),
    [big, [1, 2, 3]],
  );
  assert.ok(log.writes.every((chunk) => chunk.length <= 3));
  await client.close();
  await serving;
});

for (const rejectOnClose of [false, true]) {
  Deno.test(`close ends a pending read (${rejectOnClose ? "it rejects, like Deno.Conn" : "it resolves null"})`, async () => {
    const [a, b] = createMemoryPair();
    const client = new Channel(connLike(a, newLog(), { rejectOnClose }));
    const server = new Channel(b);
    const pending = client.send("never answered");
    const request = await server.recv();
    assert.equal(request.content, "never answered");
    await client.close();
    // A local close is clean even though the read failed.
    await client.closed;
    await assert.rejects(pending, ConnectionClosedError);
    await server.closed;
  });
}

Deno.test("the peer ending the stream closes a channel reading with read()", async () => {
  const [a, b] = createMemoryPair();
  const client = new Channel(connLike(a, newLog()));
  const server = new Channel(b);
  const pending = client.send("bye");
  await server.recv();
  await server.close({ timeout: 0 });
  await assert.rejects(pending, /closed by peer/);
  await client.closed;
});

Deno.test("replies to the requests of one chunk leave in one write, even through for await", async () => {
  const [a, b] = createMemoryPair();
  const log = newLog();
  const server = new Channel(connLike(a, log));
  const serving = (async () => {
    for await (const request of server) {
      // An async handler: each reply comes a few microtasks after the last.
      await Promise.resolve();
      await request.reply(request.content);
    }
  })();
  const codec = new JsonCodec();
  const requests = Array.from(
    { length: 16 },
    (_, i) => frame(codec.encode([0, i, i])),
  );
  const peer = b.writable.getWriter();
  await peer.write(concat(requests));
  const replies = b.readable.getReader();
  const { value } = await replies.read();
  assert.equal(log.writes.length, 1);
  assert.deepEqual(
    value,
    concat(
      Array.from({ length: 16 }, (_, i) => frame(codec.encode([1, i, i]))),
    ),
  );
  replies.releaseLock();
  await peer.close();
  await serving;
  await server.closed;
});

Deno.test("the last reply of a chunk is written within microtasks, not a turn of the event loop later", async () => {
  const [a, b] = createMemoryPair();
  const log = newLog();
  const server = new Channel(connLike(a, log));
  const codec = new JsonCodec();
  const peer = b.writable.getWriter();
  await peer.write(
    concat([
      frame(codec.encode([0, 0, "a"])),
      frame(codec.encode([0, 1, "b"])),
    ]),
  );
  const first = await server.recv();
  const second = await server.recv();
  await first.reply("A");
  // The other request is still unanswered: the reply waits for it.
  for (let i = 0; i < 5; i++) await undefined;
  assert.equal(log.writes.length, 0);
  await second.reply("B");
  for (let i = 0; i < 5; i++) await undefined;
  assert.equal(log.writes.length, 1);
  assert.deepEqual(
    log.writes[0],
    concat([
      frame(codec.encode([1, 0, "A"])),
      frame(codec.encode([1, 1, "B"])),
    ]),
  );
  await peer.close();
  await server.closed;
});

Deno.test("a transport with read but no close is read through its stream", async () => {
  const [a, b] = createMemoryPair();
  const log = newLog();
  const { readable, writable } = a;
  const transport = {
    readable,
    writable,
    read: (_buffer: Uint8Array): Promise<number | null> => {
      log.reads++;
      return Promise.reject(new Error("read must not be used without close"));
    },
  };
  const client = new Channel(transport);
  const server = new Channel(b);
  const serving = serve(server);
  assert.equal(await client.send("hi"), "hi");
  assert.equal(log.reads, 0);
  // close() can end the read: it does not hang.
  await client.close();
  await serving;
});

Deno.test("a transport with write but no close is written through its stream", async () => {
  const [a, b] = createMemoryPair();
  let writes = 0;
  const { readable, writable } = a;
  const transport = {
    readable,
    writable,
    write: (_bytes: Uint8Array): Promise<number> => {
      writes++;
      return Promise.reject(new Error("write must not be used without close"));
    },
  };
  const client = new Channel(transport);
  const server = new Channel(b);
  const serving = serve(server);
  assert.equal(await client.send("hi"), "hi");
  assert.equal(writes, 0);
  // Closing the stream tells the peer: its loop ends.
  await client.close();
  await serving;
  await server.closed;
});
