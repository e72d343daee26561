// A split frame grows in a pooled staging buffer until it gets its own:
// the frames handed over are fresh memory, a staging buffer that a read may
// still fill is never reused, and at most four exist.
import assert from "node:assert/strict";
import { assertSameBytes, frame } from "../_frames.ts";
import {
  partialFrameBudget,
  setPartialFrameBudget,
} from "../../channel/mod.ts";
import { FrameParser } from "../../channel/_frame_parser.ts";
import { ReadLoop } from "../../channel/_read_loop.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { readingTransport } from "./_conn_like.ts";
import { STAGE_SIZE, stagingBuffers } from "../../channel/_stage_pool.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** A payload whose every byte depends on its offset. */
function pattern(length: number, seed = 0): Uint8Array {
  return Uint8Array.from(
    { length },
    (_, i) => (i * 31 + seed + (i >>> 8)) & 255,
  );
}

/** Whether `view` is a view of a staging buffer. */
function staged(view: Uint8Array): boolean {
  return view.buffer.byteLength === STAGE_SIZE;
}

/**
 * Feeds `bytes` (a frame) to `parser` as the read loop does: its first
 * `first` bytes through the read buffer, the rest read straight into the
 * buffer `bodyTarget` gives, at most `step` bytes per read. Returns the
 * frames completed and the targets given.
 */
function feed(
  parser: FrameParser,
  bytes: Uint8Array,
  first: number,
  step: number,
): { frames: Uint8Array[]; targets: Uint8Array[] } {
  const frames: Uint8Array[] = [];
  const targets: Uint8Array[] = [];
  parser.push(bytes.subarray(0, first), frames);
  let at = first;
  while (at < bytes.length) {
    const target = parser.bodyTarget(true);
    if (target === null) {
      const end = Math.min(bytes.length, at + step);
      parser.push(bytes.subarray(at, end), frames);
      at = end;
      continue;
    }
    targets.push(target);
    const n = Math.min(target.length, step, bytes.length - at);
    target.set(bytes.subarray(at, at + n));
    parser.advance(n, frames);
    at += n;
  }
  return { frames, targets };
}

Deno.test("FrameParser: a 1 MiB frame grows in a staging buffer and is handed over in fresh memory of its own", () => {
  const payload = pattern(MiB);
  const before = stagingBuffers();
  const { frames, targets } = feed(
    new FrameParser(),
    frame(payload),
    1024,
    200 * KiB,
  );
  assert.equal(frames.length, 1);
  assertSameBytes(frames[0], payload);
  assert.equal(frames[0].buffer.byteLength, MiB, "the frame's own buffer");
  // 4 KiB, then 64 KiB more, then 4 times as much: staged; then its own.
  assert.deepEqual(targets.map(staged), [
    true,
    true,
    false,
    false,
    false,
    false,
  ]);
  assert.ok(!staged(targets[2]) && targets[2].buffer === frames[0].buffer);
  const after = stagingBuffers();
  assert.equal(
    after.existing - after.pooled,
    before.existing - before.pooled,
    "given back",
  );
  assert.ok(after.existing <= 4);
});

Deno.test("FrameParser: frames split anyhow come out whole through the staging buffer, which is reused", () => {
  for (
    const [length, chunk] of [[70_000, 999], [300 * KiB, 4096], [
      MiB + 5,
      65_536,
    ], [2 * MiB, 100_000]]
  ) {
    const payload = pattern(length, length);
    const bytes = frame(payload);
    const parser = new FrameParser();
    const frames: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += chunk) {
      parser.push(bytes.subarray(at, at + chunk), frames);
    }
    assert.equal(frames.length, 1, `${length} in chunks of ${chunk}`);
    assertSameBytes(frames[0], payload);
    assert.equal(frames[0].buffer.byteLength, length);
    const { existing, pooled } = stagingBuffers();
    assert.equal(existing, pooled, "every staging buffer back in the pool");
    assert.ok(existing >= 1 && existing <= 4);
  }
});

