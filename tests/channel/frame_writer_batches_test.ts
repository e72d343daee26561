// What goes into FrameWriter's batches: payloads up to 128 KiB copied in,
// larger ones written from the caller's memory past a lead, 256 KiB per
// pooled batch buffer, and streams given copies.
import assert from "node:assert/strict";
import { assertSameBytes, concat, frame } from "../_frames.ts";
import { FrameWriter } from "../../channel/_frame_writer.ts";
import {
  bytes,
  onError,
  recordingWriter,
  utf8,
} from "./_frame_writer_helpers.ts";

Deno.test("a payload of up to 128 KiB is copied into the batch, with the frames around it up to 256 KiB a write", async () => {
  for (const size of [64 * 1024, 128 * 1024]) {
    const { sink, writer } = recordingWriter();
    const small = utf8.encode("small");
    const large = bytes(size, 1);
    writer.write(small);
    writer.write(large, true);
    // Parts of `size` bytes in all.
    const part = bytes(size - 9, 3);
    writer.writeParts([small, part, utf8.encode("tail")]);
    // Copied at once: changing the caller's buffers changes nothing sent.
    large.fill(0);
    small.fill(0);
    part.fill(0);
    await writer.drained();
    // The third frame would take the batch past 256 KiB: it starts another.
    assert.deepEqual(
      sink.chunks.map((chunk) => chunk.length),
      size === 64 * 1024
        ? [4 + 5 + 2 * (4 + size)]
        : [4 + 5 + 4 + size, 4 + size],
      `${size}: the writes`,
    );
    assert.deepEqual(
      concat(sink.chunks),
      concat([
        frame(utf8.encode("small")),
        frame(bytes(size, 1)),
        frame(
          concat([
            utf8.encode("small"),
            bytes(size - 9, 3),
            utf8.encode("tail"),
          ]),
        ),
      ]),
    );
    await writer.close();
  }
});

/** A sink that keeps the chunks it is given, not copies. */
function viewRecorder(): {
  chunks: Uint8Array[];
  writer: FrameWriter;
} {
  const chunks: Uint8Array[] = [];
  const writer = new FrameWriter((chunk) => {
    chunks.push(chunk);
    return Promise.resolve(chunk.length);
  }, { highWaterMark: 1 << 30, onError });
  return { chunks, writer };
}

Deno.test("a byte string above 128 KiB is written from the caller's memory past its first 64 KiB, which go with the header", async () => {
  const { chunks, writer } = viewRecorder();
  const large = bytes(128 * 1024 + 1, 2);
  writer.writeParts([utf8.encode("head"), large, utf8.encode("tail")]);
  await writer.drained();
  assert.deepEqual(chunks.map((chunk) => chunk.length), [
    4 + 4 + 64 * 1024,
    64 * 1024 + 1,
    4,
  ]);
  // The rest is the caller's memory itself, from its 64 KiB on.
  assert.equal(chunks[1].buffer, large.buffer);
  assert.equal(chunks[1].byteOffset, large.byteOffset + 64 * 1024);
  assertSameBytes(
    concat(chunks),
    frame(concat([utf8.encode("head"), large, utf8.encode("tail")])),
  );
  await writer.close();
});

Deno.test("a byte string of 64 to 128 KiB in a message above 128 KiB is written whole from the caller's memory", async () => {
  const { chunks, writer } = viewRecorder();
  const part = bytes(128 * 1024, 4);
  writer.writeParts([utf8.encode("head"), part, utf8.encode("tail")]);
  await writer.drained();
  assert.deepEqual(chunks.map((chunk) => chunk.length), [8, 128 * 1024, 4]);
  assert.equal(chunks[1].buffer, part.buffer);
  assert.equal(chunks[1].byteOffset, part.byteOffset);
  await writer.close();
});

Deno.test("large payloads queued together keep their order, and one not handed over is copied", async () => {
  const { chunks, writer } = viewRecorder();
  const owned = bytes(1024 * 1024, 5);
  const lent = bytes(300 * 1024, 6);
  const small = utf8.encode("between");
  writer.write(owned, true);
  writer.write(small);
  writer.write(lent);
  writer.writeParts([utf8.encode("h"), bytes(200 * 1024, 7), utf8.encode("t")]);
  // What the writer was not handed may change at once.
  lent.fill(0);
  await writer.drained();
  assertSameBytes(
    concat(chunks),
    concat([
      frame(bytes(1024 * 1024, 5)),
      frame(utf8.encode("between")),
      frame(bytes(300 * 1024, 6)),
      frame(concat([utf8.encode("h"), bytes(200 * 1024, 7), utf8.encode("t")])),
    ]),
  );
  assert.ok(chunks.some((chunk) => chunk.buffer === owned.buffer));
  assert.ok(chunks.every((chunk) => chunk.buffer !== lent.buffer));
  // No chunk is a header alone: each large payload's first 64 KiB go with
  // it, and with the frames queued before it.
  const K64 = 64 * 1024;
  assert.deepEqual(chunks.map((chunk) => chunk.length), [
    4 + K64,
    1024 * 1024 - K64,
    4 + 7 + 4 + K64,
    300 * 1024 - K64,
    4 + 1 + K64,
    200 * 1024 - K64,
    1,
  ]);
  await writer.close();
});

