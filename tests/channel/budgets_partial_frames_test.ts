// What a peer can make a channel hold in partial frames: frame buffers that
// grow with the bytes received, the process-wide partial frame budget, and
// frameTimeout for a frame that stays partial.
import assert from "node:assert/strict";
import { frame } from "../_frames.ts";
import {
  FrameDecoderStream,
  partialFrameBudget,
  setPartialFrameBudget,
} from "../../channel/mod.ts";
import { FrameParser } from "../../channel/_frame_parser.ts";
import { ProtocolError } from "../../errors.ts";
import {
  assertOtherPairWorks,
  closedWith,
  header,
  KiB,
  MiB,
  rawPair,
  utf8,
} from "./_budgets_helpers.ts";

Deno.test("FrameParser: a header claiming 64 MiB reserves nothing; its buffer grows with the bytes received", () => {
  const parser = new FrameParser(64 * MiB);
  const before = partialFrameBudget().held;
  const frames: Uint8Array[] = [];
  parser.push(header(64 * MiB), frames);
  assert.ok(parser.partial);
  assert.equal(parser.bufferSize, 0);
  assert.equal(partialFrameBudget().held, before);
  parser.push(new Uint8Array(10), frames);
  assert.equal(parser.bufferSize, 4 * KiB);
  assert.equal(partialFrameBudget().held - before, 4 * KiB);
  parser.push(new Uint8Array(5000), frames);
  assert.equal(parser.bufferSize, 8 * KiB, "doubled");
  parser.push(new Uint8Array(100 * KiB), frames);
  assert.equal(parser.bufferSize, 10 + 5000 + 100 * KiB, "as much as arrived");
  assert.equal(
    parser.partialDescription,
    `${10 + 5000 + 100 * KiB} of ${64 * MiB} payload bytes`,
  );
  parser.release();
  assert.equal(partialFrameBudget().held, before);
});

Deno.test("FrameParser: a split frame arrives whole, and its budget is released", () => {
  const payload = Uint8Array.from({ length: 70_000 }, (_, i) => i * 7);
  const bytes = frame(payload);
  const before = partialFrameBudget().held;
  const parser = new FrameParser();
  const frames: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += 999) {
    parser.push(bytes.subarray(at, at + 999), frames);
  }
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0], payload);
  assert.equal(partialFrameBudget().held, before);
});

Deno.test("partial frame budget: beyond it the largest holder is cut with a ProtocolError; the others go on", async () => {
  const previous = setPartialFrameBudget(64 * KiB);
  const large = rawPair({ peer: "large" });
  const small = rawPair({ peer: "small" });
  const pusher = rawPair({ peer: "pusher" });
  try {
    // The large holder: 40 KiB of a frame claiming 1 MiB.
    await large.write(header(MiB));
    await large.write(new Uint8Array(40 * KiB));
    // A small, complete request sent in two parts around the cut.
    const request = frame(
      utf8.encode(JSON.stringify([0, 0, "x".repeat(20_000)])),
    );
    await small.write(request.subarray(0, 10_000));
    // 30 KiB more from another connection: 70 KiB held, above 64 KiB, so
    // the largest holder, which is not the one pushing, is cut.
    await pusher.write(header(50 * KiB));
    await pusher.write(new Uint8Array(30 * KiB));
    const error = await closedWith(large.channel);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.match(
      error.message,
      /from large: .*above its budget of 65536 \(setPartialFrameBudget\).*holds the most \(40960 bytes\)/,
    );
    assert.ok(!small.channel.isClosed && !pusher.channel.isClosed);
    await small.write(request.subarray(10_000));
    const received = await small.channel.recv();
    assert.equal(received.content, "x".repeat(20_000));
    await assertOtherPairWorks();
    // The pusher's frame growing beyond the budget cuts the pusher itself.
    await pusher.write(new Uint8Array(19 * KiB));
    assert.ok(!pusher.channel.isClosed);
    const bigger = rawPair({ peer: "bigger" });
    try {
      await bigger.write(header(MiB));
      await bigger.write(new Uint8Array(60 * KiB));
      const own = await closedWith(bigger.channel);
      assert.ok(own instanceof ProtocolError, String(own));
      assert.match(own.message, /from bigger: .*setPartialFrameBudget/);
    } finally {
      await bigger.close();
    }
  } finally {
    setPartialFrameBudget(previous);
    await large.close();
    await small.close();
    await pusher.close();
  }
  assert.equal(partialFrameBudget().held, 0, "everything released on close");
});

Deno.test("frameTimeout: a frame that stays partial closes the channel with a ProtocolError", async () => {
  const body = rawPair({ peer: "slow", frameTimeout: 30 });
  const head = rawPair({ peer: "slower", frameTimeout: 30 });
  try {
    await body.write(new Uint8Array([...header(100), 1, 2, 3]));
    await head.write(new Uint8Array([0, 0]));
    const error = await closedWith(body.channel);
    assert.ok(error instanceof ProtocolError, String(error));
    assert.equal(
      error.message,
      "Frame from slow incomplete after 30 ms (got 3 of 100 payload bytes; frameTimeout)",
    );
    const error2 = await closedWith(head.channel);
    assert.ok(error2 instanceof ProtocolError, String(error2));
    assert.match(error2.message, /got 2 of 4 header bytes; frameTimeout/);
  } finally {
    await body.close();
    await head.close();
  }
});

Deno.test("FrameDecoderStream: a stream that ends inside a frame or goes over the budget releases what the frame held", async () => {
  const before = partialFrameBudget().held;
  const ended = ReadableStream.from([header(MiB), new Uint8Array(100)])
    .pipeThrough(new FrameDecoderStream());
  await assert.rejects(
    Array.fromAsync(ended),
    /ended inside a frame \(100 of 1048576 payload bytes\)/,
  );
  assert.equal(partialFrameBudget().held, before);
  const previous = setPartialFrameBudget(1000);
  try {
    const over = ReadableStream.from([header(MiB), new Uint8Array(2000)])
      .pipeThrough(new FrameDecoderStream());
    await assert.rejects(Array.fromAsync(over), /setPartialFrameBudget/);
  } finally {
    setPartialFrameBudget(previous);
  }
  assert.equal(partialFrameBudget().held, before);
});
