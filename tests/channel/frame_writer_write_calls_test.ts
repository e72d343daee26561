// How FrameWriter calls its write function: until all is written, failing
// on errors and on 0 bytes, stopping on abort, and leaving each buffer
// untouched until its write resolves.
import assert from "node:assert/strict";
import { assertSameBytes, concat, frame } from "../_frames.ts";
import { FrameWriter } from "../../channel/_frame_writer.ts";
import { bytes, microtasks, onError, utf8 } from "./_frame_writer_helpers.ts";

Deno.test("a write function that takes part of a chunk is called until all is written", async () => {
  const chunks: Uint8Array[] = [];
  const writer = new FrameWriter((chunk) => {
    chunks.push(chunk.slice(0, 2));
    return Promise.resolve(Math.min(2, chunk.length));
  }, { highWaterMark: 1 << 20, onError });
  const payload = utf8.encode("hello");
  writer.write(payload);
  await writer.drained();
  assert.ok(chunks.every((c) => c.length <= 2));
  assert.deepEqual(concat(chunks), frame(payload));
  await writer.close();
});

Deno.test("a failing write function reports the error once and fails later writes", async () => {
  const errors: unknown[] = [];
  const failure = new Deno.errors.BrokenPipe("gone");
  const writer = new FrameWriter(() => Promise.reject(failure), {
    highWaterMark: 1 << 20,
    onError: (error) => errors.push(error),
  });
  writer.write(utf8.encode("lost"));
  await writer.drained();
  assert.deepEqual(errors, [failure]);
  assert.throws(() => writer.write(utf8.encode("more")), (e) => e === failure);
  await writer.close();
});

/**
 * Writes `rounds` rounds of frames (queued by `queue`, which also returns
 * them framed) into a sink that reads each chunk only when its write
 * completes, as a socket may, taking at most `most` bytes a call; a round
 * is let through once the next is queued. Returns what the sink received
 * and what was expected.
 */
async function gatedRounds(
  rounds: number,
  queue: (writer: FrameWriter, round: number) => Uint8Array[],
  most = Infinity,
): Promise<{ received: Uint8Array; expected: Uint8Array }> {
  const received: Uint8Array[] = [];
  let gate = Promise.withResolvers<void>();
  const writer = new FrameWriter(async (chunk) => {
    await gate.promise;
    const n = Math.min(chunk.length, most);
    received.push(chunk.slice(0, n));
    return n;
  }, { highWaterMark: 1 << 30, onError });
  const expected: Uint8Array[] = [];
  for (let round = 0; round < rounds; round++) {
    expected.push(...queue(writer, round));
    await microtasks(3);
    const open = gate;
    gate = Promise.withResolvers<void>();
    open.resolve();
  }
  gate.resolve();
  await writer.drained();
  await writer.close();
  return { received: concat(received), expected: concat(expected) };
}

Deno.test("a buffer being written is not touched until its write resolves", async () => {
  // Frames queued meanwhile must go into another buffer.
  const { received, expected } = await gatedRounds(4, (writer, round) => {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 5; i++) {
      const payload = utf8.encode(`round ${round} frame ${i} `.repeat(i + 1));
      frames.push(frame(payload));
      writer.write(payload);
    }
    return frames;
  });
  assert.deepEqual(received, expected);
});

Deno.test("abort drops the rest of a batch that is being written", async () => {
  const calls: number[] = [];
  const gate = Promise.withResolvers<void>();
  const writer = new FrameWriter(async (chunk) => {
    calls.push(chunk.length);
    await gate.promise;
    return Math.min(chunk.length, 1000);
  }, { highWaterMark: 1 << 30, onError });
  writer.write(new Uint8Array(200_000).fill(1));
  await microtasks(3);
  assert.equal(calls.length, 1);
  writer.abort(new Error("closing"));
  gate.resolve();
  await writer.drained();
  assert.equal(calls.length, 1, "nothing is written after the abort");
});

Deno.test("a write function that writes 0 bytes fails the writer instead of spinning", async () => {
  const errors: unknown[] = [];
  const writer = new FrameWriter(() => Promise.resolve(0), {
    highWaterMark: 1 << 20,
    onError: (error) => errors.push(error),
  });
  writer.write(utf8.encode("stuck"));
  await writer.drained();
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /wrote 0 bytes/);
});

Deno.test("batch buffers closed at 256 KiB are not touched until their write resolves", async () => {
  // Frames queued meanwhile, in several batches of their own, must use
  // other buffers.
  for (const large of [false, true]) {
    const { received, expected } = await gatedRounds(5, (writer, round) => {
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 6; i++) {
        const seed = round * 10 + i;
        const payload = bytes((40 + 13 * i) * 1024 + round, seed);
        frames.push(frame(payload));
        writer.write(payload);
        // A 1 MiB frame among them ends the batch with its header.
        if (large && i === 2) {
          const big = bytes(1 << 20, seed + 100);
          frames.push(frame(big));
          writer.write(big);
        }
      }
      return frames;
    }, 100_000);
    assertSameBytes(received, expected, `large: ${large}`);
  }
});