Deno.test("large payloads in one flush each take their lead into the batch, which grows into another pooled buffer", async () => {
  const { chunks, writer } = viewRecorder();
  const payloads = [1, 2, 3, 4].map((seed) => bytes(300 * 1024, seed));
  for (const payload of payloads) writer.write(payload, true);
  // The chunks are views of batch buffers, which go back to the pool when
  // the writer is idle: nothing takes them again before these checks.
  await writer.drained();
  const K64 = 64 * 1024;
  assert.deepEqual(
    chunks.map((chunk) => chunk.length),
    payloads.flatMap(() => [4 + K64, 300 * 1024 - K64]),
  );
  payloads.forEach((payload, i) => {
    assert.equal(chunks[2 * i + 1].buffer, payload.buffer, `payload ${i}`);
  });
  assertSameBytes(
    concat(chunks),
    concat([1, 2, 3, 4].map((seed) => frame(bytes(300 * 1024, seed)))),
  );
  await writer.close();
});

Deno.test("a large payload after 192 KiB of frames takes no lead: the header leaves with them", async () => {
  const { chunks, writer } = viewRecorder();
  const copied = [1, 2, 3].map((seed) => bytes(64 * 1024, seed));
  for (const payload of copied) writer.write(payload);
  const large = bytes(1024 * 1024, 4);
  writer.write(large, true);
  writer.write(utf8.encode("after"));
  await writer.drained();
  assert.deepEqual(chunks.map((chunk) => chunk.length), [
    3 * (4 + 64 * 1024) + 4,
    1024 * 1024,
    4 + 5,
  ]);
  assert.equal(chunks[1].buffer, large.buffer);
  assertSameBytes(
    concat(chunks),
    concat([
      ...[1, 2, 3].map((seed) => frame(bytes(64 * 1024, seed))),
      frame(bytes(1024 * 1024, 4)),
      frame(utf8.encode("after")),
    ]),
  );
  await writer.close();
});

Deno.test("a stream gets a large byte string whole, as a copy: no lead, and the caller's buffer is free at once", async () => {
  const kept: Uint8Array[] = [];
  const writer = new FrameWriter(
    new WritableStream<Uint8Array>({ write: (chunk) => void kept.push(chunk) }),
    { highWaterMark: 1 << 30, onError },
  );
  const part = bytes(200 * 1024, 8);
  writer.writeParts([utf8.encode("h"), part, utf8.encode("t")]);
  part.fill(0);
  await writer.close();
  assert.deepEqual(kept.map((chunk) => chunk.length), [4 + 1, 200 * 1024, 1]);
  assert.ok(kept.every((chunk) => chunk.buffer !== part.buffer));
  assertSameBytes(
    concat(kept),
    frame(concat([utf8.encode("h"), bytes(200 * 1024, 8), utf8.encode("t")])),
  );
});

Deno.test("pooled large batch buffers never carry one writer's bytes into another's frames", async () => {
  // Writers in turn, each filling a pooled 256 KiB buffer with its own bytes
  // and giving it back when idle; the next one writes less into it.
  for (let round = 0; round < 6; round++) {
    const { sink, writer } = recordingWriter();
    const size = 200 * 1024 - round * 30 * 1024;
    const payload = bytes(Math.min(size, 128 * 1024), round + 10);
    writer.write(utf8.encode(`r${round}`));
    writer.write(payload);
    await writer.drained();
    assert.deepEqual(
      concat(sink.chunks),
      concat([frame(utf8.encode(`r${round}`)), frame(payload)]),
      `round ${round}`,
    );
    await writer.close();
  }
});

Deno.test("frames past 256 KiB in one flush start another pooled batch instead of growing one", async () => {
  const { sink, writer } = recordingWriter();
  const payloads = [0, 1, 2, 3, 4].map((i) => bytes(64 * 1024, 20 + i));
  for (const payload of payloads) writer.write(payload);
  await writer.drained();
  // 4 × (4 + 64 KiB) is 16 bytes over 256 KiB: the fourth frame starts a
  // second batch, and the fifth joins it.
  assert.deepEqual(
    sink.chunks.map((chunk) => chunk.length),
    [3 * (4 + 64 * 1024), 2 * (4 + 64 * 1024)],
  );
  assertSameBytes(concat(sink.chunks), concat(payloads.map(frame)));
  await writer.close();
});

Deno.test("a stream gets batches of its own past 256 KiB: later frames never change what it holds", async () => {
  const kept: Uint8Array[] = [];
  const writer = new FrameWriter(
    new WritableStream<Uint8Array>({ write: (chunk) => void kept.push(chunk) }),
    { highWaterMark: 1 << 30, onError },
  );
  const expected: Uint8Array[] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 6; i++) {
      const payload = bytes(70 * 1024 + i, round * 10 + i);
      expected.push(frame(payload));
      writer.write(payload);
    }
    await writer.drained();
  }
  await writer.close();
  assert.ok(kept.every((chunk) => chunk.length <= 256 * 1024));
  assertSameBytes(concat(kept), concat(expected));
});
