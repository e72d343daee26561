// What a channel keeps of a message once it is handled (or sent): nothing.
// The read loop waits for the next bytes between messages, for as long as
// the peer is quiet; the last message it decoded (a request's content, a
// reply) must not stay reachable from it meanwhile, or a connection that
// received one large message and went quiet would hold it until the next
// one. Over every kind of transport (`_pairs.ts`), with all three codecs,
// for frames read whole into their own memory and frames copied out of the
// read buffer.
import assert from "node:assert/strict";
import { collectGarbage } from "../_collect.ts";
import { TRANSPORTS } from "./_pairs.ts";
import { type Channel, startServer } from "../../channel/mod.ts";
import {
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";

const KiB = 1024;

const CODECS: Record<string, CodecClass> = {
  JSON: JsonCodec,
  MsgPack: MsgPackCodec,
  "MsgPack+Blosc": MsgPackBloscCodec,
};

/** A message of about `size` bytes that decodes to an object. */
function payload(codec: CodecClass, size: number): unknown {
  // JSON has no byte strings; a string is not an object a WeakRef can hold.
  return codec === JsonCodec
    ? { text: "x".repeat(size) }
    : new Uint8Array(size).fill(7);
}

/** Serves one request, keeping only a weak reference to its content. */
async function serveOne(server: Channel): Promise<WeakRef<object>> {
  const request = await server.recv();
  const content = new WeakRef(request.content as object);
  await request.reply(request.content);
  return content;
}

/**
 * Sends one request of about `size` bytes; returns weak references to what
 * was sent and to the reply's content.
 */
async function callOne(
  client: Channel,
  codec: CodecClass,
  size: number,
): Promise<{ sent: WeakRef<object>; reply: WeakRef<object> }> {
  const message = payload(codec, size) as object;
  const reply = await client.send(message);
  assert.equal(typeof reply, "object");
  return { sent: new WeakRef(message), reply: new WeakRef(reply as object) };
}

for (const [transportName, makePair] of Object.entries(TRANSPORTS)) {
  for (const [codecName, codec] of Object.entries(CODECS)) {
    // 1 MiB: read whole into the frame's own memory, bytes decoded as
    // views of it; 2 KiB: copied out of the read buffer.
    for (const size of [1024 * KiB, 2 * KiB]) {
      Deno.test(`${transportName}, ${codecName}: neither side keeps a handled message of ${size} bytes`, async () => {
        await using pair = await makePair(codec);
        const served = serveOne(pair.server);
        const { sent, reply } = await callOne(pair.client, codec, size);
        const request = await served;
        await collectGarbage();
        // Not assert.equal: it would print the whole message.
        assert.ok(
          request.deref() === undefined,
          "the server's channel keeps the request's content",
        );
        assert.ok(
          reply.deref() === undefined,
          "the client's channel keeps the reply's content",
        );
        assert.ok(
          sent.deref() === undefined,
          "the client's channel keeps what it sent",
        );
        // Both channels still work: the read loops waited, not ended.
        const again = serveOne(pair.server);
        assert.deepEqual(await pair.client.send([1, 2]), [1, 2]);
        await again;
      });
    }
  }
}

Deno.test("TCP: a connection answered a large request and then quiet does not keep its frame", async () => {
  const answered = Promise.withResolvers<void>();
  await using server = await startServer(
    { hostname: "127.0.0.1", port: 0 },
    async (channel) => {
      for await (const request of channel) {
        await request.reply(null);
        answered.resolve();
      }
    },
  );
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: (server.addr as { port: number }).port,
  });
  try {
    await collectGarbage();
    const before = Deno.memoryUsage().external;
    await (async () => {
      const body = new TextEncoder().encode(
        JSON.stringify([0, 1, "x".repeat(4 * 1024 * KiB)]),
      );
      const frame = new Uint8Array(4 + body.length);
      new DataView(frame.buffer).setUint32(0, body.length);
      frame.set(body, 4);
      for (let at = 0; at < frame.length;) {
        at += await conn.write(frame.subarray(at));
      }
    })();
    await answered.promise;
    await collectGarbage();
    const held = Deno.memoryUsage().external - before;
    // The 4 MiB frame was read into memory of its own: let go once handled.
    assert.ok(
      held < 2 * 1024 * KiB,
      `${held} bytes held by a quiet connection`,
    );
  } finally {
    conn.close();
  }
});
