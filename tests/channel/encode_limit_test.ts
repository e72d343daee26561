// maxFrameSize on the sending side, for a message far above it: its
// encoding stops near the limit (MsgPack+Blosc's at its codec's
// maxDecompressedSize, before compressing) instead of being built whole
// and refused after, and the channel goes on.
import assert from "node:assert/strict";
import { pooledSize, takeBuffer } from "../../codecs/_buffer_pool.ts";
import { viewEncoders } from "../../codecs/_encode_limit.ts";
import { partsEncoders } from "../../codecs/_encode_parts.ts";
import { encodeReleasers } from "../../codecs/_encode_release.ts";
import { assertCollected, collectGarbage } from "../_collect.ts";
import { FrameSizeError } from "../../channel/_frame_writer_options.ts";
import { Channel, createMemoryPair } from "../../channel/mod.ts";
import {
  type Codec,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { RemoteError, SerializationError } from "../../errors.ts";
import { expose, RpcClient } from "../../rpc/mod.ts";

const KiB = 1024;
/** MsgPack+Blosc's bound before compressing, in these tests. */
const BLOSC_BOUND = 256 * KiB;

const CODECS: [string, () => Codec][] = [
  ["JSON", () => new JsonCodec()],
  ["MsgPack", () => new MsgPackCodec()],
  [
    "MsgPack+Blosc",
    () => new MsgPackBloscCodec({ maxDecompressedSize: BLOSC_BOUND }),
  ],
];

/** `count` copies of one string of `size` bytes: little heap, much encoding. */
function many(count: number, size: number): string[] {
  return Array(count).fill("s".repeat(size));
}

/** The refusal of a message far above the limit, for `name`'s codec. */
function refusal(name: string, limit: number): RegExp {
  return name === "MsgPack+Blosc"
    ? new RegExp(
      `^Cannot send a message of more than ${BLOSC_BOUND} bytes before compression to the peer: it is above its codec's maxDecompressedSize \\(${BLOSC_BOUND} bytes\\), the most a peer with the same limit decompresses$`,
    )
    : new RegExp(
      `^Cannot send a message of more than ${limit} bytes to the peer: it is above maxFrameSize \\(${limit} bytes\\), the largest frame a peer with the same limit reads$`,
    );
}

function pair(codec: () => Codec, maxFrameSize: number): [Channel, Channel] {
  const [a, b] = createMemoryPair();
  const options = { maxFrameSize, peer: "the peer" };
  return [
    new Channel(a, { ...options, codec: codec() }),
    new Channel(b, { ...options, codec: codec() }),
  ];
}

/** Echoes every request until the channel closes. */
async function serve(channel: Channel): Promise<void> {
  for (;;) {
    const request = await channel.recv().catch(() => null);
    if (request === null) return;
    await request.reply(request.content);
  }
}

/** Empties the process-wide pool of encode buffers. */
function drainPool(): void {
  while (pooledSize() > 0) takeBuffer(1);
}

/**
 * Asserts that the encode buffers taken since {@linkcode drainPool} are
 * back in the pool and none was larger than twice `bound` (encoding the
 * whole message would have grown one to its size).
 */
function assertBuffersBack(bound: number): void {
  const pooled = pooledSize();
  assert.ok(pooled > 0, "the pooled buffer is given back");
  assert.ok(pooled <= 4 * bound, `${pooled} bytes pooled`);
  takeBuffer(2 * bound + 1);
  assert.equal(pooledSize(), pooled, `no pooled buffer above 2 × ${bound}`);
}

for (const [name, codec] of CODECS) {
  Deno.test(`encode limit (${name}): a request of 1000 × a 64 KiB string to a 64 KiB limit is refused, the channel goes on`, async () => {
    const limit = 64 * KiB;
    const [client, server] = pair(codec, limit);
    const serving = serve(server);
    drainPool();
    await assert.rejects(client.send(many(1000, 64 * KiB)), (error) => {
      assert.ok(error instanceof FrameSizeError, String(error));
      assert.match(error.message, refusal(name, limit));
      return true;
    });
    // Stopped at the first string (JSON, MsgPack: nothing grew past 64 KiB)
    // or at Blosc's bound: no pooled buffer above twice what it allows.
    const before = pooledSize();
    takeBuffer(2 * (name === "MsgPack+Blosc" ? BLOSC_BOUND : limit) + 1);
    assert.equal(pooledSize(), before);
    assert.equal(await client.send("after"), "after");
    assert.equal(client.isClosed, false);
    await client.close();
    await server.close();
    await serving;
  });

  Deno.test(`encode limit (${name}): a request that passes the limit string by string stops near it and gives its buffers back`, async () => {
    // Above the 64 KiB a writer keeps: the buffers come from the pool.
    const limit = 256 * KiB;
    const [client, server] = pair(codec, limit);
    const serving = serve(server);
    drainPool();
    // 4 MiB of encoding, 4 KiB of heap.
    await assert.rejects(client.send(many(1000, 4 * KiB)), (error) => {
      assert.ok(error instanceof FrameSizeError, String(error));
      assert.match(error.message, refusal(name, limit));
      return true;
    });
    assertBuffersBack(name === "MsgPack+Blosc" ? BLOSC_BOUND : limit);
    // The next message, small or near the limit, goes through.
    assert.equal(await client.send("after"), "after");
    const near = "n".repeat(200 * KiB);
    assert.equal(await client.send(near), near);
    await client.close();
    await server.close();
    await serving;
  });

  Deno.test(`encode limit (${name}): a reply far above the limit is refused, the request stays open for fail()`, async () => {
    const limit = 64 * KiB;
    const [client, server] = pair(codec, limit);
    const call = client.send("give me a lot");
    const request = await server.recv();
    await assert.rejects(request.reply(many(1000, 64 * KiB)), (error) => {
      assert.ok(error instanceof FrameSizeError, String(error));
      assert.match(error.message, refusal(name, limit));
      return true;
    });
    assert.equal(request.answered, false);
    await request.fail(new RangeError("too much"));
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, "RangeError");
      return true;
    });
    // A fail() whose text (cut at 10 000 characters) is itself above the
    // limit goes out without it.
    const [left, right] = pair(codec, 2 * KiB);
    const second = left.send("fail loudly");
    const other = await right.recv();
    // Random letters: Blosc cannot shrink them below the limit.
    const letters = crypto.getRandomValues(new Uint8Array(64 * KiB))
      .map((byte) => 0x61 + (byte % 26));
    await other.fail(new RangeError(new TextDecoder().decode(letters)));
    await assert.rejects(second, (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, "RangeError");
      assert.equal(error.remoteMessage, "(its text was above maxFrameSize)");
      return true;
    });
    await left.close();
    await right.close();
    assert.equal(server.isClosed, false);
    await client.close();
    await server.close();
  });

  Deno.test(`encode limit (${name}): an RPC result far above the limit becomes an error reply`, async () => {
    const [a, b] = createMemoryPair();
    const options = { maxFrameSize: 64 * KiB };
    class Service {
      @expose
      big(): unknown {
        return many(1000, 64 * KiB);
      }
      @expose
      small(): string {
        return "fine";
      }
    }
    const server = new RpcClient(
      new Channel(b, { ...options, codec: codec() }),
      {
        service: new Service(),
      },
    );
    const client = new RpcClient<Service>(
      new Channel(a, { ...options, codec: codec() }),
    );
    await assert.rejects(client.remote.big(), (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, "SerializationError");
      assert.match(error.remoteMessage, /^Cannot send a message of more than/);
      return true;
    });
    assert.equal(await client.remote.small(), "fine");
    await client.close();
    await server.close();
  });
}

