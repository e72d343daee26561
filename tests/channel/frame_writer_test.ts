import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { FrameWriter } from "../../channel/_frame_writer.ts";
import { assertSameBytes, concat, frame } from "../_frames.ts";

const utf8 = new TextEncoder();

/** A write function that records chunks and resolves each write at once. */
function recorder(): {
  chunks: Uint8Array[];
  write: (chunk: Uint8Array) => Promise<number>;
} {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    write: (chunk) => {
      chunks.push(chunk.slice());
      return Promise.resolve(chunk.length);
    },
  };
}

/** Lets `n` microtasks run, and no macrotask. */
async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await undefined;
}

function macrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const onError = (error: unknown) => {
  throw error;
};

/** A writer into a {@linkcode recorder}, holding while `holding` says so. */
function recordingWriter(holding?: () => boolean): {
  sink: ReturnType<typeof recorder>;
  writer: FrameWriter;
} {
  const sink = recorder();
  const writer = new FrameWriter(sink.write, {
    highWaterMark: 1 << 20,
    onError,
    holding,
  });
  return { sink, writer };
}

Deno.test("frames queued in one turn go out in one write, within microtasks", async () => {
  const { sink, writer } = recordingWriter();
  writer.write(utf8.encode("a"));
  writer.write(utf8.encode("bc"));
  assert.equal(sink.chunks.length, 0, "nothing is written synchronously");
  // No event-loop turn is needed: a lone request is not delayed.
  await microtasks(3);
  assert.equal(sink.chunks.length, 1);
  assert.deepEqual(
    sink.chunks[0],
    concat([frame(utf8.encode("a")), frame(utf8.encode("bc"))]),
  );
  await writer.close();
});

Deno.test("while holding, a flush waits for nudge() and takes the later frames along", async () => {
  let holding = true;
  const { sink, writer } = recordingWriter(() => holding);
  writer.write(utf8.encode("1"));
  await microtasks(5);
  assert.equal(sink.chunks.length, 0, "held for the frames to come");
  writer.write(utf8.encode("2"));
  holding = false;
  writer.nudge();
  await microtasks(3);
  assert.equal(sink.chunks.length, 1);
  assert.deepEqual(
    sink.chunks[0],
    concat([frame(utf8.encode("1")), frame(utf8.encode("2"))]),
  );
  await writer.close();
});

Deno.test("nudge() writes a held or scheduled flush at once, and only once", async () => {
  let holding = true;
  const { sink, writer } = recordingWriter(() => holding);
  // Held: the flush has started and waits.
  writer.write(utf8.encode("1"));
  await microtasks(3);
  holding = false;
  writer.nudge();
  assert.equal(sink.chunks.length, 1, "written within nudge()");
  await microtasks(3);
  // Scheduled: the flush's microtask has not run yet.
  writer.write(utf8.encode("2"));
  writer.nudge();
  assert.equal(sink.chunks.length, 2, "written within nudge()");
  await macrotask();
  assert.deepEqual(sink.chunks, [
    frame(utf8.encode("1")),
    frame(utf8.encode("2")),
  ], "the scheduled microtask and the timer write nothing more");
  await writer.close();
});

Deno.test("start() runs a scheduled flush at once: it writes, or holds; nothing if none is scheduled", async () => {
  let holding = false;
  const { sink, writer } = recordingWriter(() => holding);
  writer.start();
  assert.equal(sink.chunks.length, 0, "nothing scheduled");
  writer.write(utf8.encode("1"));
  writer.start();
  assert.equal(sink.chunks.length, 1, "scheduled: written without a microtask");
  await writer.drained();
  holding = true;
  writer.write(utf8.encode("2"));
  writer.start();
  await microtasks(3);
  assert.equal(sink.chunks.length, 1, "holding: not written");
  holding = false;
  writer.nudge();
  await writer.drained();
  assert.equal(sink.chunks.length, 2);
  await writer.close();
});

Deno.test("while holding, a flush waits no longer than the next turn of the event loop", async () => {
  const { sink, writer } = recordingWriter(() => true);
  writer.write(utf8.encode("slow handler elsewhere"));
  await microtasks(3);
  assert.equal(sink.chunks.length, 0);
  await macrotask();
  await microtasks(3);
  assert.equal(sink.chunks.length, 1);
  await writer.close();
});

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

Deno.test("frames queued while a write is in flight go in the next write together", async () => {
  const gates: PromiseWithResolvers<number>[] = [];
  const chunks: Uint8Array[] = [];
  const writer = new FrameWriter((chunk) => {
    chunks.push(chunk.slice());
    const gate = Promise.withResolvers<number>();
    gates.push(gate);
    return gate.promise.then(() => chunk.length);
  }, { highWaterMark: 1 << 20, onError });
  writer.write(utf8.encode("first"));
  await microtasks(3);
  assert.equal(chunks.length, 1);
  for (const text of ["x", "y", "z"]) writer.write(utf8.encode(text));
  gates[0].resolve(0);
  await microtasks(5);
  assert.equal(chunks.length, 2);
  assert.deepEqual(
    chunks[1],
    concat(["x", "y", "z"].map((t) => frame(utf8.encode(t)))),
  );
  gates[1].resolve(0);
  await writer.drained();
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

Deno.test("abort releases a flush that is holding", async () => {
  const { sink, writer } = recordingWriter(() => true);
  writer.write(utf8.encode("dropped"));
  await microtasks(3);
  writer.abort(new Error("closing"));
  // Released at once, not by the next turn of the event loop.
  await microtasks(3);
  assert.ok(writer.idle);
  assert.equal(sink.chunks.length, 0);
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

/** `size` bytes that differ from position to position and by `seed`. */
function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

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
