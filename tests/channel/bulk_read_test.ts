// Large frames that stream in back to back are read several at once into a
// reused bulk buffer and copied out of it; large frames that come one at a
// time go on being read into fresh memory each (no copy).
import assert from "node:assert/strict";
import { encodeFrames } from "../../channel/_frame_parser.ts";
import { Channel, type Transport } from "../../channel/mod.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import {
  bulkReadBuffers,
  freshReadBuffers,
  PEEK,
} from "../../channel/_byte_source.ts";
import { concat } from "../_frames.ts";
import { readingTransport } from "./_conn_like.ts";

const KiB = 1024;
const BULK = 256 * KiB;

/** A request frame (MsgPack) of `size` payload bytes, all `fill`. */
function filledFrame(fill: number, size = 64 * KiB): Uint8Array {
  const payload = new Uint8Array(size).fill(fill);
  return encodeFrames([new MsgPackCodec().encode([0, fill, payload])]);
}

/**
 * A conn-like transport over `frames`: all of them waiting at once
 * (`oneAtATime` false: a read takes as much as its buffer holds), or each
 * arriving only once the one before has been read whole; then nothing
 * more until it is closed. Records the room of each read that got bytes.
 */
function framesTransport(frames: Uint8Array[], oneAtATime: boolean): {
  transport: Transport;
  rooms: number[];
} {
  const bytes = concat(frames);
  const ends: number[] = [];
  let end = 0;
  for (const frame of frames) ends.push(end += frame.length);
  const rooms: number[] = [];
  const closed = Promise.withResolvers<null>();
  let at = 0;
  const transport = readingTransport((buffer) => {
    // Then the peer waits, until the channel closes.
    if (at === bytes.length) return closed.promise;
    rooms.push(buffer.length);
    const limit = oneAtATime ? ends.find((e) => e > at)! : bytes.length;
    const n = Math.min(limit - at, buffer.length);
    buffer.set(bytes.subarray(at, at + n));
    at += n;
    return Promise.resolve(n);
  }, () => closed.resolve(null));
  return { transport, rooms };
}

/** Receives `count` requests; returns their contents, in order. */
async function contentsOf(
  transport: Transport,
  count: number,
): Promise<Uint8Array[]> {
  const channel = new Channel(transport, { codec: new MsgPackCodec() });
  const contents: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const request = await channel.recv();
    contents.push(request.content as Uint8Array);
    await request.reply(0);
  }
  await channel.close();
  return contents;
}

Deno.test("read loop: large frames streaming in back to back are read several at once into a reused 256 KiB buffer; every message keeps its own bytes (copies, never views of it)", async () => {
  const count = 40;
  const frames = Array.from({ length: count }, (_, i) => filledFrame(i + 1));
  const size = frames[0].length;
  const { transport, rooms } = framesTransport(frames, false);
  const contents = await contentsOf(transport, count);
  // Two frames to expect a third, read into fresh memory with the next
  // one's header: they stream. That one's payload is read straight into
  // its own buffer, then bulk reads on.
  assert.deepEqual(rooms.slice(4, 7), [size + PEEK, size - 4, BULK]);
  const bulkReads = rooms.filter((room) => room === BULK).length;
  assert.ok(bulkReads >= 5, `${bulkReads} bulk reads: ${rooms}`);
  for (const [i, content] of contents.entries()) {
    assert.equal(content.length, 64 * KiB);
    assert.ok(content.every((byte) => byte === i + 1), `message ${i}`);
    assert.notEqual(content.buffer.byteLength, BULK, `message ${i}`);
  }
  // Reading has ended: the buffer is back in the pool, nothing fresh held.
  const { existing, pooled } = bulkReadBuffers();
  assert.ok(existing >= 1);
  assert.equal(pooled, existing);
  assert.equal(freshReadBuffers(), 0);
});

Deno.test("read loop: large frames that come one at a time go back to fresh memory after a bulk read finds only one, and are handed over without a copy", async () => {
  const count = 24;
  const frames = Array.from({ length: count }, (_, i) => filledFrame(i + 1));
  const size = frames[0].length;
  const { transport, rooms } = framesTransport(frames, true);
  const contents = await contentsOf(transport, count);
  // Every 9th read expecting a frame tries the bulk buffer; the others
  // are fresh, sized for the frame.
  const expecting = rooms.slice(4);
  assert.deepEqual(
    expecting,
    expecting.map((_, i) => (i + 1) % 9 === 0 ? BULK : size + PEEK),
    `${rooms}`,
  );
  for (const [i, content] of contents.entries()) {
    assert.ok(content.every((byte) => byte === i + 1), `message ${i}`);
  }
  // A frame read into fresh memory is a view of it (no copy).
  assert.equal(contents[5].buffer.byteLength, size + PEEK);
  assert.equal(bulkReadBuffers().pooled, bulkReadBuffers().existing);
});

Deno.test("read loop: a streaming frame's remainder read straight into its buffer keeps the stream's bulk reads going", async () => {
  const count = 30;
  // 100 KiB: a bulk read ends inside a frame with more than 16 KiB to come.
  const frames = Array.from(
    { length: count },
    (_, i) => filledFrame(i + 1, 100 * KiB),
  );
  const size = frames[0].length;
  const { transport, rooms } = framesTransport(frames, false);
  const contents = await contentsOf(transport, count);
  const firstBulk = rooms.indexOf(BULK);
  assert.ok(firstBulk > 0, `${rooms}`);
  const after = rooms.slice(firstBulk);
  // Bulk reads and the remainders read into their frames' buffers; no
  // read into fresh memory sized for a frame any more.
  assert.ok(after.some((room) => room !== BULK), `${rooms}`);
  assert.ok(!after.includes(size + PEEK), `${rooms}`);
  for (const [i, content] of contents.entries()) {
    assert.ok(content.every((byte) => byte === i + 1), `message ${i}`);
  }
});
