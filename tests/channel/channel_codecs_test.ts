// Codecs on a channel: values that travel, values that cannot be encoded,
// a peer with another codec, MsgPackBloscCodec and codec subclasses.
import assert from "node:assert/strict";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { ProtocolError, SerializationError } from "../../errors.ts";
import {
  channelPair,
  isClosedError,
  rawPair,
  serve,
} from "./_channel_helpers.ts";

Deno.test("values of every JSON type travel", async () => {
  const [client, server] = channelPair();
  const served = serve(server, (content) => content);
  const values = [null, true, false, 0, -1.5, 2 ** 53 - 1, "", "ü€😀", [], {}, {
    a: [1, { b: null }],
  }];
  for (const value of values) assert.deepEqual(await client.send(value), value);
  await client.close();
  await served;
});

Deno.test("a reply that cannot be encoded rejects with SerializationError; fail() still works", async () => {
  const [channel, raw] = rawPair();
  class Opaque {}
  await raw.send([0, 0, "bytes"]);
  await raw.send([0, 1, "class"]);
  for (
    const [id, value] of [[0, new Uint8Array(1)], [1, new Opaque()]] as const
  ) {
    const request = await channel.recv();
    await assert.rejects(request.reply(value), SerializationError);
    assert.equal(request.answered, false);
    await assert.rejects(request.reply(value), SerializationError);
    let encodeError: unknown;
    await request.reply(value).catch((error) => (encodeError = error));
    await request.fail(encodeError);
    assert.equal(request.answered, true);
    // Nothing was sent for the failed replies: the next frame is the error reply.
    const [type, gotId, text] = await raw.read() as [number, number, string];
    assert.equal(type, 2);
    assert.equal(gotId, id);
    assert.match(text, /SerializationError: Cannot encode .*\n$/);
  }
  assert.equal(channel.isClosed, false);
  await channel.close();
  await raw.close();
});

Deno.test("a request that cannot be encoded rejects with SerializationError and sends nothing", async () => {
  const [channel, raw] = rawPair();
  class Opaque {}
  await assert.rejects(channel.send(new Uint8Array(3)), SerializationError);
  await assert.rejects(
    channel.send({ nested: [new Opaque()] }),
    SerializationError,
  );
  await assert.rejects(channel.send(() => 1), SerializationError);
  const reply = channel.send("ok");
  // The failed sends used no id and wrote nothing.
  assert.deepEqual(await raw.read(), [0, 0, "ok"]);
  await raw.send([1, 0, "fine"]);
  assert.equal(await reply, "fine");
  await channel.close();
  await raw.close();
});

Deno.test("a peer with another codec: the calls fail with a message that says what it may be", async () => {
  for (
    const [mine, theirs] of [
      [MsgPackCodec, JsonCodec],
      [JsonCodec, MsgPackCodec],
      [MsgPackBloscCodec, MsgPackCodec],
    ] as const
  ) {
    const [a, b] = createMemoryPair();
    const client = new Channel(a, { codec: new mine(), peer: "other" });
    const server = new Channel(b, { codec: new theirs() });
    await assert.rejects(
      client.send([1, 2]),
      isClosedError(
        new RegExp(
          `^Connection (closed by other|to other failed: .*) before it answered anything \\(it may have shut down; if this happens at every first call, it may use another codec than this side's ${mine.name} or lack one of its serializers\\)$`,
        ),
      ),
    );
    // The peer saw bytes it cannot decode; over a memory pair its failure
    // resets the stream (over a socket, it ends it).
    await assert.rejects(server.closed, ProtocolError);
    await client.closed.catch(() => {});
  }
});

Deno.test("MsgPackBloscCodec: many concurrent sends arrive and are answered in order", async () => {
  const [client, server] = channelPair(
    { codec: new MsgPackBloscCodec() },
    { codec: new MsgPackBloscCodec() },
  );
  assert.equal(client.codec.name, "msgpackblosc");
  const count = 300;
  const received: number[] = [];
  const served = (async () => {
    for await (const request of server) {
      const { i, data } = request.content as { i: number; data: Uint8Array };
      received.push(i);
      await request.reply({ i, size: data.length, echo: data });
    }
  })();
  const replies = Array.from({ length: count }, (_, i) => {
    const data = new Uint8Array(i * 37).map((_, j) => (i + j) & 0xff);
    return client.send({ i, data });
  });
  const results = await Promise.all(replies) as {
    i: number;
    size: number;
    echo: Uint8Array;
  }[];
  assert.deepEqual(received, Array.from({ length: count }, (_, i) => i));
  for (let i = 0; i < count; i++) {
    assert.equal(results[i].i, i);
    assert.equal(results[i].size, i * 37);
    assert.deepEqual(
      results[i].echo,
      new Uint8Array(i * 37).map((_, j) => (i + j) & 0xff),
    );
  }
  await client.close();
  await served;
});

Deno.test("MsgPackBloscCodec: encoding errors reject without closing the channel", async () => {
  const [client, server] = channelPair(
    { codec: new MsgPackBloscCodec() },
    { codec: new MsgPackBloscCodec() },
  );
  class Opaque {}
  await assert.rejects(client.send(new Opaque()), SerializationError);
  const reply = client.send("x");
  const request = await server.recv();
  assert.equal(request.content, "x");
  await assert.rejects(request.reply(new Opaque()), SerializationError);
  assert.equal(request.answered, false);
  await request.fail(new Error("could not encode"));
  await assert.rejects(reply, {
    name: "RemoteError",
    remoteMessage: "could not encode",
  });
  assert.equal(
    await Promise.all([client.send(1), server.recv().then((r) => r.reply(2))])
      .then(([r]) => r),
    2,
  );
  await client.close();
  await server.closed;
});

Deno.test("a codec subclass that overrides encode is used for every message", async () => {
  let encodes = 0;
  class Counting extends MsgPackCodec {
    override encode(value: unknown): Uint8Array {
      encodes++;
      return super.encode(value);
    }
  }
  const [client, server] = channelPair(
    { codec: new Counting() },
    { codec: new Counting() },
  );
  const serving = serve(server, (content) => content);
  assert.equal(await client.send("hi"), "hi");
  assert.equal(encodes, 2, "the request and the reply");
  await client.close();
  await serving;
});
