// The channel's wire messages: request ids per side, replies matched by id,
// and error replies (fail()) as the peer sees them.
import assert from "node:assert/strict";
import {
  Channel,
  createMemoryPair,
  FrameDecoderStream,
  type Transport,
} from "../../channel/mod.ts";
import { JsonCodec } from "../../codecs/mod.ts";
import { RemoteError } from "../../errors.ts";
import { channelPair, rawPair, serve } from "./_channel_helpers.ts";

/** Records every chunk written to a transport. */
function tapWrites(transport: Transport, log: Uint8Array[]): Transport {
  const tap = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      log.push(chunk.slice());
      controller.enqueue(chunk);
    },
  });
  tap.readable.pipeTo(transport.writable).catch(() => {});
  return { readable: transport.readable, writable: tap.writable };
}

async function decodeLog(log: Uint8Array[]): Promise<unknown[]> {
  const codec = new JsonCodec();
  const frames = await Array.fromAsync(
    ReadableStream.from(log).pipeThrough(new FrameDecoderStream()),
  );
  return frames.map((f) => codec.decode(f));
}

Deno.test("wire: ids start at 0 per side and replies match by id", async () => {
  const [channel, raw] = rawPair({ peer: "raw" });
  const replies = [channel.send("a"), channel.send("b"), channel.send("c")];
  assert.deepEqual(await raw.read(), [0, 0, "a"]);
  assert.deepEqual(await raw.read(), [0, 1, "b"]);
  assert.deepEqual(await raw.read(), [0, 2, "c"]);
  await raw.send([1, 2, "C"]);
  await raw.send([2, 1, "Traceback (most recent call last):\nKeyError: 'b'\n"]);
  await raw.send([1, 0, "A"]);
  assert.equal(await replies[0], "A");
  await assert.rejects(replies[1], (error) => {
    assert.ok(error instanceof RemoteError);
    assert.equal(error.remoteName, "KeyError");
    assert.equal(error.remoteMessage, "'b'");
    assert.equal(error.origin, "raw");
    return true;
  });
  assert.equal(await replies[2], "C");
  assert.equal(channel.isClosed, false);
  await channel.close();
  await raw.ended();
  await raw.close();
});

Deno.test("wire: a reply echoes the request id whatever it is", async () => {
  const [channel, raw] = rawPair();
  const served = serve(channel, (content) => content);
  await raw.send([0, 41, "x"]);
  await raw.send([0, "odd", "y"]);
  assert.deepEqual(await raw.read(), [1, 41, "x"]);
  assert.deepEqual(await raw.read(), [1, "odd", "y"]);
  await raw.close();
  await served;
  await channel.closed;
});

Deno.test("wire: both sides use id 0 at once without conflict", async () => {
  const [channel, raw] = rawPair();
  const mine = channel.send("from channel");
  assert.deepEqual(await raw.read(), [0, 0, "from channel"]);
  await raw.send([0, 0, "from raw"]);
  const request = await channel.recv();
  assert.equal(request.content, "from raw");
  await request.reply("to raw");
  assert.deepEqual(await raw.read(), [1, 0, "to raw"]);
  await raw.send([1, 0, "to channel"]);
  assert.equal(await mine, "to channel");
  await channel.close();
  await raw.close();
});

Deno.test("two channels sending at once both use id 0", async () => {
  const [a, b] = createMemoryPair();
  const aLog: Uint8Array[] = [];
  const bLog: Uint8Array[] = [];
  const left = new Channel(tapWrites(a, aLog));
  const right = new Channel(tapWrites(b, bLog));
  const fromLeft = left.send("L");
  const fromRight = right.send("R");
  const [leftRequest, rightRequest] = await Promise.all([
    left.recv(),
    right.recv(),
  ]);
  assert.equal(leftRequest.content, "R");
  assert.equal(rightRequest.content, "L");
  await leftRequest.reply("R back");
  await rightRequest.reply("L back");
  assert.equal(await fromLeft, "L back");
  assert.equal(await fromRight, "R back");
  await left.close();
  await right.closed;
  assert.deepEqual(await decodeLog(aLog), [[0, 0, "L"], [1, 0, "R back"]]);
  assert.deepEqual(await decodeLog(bLog), [[0, 0, "R"], [1, 0, "L back"]]);
});

Deno.test("fail() sends an error reply that becomes a RemoteError", async () => {
  const [client, server] = channelPair({ peer: "server:1" });
  const reply = client.send("boom");
  const request = await server.recv();
  const error = new Error("42");
  error.name = "ValueError";
  await request.fail(error);
  assert.equal(request.answered, true);
  await assert.rejects(reply, (e) => {
    assert.ok(e instanceof RemoteError);
    assert.equal(e.name, "RemoteError");
    assert.equal(e.remoteName, "ValueError");
    assert.equal(e.remoteMessage, "42");
    assert.equal(e.origin, "server:1");
    assert.match(e.message, /ValueError: 42 \(raised by server:1\)/);
    assert.match(e.remoteTraceback, /ValueError: 42\n$/);
    return true;
  });
  await client.close();
  await server.closed;
});

Deno.test("wire: fail() text ends with '<Name>: <message>\\n'", async () => {
  const [channel, raw] = rawPair();
  await raw.send([0, 0, "x"]);
  await raw.send([0, 1, "y"]);
  await raw.send([0, 2, "z"]);
  const error = new RangeError("out of range");
  await (await channel.recv()).fail(error);
  await (await channel.recv()).fail("just a string");
  await (await channel.recv()).fail(new TypeError(""));
  const [type, id, text] = await raw.read() as [number, number, string];
  assert.equal(type, 2);
  assert.equal(id, 0);
  assert.equal(typeof text, "string");
  assert.ok(text.endsWith("RangeError: out of range\n"), text);
  assert.ok(text.startsWith("Traceback (most recent call last):\n"), text);
  assert.deepEqual(await raw.read(), [2, 1, "Error: just a string\n"]);
  const [, , bare] = await raw.read() as [number, number, string];
  assert.ok(bare.endsWith("\nTypeError\n"), bare);
  await channel.close();
  await raw.close();
});
