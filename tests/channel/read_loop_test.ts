// How many reads a large frame costs: after the first small read, its
// remainder goes straight into the frame's buffer in reads of at least
// 64 KiB (never a read that only fills the 4 KiB a split frame starts in).
import assert from "node:assert/strict";
import { encodeFrames } from "../../channel/_frame_parser.ts";
import {
  Channel,
  partialFrameBudget,
  type Transport,
} from "../../channel/mod.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { freshReadBuffers, PEEK } from "../../channel/_byte_source.ts";
import { concat } from "../_frames.ts";
import { readingTransport } from "./_conn_like.ts";

const KiB = 1024;

/**
 * A conn-like transport that has `bytes` waiting at once (as a socket has
 * after the peer's write), then ends or, with `stall`, waits as a peer that
 * stopped sending (until closed). Records the size of every read's buffer
 * and what it gave; `waiting` settles once everything was read.
 */
function arrived(bytes: Uint8Array, stall = false): {
  transport: Transport;
  reads: { room: number; got: number | null }[];
  waiting: Promise<void>;
} {
  const reads: { room: number; got: number | null }[] = [];
  const ended = Promise.withResolvers<null>();
  const waiting = Promise.withResolvers<void>();
  let at = 0;
  const transport = readingTransport((buffer) => {
    const n = Math.min(bytes.length - at, buffer.length);
    if (n === 0) {
      waiting.resolve();
      if (stall) return ended.promise;
    }
    buffer.set(bytes.subarray(at, at + n));
    at += n;
    const got = n === 0 ? null : n;
    reads.push({ room: buffer.length, got });
    return Promise.resolve(got);
  }, () => ended.resolve(null));
  return { transport, reads, waiting: waiting.promise };
}

/** A request frame carrying `size` bytes, as MsgPack. */
function requestFrame(size: number): Uint8Array {
  const payload = new Uint8Array(size).fill(9);
  return encodeFrames([new MsgPackCodec().encode([0, 0, payload])]);
}

/** Serves the one request of `frame`; returns the reads it took. */
async function readsFor(frame: Uint8Array) {
  const { transport, reads } = arrived(frame);
  const channel = new Channel(transport, { codec: new MsgPackCodec() });
  const request = await channel.recv();
  // The frame's header (4), the array (1), type and id (2), bin32 header (5).
  assert.equal((request.content as Uint8Array).length, frame.length - 12);
  await channel.closed;
  return reads;
}

Deno.test("read loop: a 64 KiB frame that has arrived is read in two reads, 1 KiB and the rest straight into its buffer; one large frame alone does not size the next read", async () => {
  const frame = requestFrame(64 * KiB);
  const reads = await readsFor(frame);
  assert.deepEqual(reads, [
    { room: KiB, got: KiB },
    { room: frame.length - KiB, got: frame.length - KiB },
    { room: KiB, got: null },
  ]);
});

/** Receives the requests of `bytes`; returns their contents and the reads. */
async function receive(bytes: Uint8Array, count: number) {
  const { transport, reads } = arrived(bytes);
  const channel = new Channel(transport, { codec: new MsgPackCodec() });
  const contents: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    contents.push((await channel.recv()).content as Uint8Array);
  }
  await channel.closed;
  return { contents, reads };
}

/** A 64 KiB request frame whose payload bytes are all `fill`. */
function filledFrame(fill: number): Uint8Array {
  const frame = requestFrame(64 * KiB);
  frame.fill(fill, 12);
  return frame;
}