Deno.test("encode limit: at the default limit, 200 × a 1 MiB string costs memory near 16 MiB, not 200 MiB", async () => {
  for (const [name, codec] of CODECS) {
    // Blosc with its default bound (16 MiB) here.
    const make = name === "MsgPack+Blosc"
      ? () => new MsgPackBloscCodec()
      : codec;
    const [a, b] = createMemoryPair();
    const client = new Channel(a, { codec: make() });
    const server = new Channel(b, { codec: make() });
    const value = many(200, 1024 * KiB);
    const rss = Deno.memoryUsage().rss;
    await assert.rejects(client.send(value), FrameSizeError);
    const grown = Deno.memoryUsage().rss - rss;
    // Encoding all of it took 200 MiB and more (JSON: 256 MiB of buffer).
    assert.ok(grown < 100 * 1024 * KiB, `${name}: RSS grew ${grown} bytes`);
    const after = client.send("after");
    const request = await server.recv();
    await request.reply(request.content);
    assert.equal(await after, "after");
    await client.close();
    await server.close();
  }
});

Deno.test("encode limit: a codec of another kind is still checked after encoding, with the exact length", async () => {
  // Overriding encode turns the internal limited encoders off.
  class Wrapped extends MsgPackCodec {
    override encode(value: unknown): Uint8Array {
      return super.encode(value);
    }
  }
  const [a, b] = createMemoryPair();
  const client = new Channel(a, { codec: new Wrapped(), maxFrameSize: 1000 });
  const server = new Channel(b, { codec: new Wrapped(), maxFrameSize: 1000 });
  await assert.rejects(client.send("x".repeat(5000)), (error: unknown) => {
    assert.ok(error instanceof FrameSizeError);
    assert.ok(error instanceof SerializationError);
    assert.match(error.message, /^Cannot send a message of 5006 bytes /);
    return true;
  });
  await client.close();
  await server.close();
});

