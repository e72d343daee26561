// Closing a channel: close(), await using, the peer closing or going away,
// and the transport failing under a pending reply.
import assert from "node:assert/strict";
import { frame } from "../_frames.ts";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import { JsonCodec, MsgPackBloscCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import {
  channelPair,
  isClosedError,
  rawPair,
  utf8,
} from "./_channel_helpers.ts";

Deno.test("close() is idempotent and rejects pending sends and recvs", async () => {
  const [client, server] = channelPair();
  const pendingSend = client.send("never answered");
  const pendingRecv = client.recv();
  const request = await server.recv();
  const first = client.close();
  const second = client.close();
  assert.equal(client.isClosed, true);
  await assert.rejects(pendingSend, isClosedError(/closed/));
  await assert.rejects(pendingRecv, ConnectionClosedError);
  await first;
  await second;
  await client.close();
  await client.closed;
  await assert.rejects(client.send("late"), ConnectionClosedError);
  await assert.rejects(client.recv(), ConnectionClosedError);
  // The server saw the end; answering now fails cleanly.
  await server.closed;
  await assert.rejects(request.reply("too late"), ConnectionClosedError);
});

for (const Codec of [JsonCodec, MsgPackBloscCodec]) {
  Deno.test(`close() still writes the replies queued before it (${Codec.name})`, async () => {
    const [client, server] = channelPair({ codec: new Codec() }, {
      codec: new Codec(),
    });
    const replies = [client.send(1), client.send(2)];
    const first = await server.recv();
    const second = await server.recv();
    const queued = [first.reply("one"), second.fail(new Error("two"))];
    await server.close();
    await Promise.all(queued);
    assert.equal(await replies[0], "one");
    await assert.rejects(replies[1], {
      name: "RemoteError",
      remoteMessage: "two",
    });
    await client.closed;
  });
}

Deno.test("await using closes the channel", async () => {
  const [a, b] = createMemoryPair();
  const server = new Channel(b);
  let outer: Channel;
  {
    await using client = new Channel(a);
    outer = client;
    const reply = client.send(1);
    await (await server.recv()).reply(2);
    assert.equal(await reply, 2);
  }
  assert.equal(outer.isClosed, true);
  await outer.closed;
  await server.closed;
});

Deno.test("a peer that answered before closing: the calls fail with the plain message", async () => {
  const [a, b] = createMemoryPair();
  const client = new Channel(a, { peer: "other" });
  const server = new Channel(b);
  const first = client.send(1);
  await (await server.recv()).reply(1);
  assert.equal(await first, 1);
  const second = client.send(2);
  await server.recv();
  await server.close({ timeout: 0 });
  await assert.rejects(second, isClosedError(/^Connection closed by other$/));
  await client.closed;
});

Deno.test("peer EOF rejects pending sends and resolves closed", async () => {
  const [channel, raw] = rawPair({ peer: "raw-peer" });
  const pending = [channel.send(1), channel.send(2)];
  const pendingRecv = channel.recv();
  assert.deepEqual(await raw.read(), [0, 0, 1]);
  assert.deepEqual(await raw.read(), [0, 1, 2]);
  await raw.close();
  for (const send of pending) {
    await assert.rejects(send, isClosedError(/closed by raw-peer/));
  }
  await assert.rejects(pendingRecv, ConnectionClosedError);
  await channel.closed;
  assert.equal(channel.isClosed, true);
  await assert.rejects(channel.send(3), ConnectionClosedError);
});

Deno.test("a peer channel closing rejects pending sends", async () => {
  const [client, server] = channelPair();
  const pending = client.send("x");
  await server.recv();
  // The request taken is never answered: do not wait for it.
  await server.close({ timeout: 0 });
  await assert.rejects(pending, ConnectionClosedError);
  await client.closed;
});

Deno.test("a reply waiting for the transport rejects with ConnectionClosedError when it fails", async () => {
  const [a, b] = createMemoryPair();
  const channel = new Channel(a, { highWaterMark: 16 });
  const toChannel = b.writable.getWriter();
  const fromChannel = b.readable.getReader(); // Never read: the channel's writes stall.
  await toChannel.write(frame(utf8.encode('[0, 0, "big one"]')));
  const request = await channel.recv();
  const replied = request.reply("x".repeat(1000));
  const gone = new Error("peer gone");
  await fromChannel.cancel(gone);
  await assert.rejects(replied, (error) => {
    assert.ok(
      error instanceof ConnectionClosedError,
      `expected ConnectionClosedError, got ${error}`,
    );
    assert.equal(error.cause, gone);
    return true;
  });
  await assert.rejects(channel.closed, (error) => error === gone);
  await assert.rejects(channel.send("more"), ConnectionClosedError);
  await toChannel.close().catch(() => {});
  await channel.close();
});

Deno.test("close() waiting for a reply ends as soon as the peer goes away", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = new Channel(
    await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
  );
  const server = new Channel(await accepted);
  listener.close();
  const call = client.send("never answered");
  const request = await server.recv();
  const closing = server.close({ timeout: 60_000 });
  const rejected = assert.rejects(call, ConnectionClosedError);
  await client.close();
  await rejected;
  // Without noticing the peer leave, close() would wait out its 60 s.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), 5_000);
  });
  const outcome = await Promise.race([closing.then(() => "closed"), late]);
  clearTimeout(timer);
  assert.equal(outcome, "closed");
  await assert.rejects(request.reply("too late"), ConnectionClosedError);
});

Deno.test("close() ends on time while an in-process peer keeps writing", async () => {
  const [channel, raw] = rawPair();
  await raw.send([0, 0, "taken"]);
  await channel.recv();
  const closing = channel.close({ timeout: 50 });
  // The peer floods the closing channel, yielding only to microtasks.
  let flooding = true;
  const flood = (async () => {
    for (let id = 1; flooding; id++) await raw.send([0, id, "more"]);
  })().catch(() => {});
  await closing;
  flooding = false;
  await flood;
});