Deno.test("read loop: after two large frames, one like them that has arrived takes one read, into fresh memory its bytes are handed over in (no copy), never read into again; the next frame's header read with it says they stream", async () => {
  const frames = [5, 6, 7, 8].map(filledFrame);
  const size = frames[0].length;
  const { contents, reads } = await receive(concat(frames), 4);
  const twoReads = [
    { room: KiB, got: KiB },
    { room: size - KiB, got: size - KiB },
  ];
  assert.deepEqual(reads, [
    ...twoReads,
    ...twoReads,
    // The third and the fourth's header.
    { room: size + PEEK, got: size + PEEK },
    // The fourth's payload, straight into its own buffer, whole.
    { room: size - 4, got: size - 4 },
    // Streaming: into the bulk buffer.
    { room: 256 * KiB, got: null },
  ]);
  for (const [i, content] of contents.entries()) {
    assert.equal(content.length, 64 * KiB);
    assert.ok(content.every((byte) => byte === 5 + i), `message ${i}`);
  }
  // The third is a view of the fresh memory it was read into, the fourth
  // of its own buffer: the third still holds its own bytes after the
  // fourth's read.
  assert.equal(contents[2].buffer.byteLength, size + PEEK);
  assert.equal(contents[3].buffer.byteLength, size - 4);
  assert.equal(freshReadBuffers(), 0, "given back when reading ended");
});

Deno.test("read loop: large and small messages in turn are never read into fresh memory", async () => {
  const large = requestFrame(64 * KiB);
  const small = requestFrame(10);
  const { reads } = await receive(concat([large, small, large, small]), 4);
  assert.ok(
    reads.every(({ room }) => room !== large.length),
    JSON.stringify(reads),
  );
});

Deno.test("read loop: a read into fresh memory that fails gives it back", async () => {
  const frames = concat([requestFrame(64 * KiB), requestFrame(64 * KiB)]);
  let at = 0;
  const rooms: number[] = [];
  const transport = readingTransport((buffer) => {
    rooms.push(buffer.length);
    if (at === frames.length) {
      assert.equal(freshReadBuffers(), 1);
      return Promise.reject(new Error("connection reset"));
    }
    const n = Math.min(frames.length - at, buffer.length);
    buffer.set(frames.subarray(at, at + n));
    at += n;
    return Promise.resolve(n);
  });
  const channel = new Channel(transport, { codec: new MsgPackCodec() });
  await channel.recv();
  await assert.rejects(channel.closed, /connection reset/);
  const size = frames.length / 2;
  assert.deepEqual(rooms, [KiB, size - KiB, KiB, size - KiB, size + PEEK]);
  assert.equal(freshReadBuffers(), 0);
});

Deno.test("read loop: a small frame read into memory sized for a large one is copied out, not kept as a view of it", async () => {
  const large = requestFrame(64 * KiB);
  const small = requestFrame(10);
  const { contents, reads } = await receive(concat([large, large, small]), 3);
  assert.deepEqual(reads[4], { room: large.length + PEEK, got: small.length });
  assert.equal(contents[2].length, 10);
  assert.ok(
    contents[2].buffer.byteLength < KiB,
    `a 10-byte message keeps ${contents[2].buffer.byteLength} bytes alive`,
  );
  // After a small frame, reads are small again.
  assert.deepEqual(reads[5], { room: KiB, got: null });
});

Deno.test("read loop: a 1 MiB frame's remainder is read in reads of at least 64 KiB", async () => {
  const frame = requestFrame(1024 * KiB);
  const reads = await readsFor(frame);
  assert.deepEqual(reads[0], { room: KiB, got: KiB });
  assert.deepEqual(reads.at(-1)?.got, null);
  const body = reads.slice(1, -1);
  assert.ok(
    body.every(({ got }) => got !== null && got >= 64 * KiB),
    `reads after the first: ${JSON.stringify(body)}`,
  );
  assert.equal(
    body.reduce((sum, { got }) => sum + got!, KiB),
    frame.length,
  );
  // 64 KiB, then 4 times what has arrived, then the rest.
  assert.ok(body.length <= 3, `${body.length} reads after the first`);
});