Deno.test("FrameParser: a staging buffer of a frame released mid-read is never reused", () => {
  const before = stagingBuffers();
  const a = new FrameParser();
  feed(a, frame(pattern(MiB)).subarray(0, 30 * KiB), 1024, 8 * KiB);
  // A read into `heldA` is pending when the connection closes.
  const heldA = a.bodyTarget(true)!;
  assert.ok(staged(heldA));
  a.release();
  const after = stagingBuffers();
  assert.equal(
    after.existing,
    before.existing - (before.pooled > 0 ? 0 : -1) - 1,
  );
  assert.equal(after.pooled, Math.max(0, before.pooled - 1), "not given back");
  const b = new FrameParser();
  const { targets } = feed(b, frame(pattern(MiB, 1)), 1024, 200 * KiB);
  assert.ok(staged(targets[0]));
  for (const target of targets) assert.notEqual(target.buffer, heldA.buffer);
});

Deno.test("FrameParser: a staging buffer of a frame released between reads goes back to the pool", () => {
  const a = new FrameParser();
  // The last read was handed over (advance): none is pending.
  const { targets } = feed(
    a,
    frame(pattern(MiB)).subarray(0, 30 * KiB),
    1024,
    8 * KiB,
  );
  const heldA = targets.at(-1)!;
  assert.ok(staged(heldA));
  const before = stagingBuffers();
  a.release();
  assert.deepEqual(stagingBuffers(), {
    existing: before.existing,
    pooled: before.pooled + 1,
  });
  // A peer that sends a frame's start and leaves costs no new staging buffer.
  const b = new FrameParser();
  const { targets: [heldB] } = feed(
    b,
    frame(pattern(MiB, 1)).subarray(0, 30 * KiB),
    1024,
    8 * KiB,
  );
  assert.equal(heldB.buffer, heldA.buffer);
  b.release();
});

Deno.test("FrameParser: a staging buffer of a frame cut by the budget mid-read is never reused", () => {
  const cut: unknown[] = [];
  const a = new FrameParser(undefined, {
    label: "a",
    onCut: (e) => cut.push(e),
  });
  const frames: Uint8Array[] = [];
  a.push(frame(pattern(MiB)).subarray(0, 100 * KiB), frames);
  // a holds 4 times what has arrived: about 400 KiB, staged; a read into
  // it is pending.
  const heldA = a.bodyTarget(true)!;
  assert.ok(staged(heldA));
  const before = stagingBuffers();
  const previous = setPartialFrameBudget(partialFrameBudget().held + 50 * KiB);
  try {
    const b = new FrameParser(undefined, { label: "b" });
    // 64 KiB more held by b: over the budget, and a holds the most.
    b.push(frame(pattern(MiB, 2)).subarray(0, 64 * KiB), frames);
    assert.equal(cut.length, 1);
    const made = before.pooled === 0 ? 1 : 0;
    assert.deepEqual(stagingBuffers(), {
      existing: before.existing - 1 + made,
      pooled: before.pooled - 1 + made,
    }, "a's dropped, b took another");
    const heldB = b.bodyTarget(true)!;
    assert.ok(staged(heldB));
    assert.notEqual(heldB.buffer, heldA.buffer);
    b.release();
  } finally {
    setPartialFrameBudget(previous);
  }
});

Deno.test("FrameParser (attacker): a frame's header and a few bytes take no staging buffer", () => {
  const before = stagingBuffers();
  const parsers = Array.from({ length: 8 }, () => new FrameParser());
  for (const parser of parsers) {
    parser.push(frame(pattern(MiB)).subarray(0, 9), []);
    assert.equal(parser.bufferSize, 4 * KiB);
  }
  assert.deepEqual(stagingBuffers(), before);
  for (const parser of parsers) parser.release();
});

