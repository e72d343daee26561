// The read buffers of a connection: small while it is quiet, large ones
// from a bounded process-wide pool during bursts, and a pooled buffer never
// carries one connection's bytes into what another received.
import assert from "node:assert/strict";
import {
  bulkReadBuffers,
  ByteSource,
  freshReadBuffers,
  PEEK,
  pooledReadBuffers,
} from "../../channel/_byte_source.ts";
import { Channel, createMemoryPair, type Request } from "../../channel/mod.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import type { Transport } from "../../channel/mod.ts";
import { connLike, readingTransport } from "./_conn_like.ts";

const KiB = 1024;

/** A conn-like transport whose reads take from chunks the test gives. */
function fedTransport(): { transport: Transport; give(bytes: number): void } {
  const chunks: number[] = [];
  return {
    transport: readingTransport((buffer) => {
      const want = chunks.shift();
      if (want === undefined) return Promise.resolve(null);
      const n = Math.min(want, buffer.length);
      if (n < want) chunks.unshift(want - n);
      buffer.fill(7, 0, n);
      return Promise.resolve(n);
    }),
    give(bytes) {
      chunks.push(bytes);
    },
  };
}

/** Reads the way ReadLoop does: each read told how many the last gave. */
async function readAll(source: ByteSource, reads: number): Promise<number[]> {
  const sizes: number[] = [];
  let last = 0;
  for (let i = 0; i < reads; i++) {
    const got = await source.read(last);
    assert.notEqual(got, null);
    last = got!;
    sizes.push(source.chunk.buffer.byteLength);
  }
  return sizes;
}

Deno.test("byte source: a quiet connection reads into 1 KiB; a read that fills it brings a 64 KiB buffer, which goes back after the first that does not", async () => {
  const fed = fedTransport();
  const source = new ByteSource(fed.transport);
  fed.give(10);
  fed.give(5 * KiB);
  fed.give(200 * KiB);
  fed.give(3);
  fed.give(3);
  const sizes = await readAll(source, 10);
  assert.deepEqual(sizes, [
    KiB, // 10 bytes
    KiB, // the first KiB of 5: full
    64 * KiB, // the other 4: not full
    KiB, // the first KiB of 200: full
    64 * KiB, // 64 of the other 199: full
    64 * KiB,
    64 * KiB,
    64 * KiB, // the last 7: not full
    KiB, // 3 bytes
    KiB, // 3 bytes
  ]);
  assert.equal(await source.read(3), null);
  source.releaseLock();
});

Deno.test("byte source (attacker): at most 16 large buffers exist in the process; a source that finds none reads into its 1 KiB; one given back is the next burst's", async () => {
  // The tests before this one gave theirs back: all 16 are to be had.
  // 20 peers each send exactly 1 KiB (a full read: more may be coming)
  // and then, for an attacker, nothing: only 16 large reads may wait.
  const sources = Array.from({ length: 20 }, () => fedTransport());
  const readers = sources.map((fed) => new ByteSource(fed.transport));
  const sizes: number[] = [];
  const larges: ArrayBufferLike[] = [];
  for (const [i, fed] of sources.entries()) {
    fed.give(KiB);
    fed.give(2 * KiB);
    fed.give(10);
    await readAll(readers[i], 2);
    sizes.push(readers[i].chunk.buffer.byteLength);
    if (readers[i].chunk.length === 64 * KiB) {
      larges.push(readers[i].chunk.buffer);
    }
  }
  assert.deepEqual(sizes, [...Array(16).fill(64 * KiB), ...Array(4).fill(KiB)]);
  assert.equal(pooledReadBuffers(), 0);
  assert.equal(new Set(larges).size, 16, "each burst has a buffer of its own");
  // The 4 without one still read everything: 1 KiB at a time.
  for (const reader of readers.slice(16)) {
    assert.deepEqual(await readAll(reader, 2), [KiB, KiB]);
  }
  // Each goes quiet: its large buffer goes back to the pool.
  for (const fed of sources.slice(16)) fed.give(3);
  for (const [i, reader] of readers.entries()) {
    await readAll(reader, 1);
    assert.equal(reader.chunk.buffer.byteLength, KiB, `source ${i}`);
  }
  assert.equal(pooledReadBuffers(), 16);
  // The next burst takes the buffer given back last.
  const next = fedTransport();
  const reader = new ByteSource(next.transport);
  next.give(KiB);
  next.give(KiB + 1);
  await readAll(reader, 2);
  assert.ok(larges.includes(reader.chunk.buffer), "a pooled buffer reused");
  assert.equal(pooledReadBuffers(), 15);
  reader.releaseLock();
  for (const other of readers) other.releaseLock();
  assert.equal(pooledReadBuffers(), 16);
});