/** What a channel holds for a frame (8 MiB) of which `sent` bytes came. */
async function heldAfter(
  sent: number,
  declared = 8 * 1024 * KiB,
): Promise<number> {
  const bytes = new Uint8Array(sent);
  new DataView(bytes.buffer).setUint32(0, declared);
  const { transport, waiting } = arrived(bytes, true);
  const before = partialFrameBudget().held;
  const channel = new Channel(transport, { codec: new MsgPackCodec() });
  await waiting;
  const held = partialFrameBudget().held - before;
  await channel.close();
  return held;
}

Deno.test("read loop (attacker): a large frame's header, then nothing, holds nothing; its first bytes 4 KiB; a full first read, the bytes plus 64 KiB", async () => {
  assert.equal(await heldAfter(4), 0);
  // A few bytes: the 4 KiB a split frame starts in.
  assert.equal(await heldAfter(14), 4 * KiB);
  // Exactly the 1 KiB first read (more may be streaming in): the buffer
  // grows to take the next 64 KiB at once, as the bound allows.
  assert.equal(await heldAfter(KiB), KiB - 4 + 64 * KiB);
  // Unless less than 16 KiB of the frame would be left after that (a read
  // of its own, and a copy of the whole frame): then the frame, at most
  // 16 KiB more. At the edge: 16 KiB left, or one byte less.
  const grown = KiB - 4 + 64 * KiB;
  assert.equal(await heldAfter(KiB, grown + 16 * KiB), grown);
  assert.equal(
    await heldAfter(KiB, grown + 16 * KiB - 1),
    grown + 16 * KiB - 1,
  );
});

Deno.test("read loop (attacker): a large frame's header read along with the frame before it into fresh memory reserves 64 KiB for it, charged to the budget, and nothing once the channel closes", async () => {
  const large = requestFrame(64 * KiB);
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 16 * 1024 * KiB);
  const { transport, reads, waiting } = arrived(
    concat([large, large, large, header]),
    true,
  );
  const before = partialFrameBudget().held;
  const channel = new Channel(transport, { codec: new MsgPackCodec() });
  await waiting;
  // The third frame came with the header, into fresh memory sized for both.
  assert.deepEqual(reads[4], {
    room: large.length + PEEK,
    got: large.length + PEEK,
  });
  assert.equal(partialFrameBudget().held - before, 64 * KiB);
  await channel.close();
  assert.equal(partialFrameBudget().held, before);
});

Deno.test("read loop: while the channel closes, what still arrives is not read into fresh memory", async () => {
  const frame = requestFrame(64 * KiB);
  const size = frame.length;
  const rooms: number[] = [];
  /** Settles once the read of that number (from 1) has been asked for. */
  const asked = Array.from({ length: 8 }, () => Promise.withResolvers<void>());
  const next = Promise.withResolvers<void>();
  const ended = Promise.withResolvers<null>();
  // Two frames at once; a third when the test says; then the peer waits.
  let bytes = concat([frame, frame]);
  let at = 0;
  let third = false;
  const transport = readingTransport(async (buffer) => {
    rooms.push(buffer.length);
    asked[rooms.length - 1]?.resolve();
    if (at === bytes.length) {
      if (third || await Promise.race([next.promise, ended.promise]) === null) {
        return ended.promise;
      }
      third = true;
      bytes = frame;
      at = 0;
    }
    const n = Math.min(bytes.length - at, buffer.length);
    buffer.set(bytes.subarray(at, at + n));
    at += n;
    return n;
  }, () => ended.resolve(null));
  const channel = new Channel(transport, { codec: new MsgPackCodec() });
  const requests = [await channel.recv(), await channel.recv()];
  await asked[4].promise;
  // The read after two frames waits in fresh memory sized for one like them.
  assert.deepEqual(rooms, [KiB, size - KiB, KiB, size - KiB, size + PEEK]);
  assert.equal(freshReadBuffers(), 1);
  const closing = channel.close();
  next.resolve();
  // That read gives a whole frame, dropped unread; the next is not fresh.
  await asked[5].promise;
  assert.notEqual(rooms[5], size + PEEK);
  assert.equal(freshReadBuffers(), 0);
  for (const request of requests) await request.reply(0);
  await closing;
});
