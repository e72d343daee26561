// Bad input from the peer: malformed frames and messages close only that
// channel with a ProtocolError, and pending calls learn why.
import assert from "node:assert/strict";
import { frame } from "../_frames.ts";
import type { ChannelOptions } from "../../channel/mod.ts";
import { MsgPackBloscCodec } from "../../codecs/mod.ts";
import { ConnectionClosedError, ProtocolError } from "../../errors.ts";
import { assertOtherPairWorks, rawPair, utf8 } from "./_channel_helpers.ts";

const badInputs: [string, Uint8Array, RegExp, ChannelOptions?][] = [
  [
    "an oversized header",
    new Uint8Array([0xff, 0xff, 0xff, 0xff]),
    /length 4294967295 exceeds maxFrameSize 16777216$/,
  ],
  [
    "a frame above the maxFrameSize option",
    frame(utf8.encode('[1, 0, "0123456789"]')),
    /length 20 exceeds maxFrameSize 15/,
    // Room for the channel's own request, [0,0,"waiting"] (15 bytes).
    { maxFrameSize: 15 },
  ],
  [
    "garbage bytes",
    utf8.encode("GET / HTTP/1.1\r\n\r\n"),
    /exceeds maxFrameSize 16777216 \(the bytes are the text "GET ": is the peer speaking another protocol\?\)$/,
  ],
  ["a 0-length frame", new Uint8Array(4), /length 0/],
  [
    "a payload that is not JSON",
    frame(utf8.encode("{oops")),
    /Cannot decode message from peer/,
  ],
  [
    "a payload that is not UTF-8",
    frame(new Uint8Array([0x5b, 0xff])),
    /Cannot decode message/,
  ],
  [
    "a map instead of a message",
    frame(utf8.encode('{"a": 1}')),
    /\[type, id, content\] array/,
  ],
  [
    "a 2-element array",
    frame(utf8.encode("[1, 0]")),
    /\[type, id, content\] array/,
  ],
  [
    "a 4-element array",
    frame(utf8.encode("[1, 0, 1, 1]")),
    /\[type, id, content\] array/,
  ],
  [
    "unknown type 7",
    frame(utf8.encode("[7, 0, null]")),
    /unknown message type 7/,
  ],
  [
    "a reply with an unknown id",
    frame(utf8.encode("[1, 99, null]")),
    /no request has id 99/,
  ],
  [
    "an error reply with an unknown id",
    frame(utf8.encode('[2, "x", "E: e\\n"]')),
    /no request has id "x"/,
  ],
  [
    "an unknown __type__ typeid",
    frame(utf8.encode('[0, 5, {"__type__": [3, 1]}]')),
    /Cannot decode message.*typeid 3/,
  ],
];

for (const [what, bytes, pattern, options] of badInputs) {
  Deno.test(`bad input closes only that channel: ${what}`, async () => {
    const [channel, raw] = rawPair(options);
    const pending = channel.send("waiting");
    const pendingRecv = channel.recv();
    assert.deepEqual(await raw.read(), [0, 0, "waiting"]);
    raw.write(bytes).catch(() => {}); // The channel may stop reading mid-write.
    await assert.rejects(channel.closed, (error) => {
      assert.ok(
        error instanceof ProtocolError,
        `expected ProtocolError, got ${error}`,
      );
      assert.match(error.message, pattern);
      return true;
    });
    assert.equal(channel.isClosed, true);
    await assert.rejects(pending, (error) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.ok(error.cause instanceof ProtocolError);
      assert.match(error.message, pattern);
      return true;
    });
    await assert.rejects(pendingRecv, ConnectionClosedError);
    await assert.rejects(channel.send("more"), ConnectionClosedError);
    await raw.ended();
    await raw.close();
    await channel.close(); // Still fine after the failure.
    await assertOtherPairWorks();
  });
}

Deno.test("bad input: the stream ending inside a frame", async () => {
  const [channel, raw] = rawPair();
  const pending = channel.send("waiting");
  assert.deepEqual(await raw.read(), [0, 0, "waiting"]);
  await raw.write(new Uint8Array([0, 0, 0, 9, 1, 2]));
  await raw.close();
  await assert.rejects(channel.closed, (error) => {
    assert.ok(error instanceof ProtocolError);
    assert.match(
      error.message,
      /ended inside a frame \(2 of 9 payload bytes\)/,
    );
    return true;
  });
  await assert.rejects(pending, ConnectionClosedError);
  await assertOtherPairWorks();
});

Deno.test("bad input: frames before the bad bytes in the same chunk are still handled", async () => {
  const [channel, raw] = rawPair();
  const pending = channel.send("waiting");
  assert.deepEqual(await raw.read(), [0, 0, "waiting"]);
  // One chunk: the reply, then a bad header. Chunking must not decide whether
  // the reply is seen (over TCP the two could as well arrive apart).
  const reply = frame(utf8.encode('[1, 0, "answered"]'));
  const chunk = new Uint8Array(reply.length + 4).fill(0xff);
  chunk.set(reply);
  raw.write(chunk).catch(() => {});
  assert.equal(await pending, "answered");
  await assert.rejects(channel.closed, (error) => {
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /exceeds maxFrameSize/);
    return true;
  });
  await raw.ended();
  await raw.close();
});

Deno.test("bad input makes for await throw the ProtocolError", async () => {
  const [channel, raw] = rawPair();
  const served = (async () => {
    for await (const request of channel) await request.reply(request.content);
  })();
  await raw.send([0, 0, "fine"]);
  assert.deepEqual(await raw.read(), [1, 0, "fine"]);
  await raw.send([9, 9, 9]);
  await assert.rejects(served, (error) => {
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /unknown message type 9/);
    return true;
  });
  await assert.rejects(channel.closed, ProtocolError);
  await raw.ended();
  await raw.close();
});

Deno.test("MsgPackBloscCodec: a payload that does not decompress is a ProtocolError", async () => {
  const [channel, raw] = rawPair({ codec: new MsgPackBloscCodec() });
  const pending = channel.send("waiting");
  await raw.readText(); // The (compressed) request.
  await raw.write(frame(utf8.encode("not a blosc frame at all")));
  await assert.rejects(channel.closed, (error) => {
    assert.ok(
      error instanceof ProtocolError,
      `expected ProtocolError, got ${error}`,
    );
    assert.match(error.message, /Cannot decode message from peer/);
    return true;
  });
  await assert.rejects(pending, ConnectionClosedError);
  await raw.ended();
  await raw.close();
  await assertOtherPairWorks();
});

Deno.test("bad input while closing does not drop a reply still owed", async () => {
  const [channel, raw] = rawPair();
  await raw.send([0, 0, "question"]);
  const request = await channel.recv();
  const closing = channel.close({ timeout: 60_000 });
  await raw.write(frame(utf8.encode("{not json")));
  // A memory pipe holds no chunk: this write completes once the channel has
  // read again, so it has handled the bad frame by then.
  await raw.send([0, 1, "after"]).catch(() => {});
  await request.reply("answer");
  assert.deepEqual(await raw.read(), [1, 0, "answer"]);
  await closing;
  await raw.ended();
});