Deno.test("byte source (attacker): at most 16 sources of the process wait on fresh memory for an expected large frame; the others read into 1 KiB", async () => {
  const sources = Array.from({ length: 20 }, () => fedTransport());
  const readers = sources.map((fed) => new ByteSource(fed.transport));
  const rooms: number[] = [];
  for (const [i, fed] of sources.entries()) {
    fed.give(100 * KiB);
    // Fresh memory is sized for the frame and the next one's header.
    assert.equal(
      await readers[i].read(0, 64 * KiB),
      i < 16 ? 64 * KiB + PEEK : KiB,
    );
    rooms.push(readers[i].chunk.buffer.byteLength);
  }
  assert.deepEqual(rooms, [
    ...Array(16).fill(64 * KiB + PEEK),
    ...Array(4).fill(KiB),
  ]);
  assert.deepEqual(readers.map((r) => r.fresh), [
    ...Array(16).fill(true),
    ...Array(4).fill(false),
  ]);
  assert.equal(freshReadBuffers(), 16);
  // A fresh buffer is never read into again: the next read takes another.
  const first = readers[0].chunk.buffer;
  await readers[0].read(64 * KiB, 64 * KiB);
  assert.notEqual(readers[0].chunk.buffer, first);
  // Without an expected frame, back to the small buffer; the count drops.
  await readers[0].read(10, 0);
  assert.equal(readers[0].chunk.buffer.byteLength, KiB);
  assert.equal(freshReadBuffers(), 15);
  for (const reader of readers) reader.releaseLock();
  assert.equal(freshReadBuffers(), 0);
});

Deno.test("byte source (attacker): at most 8 bulk buffers of 256 KiB exist in the process, each reused by the source holding it; the others read into fresh memory, and each goes back to the pool when its stream ends", async () => {
  const sources = Array.from({ length: 10 }, () => fedTransport());
  const readers = sources.map((fed) => new ByteSource(fed.transport));
  const before = bulkReadBuffers();
  const rooms: number[] = [];
  for (const [i, fed] of sources.entries()) {
    fed.give(300 * KiB);
    await readers[i].read(0, 64 * KiB, true);
    rooms.push(readers[i].chunk.buffer.byteLength);
  }
  const bulk = 256 * KiB;
  const made = 8 - before.existing + before.pooled;
  assert.deepEqual(rooms.slice(0, made), Array(made).fill(bulk));
  assert.ok(
    rooms.slice(made).every((room) => room === 64 * KiB + PEEK),
    `${rooms}`,
  );
  assert.equal(bulkReadBuffers().existing, 8);
  assert.equal(bulkReadBuffers().pooled, 0);
  // The next bulk read reuses the same buffer.
  const first = readers[0].chunk.buffer;
  await readers[0].read(bulk, 64 * KiB, true);
  assert.equal(readers[0].chunk.buffer, first);
  // Not streaming any more: back to the small buffer, the bulk one pooled.
  await readers[0].read(10, 0, false);
  assert.equal(readers[0].chunk.buffer.byteLength, KiB);
  assert.equal(bulkReadBuffers().pooled, 1);
  for (const reader of readers) reader.releaseLock();
  assert.deepEqual(bulkReadBuffers(), { existing: 8, pooled: 8 });
  assert.equal(freshReadBuffers(), 0);
});