Deno.test("FrameParser: at most 4 staging buffers; without one a frame grows in fresh memory, and takes one once free", () => {
  const parsers = Array.from({ length: 6 }, () => new FrameParser());
  const payloads = parsers.map((_, i) => pattern(MiB, i));
  const targets = parsers.map((parser, i) => {
    parser.push(frame(payloads[i]).subarray(0, 2000), []);
    return parser.bodyTarget(true)!;
  });
  assert.equal(targets.filter(staged).length, 4);
  assert.equal(stagingBuffers().existing, 4);
  assert.equal(stagingBuffers().pooled, 0);
  // The first four complete their frames and give theirs back; the last
  // two go on, through staging buffers taken with their bytes so far.
  const frames: Uint8Array[][] = parsers.map(() => []);
  for (const i of [0, 1, 2, 3, 4, 5]) {
    const bytes = frame(payloads[i]);
    const wasStaged: boolean[] = [];
    let at = 2000;
    while (at < bytes.length) {
      const target = parsers[i].bodyTarget(true)!;
      wasStaged.push(staged(target));
      const n = Math.min(target.length, 50 * KiB, bytes.length - at);
      target.set(bytes.subarray(at, at + n));
      parsers[i].advance(n, frames[i]);
      at += n;
    }
    assert.equal(frames[i].length, 1);
    assertSameBytes(frames[i][0], payloads[i]);
    assert.equal(wasStaged[0], i < 4);
    assert.ok(wasStaged.includes(true), `parser ${i} staged once it grew`);
    assert.equal(wasStaged.at(-1), false, "the frame's own buffer last");
  }
  assert.deepEqual(stagingBuffers(), { existing: 4, pooled: 4 });
});

Deno.test("FrameParser: bytes pushed after release start no frame and hold nothing", () => {
  const stages = stagingBuffers();
  const held = partialFrameBudget().held;
  const parser = new FrameParser();
  parser.release();
  const frames: Uint8Array[] = [];
  parser.push(frame(pattern(MiB)).subarray(0, 100 * KiB), frames);
  parser.push(frame(pattern(10)), frames);
  // Not assert.equal: a failure would print a view of 400 KiB.
  assert.ok(parser.bodyTarget(true) === null, "no target to read into");
  assert.deepEqual(frames, []);
  assert.equal(parser.partial, false);
  assert.equal(partialFrameBudget().held, held);
  assert.deepEqual(stagingBuffers(), stages);
});

Deno.test("read loop: bytes read while the channel waits on the unanswered budget and then closes start no frame; nothing stays held", async () => {
  const stagesBefore = stagingBuffers();
  const heldBefore = partialFrameBudget().held;
  // The start of a 1 MiB frame, filling the first 1 KiB read.
  const start = frame(pattern(MiB)).subarray(0, KiB);
  const ended = Promise.withResolvers<null>();
  let reads = 0;
  const transport = readingTransport((buffer) => {
    if (++reads > 1) return ended.promise;
    buffer.set(start);
    return Promise.resolve(start.length);
  }, () => ended.resolve(null));
  const paused = Promise.withResolvers<void>();
  const resume = Promise.withResolvers<void>();
  let closing = false;
  const loop = new ReadLoop(transport, {
    closing: () => closing,
    dispatch() {},
    overBudget() {
      if (closing) return undefined;
      paused.resolve();
      return resume.promise;
    },
    blocked: () => undefined,
    interrupt() {},
    busy: () => false,
    flush() {},
    ended() {},
    gone() {},
    fail(error) {
      throw error;
    },
  }, {
    codec: new MsgPackCodec(),
    peer: "peer",
    maxFrameSize: 16 * MiB,
    frameTimeout: Infinity,
    idleTimeout: Infinity,
  });
  await paused.promise;
  // As Channel's shutdown does: closing, the budget wait woken, the loop
  // stopped (its parser released), then the transport closed.
  closing = true;
  resume.resolve();
  loop.stop();
  transport.close!();
  await loop.done;
  assert.equal(loop.parser.partial, false);
  assert.equal(partialFrameBudget().held, heldBefore);
  const after = stagingBuffers();
  assert.equal(
    after.existing - after.pooled,
    stagesBefore.existing - stagesBefore.pooled,
  );
});