Deno.test("encode limit (MsgPack+Blosc): a request above the bound that fit the writer's buffer is refused, not sent to a peer that would close", async () => {
  // A bound that is not a power of two: the writer's buffer doubles to
  // 64 KiB under it and holds the whole 50 003 bytes without growing.
  const bound = 40_000;
  const codec = () => new MsgPackBloscCodec({ maxDecompressedSize: bound });
  const [client, server] = pair(codec, 1024 * KiB);
  const serving = serve(server);
  const other = client.send("other");
  await assert.rejects(
    client.send(Array(5000).fill("abcdefghi")),
    (error: unknown) => {
      assert.ok(error instanceof SerializationError, String(error));
      assert.match(error.message, /maxDecompressedSize \(40000 bytes\)/);
      return true;
    },
  );
  assert.equal(await other, "other");
  assert.equal(await client.send("after"), "after");
  await client.close();
  await server.close();
  await serving;
});

Deno.test("encode limit (JSON): a long string that needs escapes is refused before it is escaped whole", async () => {
  // 20 M control characters escape to 120 MB of text ("\u0001" each):
  // escaping before the check held that and more.
  const big = "\x01".repeat(20_000_000);
  big.isWellFormed(); // Flat before measuring.
  const [client, server] = pair(() => new JsonCodec(), 64 * KiB);
  const serving = serve(server);
  const rss = Deno.memoryUsage().rss;
  await assert.rejects(client.send(big), FrameSizeError);
  const grown = Deno.memoryUsage().rss - rss;
  assert.ok(grown < 64 * 1024 * KiB, `RSS grew ${grown} bytes`);
  assert.equal(await client.send("after"), "after");
  await client.close();
  await server.close();
  await serving;
});

for (const [name, codec] of CODECS.slice(0, 2)) {
  Deno.test(`encode buffers (${name}): a large message queued behind a peer that does not read gives the codec's buffer back to the pool`, async () => {
    const [a, b] = createMemoryPair();
    const channel = new Channel(b, { codec: codec() });
    try {
      drainPool();
      // 1 MiB encodes into a pooled 2 MiB buffer; the frame is copied into
      // the queue, above highWaterMark (1 MiB): the channel is behind.
      const call = channel.send("x".repeat(1024 * KiB));
      call.catch(() => {});
      assert.ok(
        pooledSize() >= 2 * 1024 * KiB,
        `${pooledSize()} bytes pooled: the buffer stays with a channel whose peer does not read`,
      );
    } finally {
      await channel.close({ timeout: 0 });
      await a.readable.cancel().catch(() => {});
    }
  });
}

Deno.test("encode buffers: a codec given back its buffer early keeps no view of it (one the pool does not take is freed)", async () => {
  // Above the pool's 8 MiB: given back, the buffer is dropped.
  const size = 12 * 1024 * KiB;
  for (const codec of [new JsonCodec(), new MsgPackCodec()]) {
    const ref = (() => {
      const out = codec instanceof JsonCodec
        ? viewEncoders.get(codec)!(["x".repeat(size)], Infinity)
        : partsEncoders.get(codec)!(["x".repeat(size)], Infinity)[0];
      const buffer = new WeakRef(out.buffer);
      encodeReleasers.get(codec)!();
      return buffer;
    })();
    await collectGarbage();
    assertCollected([ref], () => `${codec.name} kept its encode buffer`);
  }
});

for (const [name, codec] of CODECS.slice(0, 2)) {
  Deno.test(`encode buffers (${name}): a connection that sent a large message and went quiet keeps no encode buffer`, async () => {
    const [client, server] = pair(codec, 16 * 1024 * KiB);
    const serving = (async () => {
      for await (const request of server) await request.reply(null);
    })();
    try {
      drainPool();
      // 600 KB, below highWaterMark: encoded into a pooled 1 MiB buffer,
      // copied into the queue, written at once; the answer is small.
      assert.equal(await client.send("x".repeat(600_000)), null);
      assert.ok(
        pooledSize() >= 1024 * KiB,
        `${pooledSize()} bytes pooled: the buffer stays with a quiet connection`,
      );
    } finally {
      await client.close();
      await server.close();
      await serving;
    }
  });
}
