// Channel basics: send, recv, reply and for await; replies in any order,
// replying twice, and tryRecv.
import assert from "node:assert/strict";
import type { Request } from "../../channel/mod.ts";
import { ConnectionClosedError } from "../../errors.ts";
import { channelPair } from "./_channel_helpers.ts";

Deno.test("send, recv and reply", async () => {
  const [client, server] = channelPair();
  const reply = client.send("ohai");
  const request = await server.recv();
  assert.equal(request.content, "ohai");
  assert.equal(request.answered, false);
  await request.reply("cya");
  assert.equal(request.answered, true);
  assert.equal(await reply, "cya");
  assert.equal(client.codec.name, "json");
  assert.equal(client.peer, "peer");
  await client.close();
  await server.closed;
});

Deno.test("for await ends when the peer closes", async () => {
  const [client, server] = channelPair();
  const seen: unknown[] = [];
  const served = (async () => {
    for await (const request of server) {
      seen.push(request.content);
      await request.reply(seen.length);
    }
  })();
  assert.equal(await client.send("a"), 1);
  assert.equal(await client.send("b"), 2);
  await client.close();
  await served;
  assert.deepEqual(seen, ["a", "b"]);
  await server.closed;
  assert.equal(server.isClosed, true);
  await assert.rejects(server.recv(), ConnectionClosedError);
});

Deno.test("replies may come in any order", async () => {
  const [client, server] = channelPair();
  const replies = [client.send("a"), client.send("b"), client.send("c")];
  const requests: Request[] = [];
  for (let i = 0; i < 3; i++) requests.push(await server.recv());
  assert.deepEqual(requests.map((r) => r.content), ["a", "b", "c"]);
  await requests[2].reply("C");
  assert.equal(await replies[2], "C");
  await requests[0].reply("A");
  await requests[1].reply("B");
  assert.deepEqual(await Promise.all(replies), ["A", "B", "C"]);
  await client.close();
  await server.closed;
});

Deno.test("a call answered after thousands of later ones still gets its reply", async () => {
  const [client, server] = channelPair();
  const slowReply = client.send("slow");
  const slow = await server.recv();
  const quick = (async () => {
    for (let i = 0; i < 3000; i++) {
      const request = await server.recv();
      await request.reply(request.content);
    }
  })();
  // Sixteen at a time, as a busy client would.
  for (let i = 0; i < 3000; i += 16) {
    const batch = Array.from({ length: 16 }, (_, j) => i + j)
      .filter((n) => n < 3000);
    assert.deepEqual(
      await Promise.all(batch.map((n) => client.send(n))),
      batch,
    );
  }
  await quick;
  await slow.reply("finally");
  assert.equal(await slowReply, "finally");
  await client.close();
  await server.closed;
});

Deno.test("replying twice is a TypeError", async () => {
  const [client, server] = channelPair();
  const reply = client.send("x");
  const request = await server.recv();
  await request.reply(1);
  await assert.rejects(request.reply(2), TypeError);
  await assert.rejects(request.fail(new Error("no")), TypeError);
  assert.equal(await reply, 1);
  await client.close();
  await server.closed;
});

Deno.test("tryRecv takes what has arrived, in order, and lets a full queue read on", async () => {
  const [client, server] = channelPair({}, { maxQueuedRequests: 2 });
  assert.equal(server.tryRecv(), undefined);
  const count = 50;
  const replies = Array.from({ length: count }, (_, i) => client.send(i));
  const seen: unknown[] = [];
  while (seen.length < count) {
    const request = server.tryRecv() ?? await server.recv();
    seen.push(request.content);
    await request.reply(request.content);
  }
  assert.deepEqual(seen, Array.from({ length: count }, (_, i) => i));
  assert.deepEqual(await Promise.all(replies), seen);
  await client.close();
  await server.closed;
  assert.equal(server.tryRecv(), undefined);
});