Deno.test("byte source: fresh memory of exactly the bulk buffer's size is handed over, never pooled as a bulk buffer", async () => {
  const fed = fedTransport();
  const reader = new ByteSource(fed.transport);
  const before = bulkReadBuffers();
  fed.give(256 * KiB);
  fed.give(10);
  assert.equal(await reader.read(0, 256 * KiB - PEEK), 256 * KiB);
  assert.ok(reader.fresh);
  const fresh = reader.chunk.buffer;
  await reader.read(256 * KiB, 0);
  reader.releaseLock();
  assert.deepEqual(bulkReadBuffers(), before);
  // Whatever reads next never gets that memory.
  const other = fedTransport();
  const next = new ByteSource(other.transport);
  other.give(300 * KiB);
  await next.read(0, 64 * KiB, true);
  assert.notEqual(next.chunk.buffer, fresh);
  next.releaseLock();
});

Deno.test("byte source: a stream's buffers (BYOB) are never pooled", async () => {
  const before = pooledReadBuffers();
  const chunks = [KiB, 3 * KiB, 10].map((n) => new Uint8Array(n).fill(1));
  const readable = new ReadableStream({
    type: "bytes",
    pull(controller: ReadableByteStreamController) {
      const chunk = chunks.shift();
      if (chunk === undefined) {
        controller.close();
        controller.byobRequest?.respond(0);
      } else {
        controller.enqueue(chunk);
      }
    },
  });
  const source = new ByteSource({
    readable: readable as ReadableStream<Uint8Array>,
    writable: new WritableStream(),
  });
  const sizes: number[] = [];
  // A stream's reads never go into fresh memory (it takes no `read` call).
  for (let got = await source.read(0, 64 * KiB); got !== null;) {
    assert.equal(freshReadBuffers(), 0);
    sizes.push(source.chunk.buffer.byteLength);
    got = await source.read(got);
  }
  // The 3 KiB chunk came after a full read: into a large buffer.
  assert.ok(sizes.includes(64 * KiB), `${sizes}`);
  source.releaseLock();
  assert.equal(pooledReadBuffers(), before);
});

/** Fills `bytes` with a pattern of its connection and message. */
function pattern(size: number, who: number, message: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (who * 31 + message * 7 + i) & 255;
  return bytes;
}

Deno.test("byte source: bytes received through a pooled buffer stay as they were after another connection's burst refills it", async () => {
  const received: Map<number, Uint8Array[]> = new Map();
  const channels: Channel[] = [];
  const peers: Channel[] = [];
  for (let who = 0; who < 2; who++) {
    const [a, b] = createMemoryPair();
    const server = new Channel(connLike(a), { codec: new MsgPackCodec() });
    const client = new Channel(b, { codec: new MsgPackCodec() });
    const got: Uint8Array[] = [];
    received.set(who, got);
    (async () => {
      for await (const request of server as AsyncIterable<Request>) {
        const [bin, text] = request.content as [Uint8Array, string];
        got.push(bin);
        await request.reply(text.length);
      }
    })();
    channels.push(server);
    peers.push(client);
  }
  // Messages of 2–40 KiB sent at once: they arrive in the large buffer
  // (not read straight into frames of their own, which start at 64 KiB).
  const sizes = [2 * KiB, 40 * KiB, 9 * KiB, 17 * KiB, 3 * KiB + 5];
  for (let who = 0; who < 2; who++) {
    const calls = sizes.map((size, m) =>
      peers[who].send([pattern(size, who, m), "x".repeat(m + 1)])
    );
    assert.deepEqual(await Promise.all(calls), sizes.map((_, m) => m + 1));
  }
  assert.ok(pooledReadBuffers() > 0, "the bursts went through the pool");
  for (let who = 0; who < 2; who++) {
    const got = received.get(who)!;
    assert.equal(got.length, sizes.length);
    for (const [m, size] of sizes.entries()) {
      assert.deepEqual(got[m], pattern(size, who, m), `connection ${who}`);
    }
  }
  for (const channel of [...peers, ...channels]) await channel.close();
});
