// Who owns which bytes: decoded byte strings are copies unless the frame is
// handed over (then large ones are views of it), blosc output is fresh, a
// caller's bytes are never changed by encoding, and a pooled encode buffer
// never shows one message's bytes in another's output.
import assert from "node:assert/strict";
import {
  KEPT_BUFFER,
  MAX_POOLED_BUFFER,
  MAX_POOLED_BYTES,
  pooledSize,
  takeBuffer,
} from "../../codecs/_buffer_pool.ts";
import {
  type Codec,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";

const MIB = 1024 * 1024;

/** Bytes that differ from position to position (and from `seed` to seed). */
function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = (seed * 0x9e3779b9) | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
  }
  return bytes;
}

type Reply = [number, number, Uint8Array];

/** A frame `[1, 0, bin]` with the bin of `size` bytes and where it starts. */
function binFrame(size: number, seed = 1): { frame: Uint8Array; at: number } {
  const frame = new MsgPackCodec().encode([1, 0, pattern(size, seed)]);
  return { frame, at: frame.length - size };
}

Deno.test("ownership: msgpack bins are copies of bytes not handed over", () => {
  const codec = new MsgPackCodec();
  const { frame } = binFrame(100_000);
  // A reused read buffer: the frame inside it, then other bytes over it.
  const buffer = new Uint8Array(frame.length + 10);
  buffer.set(frame, 5);
  const [, , bin] = codec.decode(buffer.subarray(5, 5 + frame.length)) as Reply;
  assert.notEqual(bin.buffer, buffer.buffer);
  buffer.fill(0xee);
  assert.deepEqual(bin, pattern(100_000, 1));
});

Deno.test("ownership: with owned, bins of a quarter of the frame and more are views of it", () => {
  const codec = new MsgPackCodec();
  const { frame, at } = binFrame(100_000);
  const [, , bin] = codec.decode(frame, { owned: true }) as Reply;
  assert.equal(bin.buffer, frame.buffer);
  assert.equal(bin.byteOffset, frame.byteOffset + at);
  assert.equal(bin.length, 100_000);
  assert.deepEqual(bin, pattern(100_000, 1));
  // The view is the receiver's now: changing it changes the frame's bytes.
  bin[0] ^= 0xff;
  assert.equal(frame[at], bin[0]);

  // At exactly a quarter of the frame a view, one byte less a copy.
  const codecOf = () => new MsgPackCodec();
  const quarter = (frameLength: number, binLength: number) => {
    // [bin, filler string]: bin8 header 2 bytes, str header 3 (str16).
    const filler = "x".repeat(frameLength - 1 - 2 - binLength - 3);
    const bytes = codecOf().encode([pattern(binLength, 2), filler]);
    assert.equal(bytes.length, frameLength);
    const [b] = codecOf().decode(bytes, { owned: true }) as [Uint8Array];
    return b.buffer === bytes.buffer;
  };
  assert.equal(quarter(800, 200), true);
  assert.equal(quarter(800, 199), false);
  assert.equal(quarter(801, 201), true);
  assert.equal(quarter(801, 200), false);
});

Deno.test("ownership: a view decoded from one frame stays as it was while later frames decode", () => {
  const codec = new MsgPackCodec();
  const first = codec.decode(binFrame(70_000, 3).frame, { owned: true });
  for (let seed = 4; seed < 8; seed++) {
    codec.decode(binFrame(70_000, seed).frame, { owned: true });
    codec.encodeView([0, seed, pattern(70_000, seed)]);
  }
  assert.deepEqual((first as Reply)[2], pattern(70_000, 3));
});

Deno.test("ownership: owned decoding keeps the budget", () => {
  const { frame } = binFrame(100_000);
  // The root array (56), two integers (8 each), the bin (256 + its bytes).
  const exact = 56 + 8 + 8 + 256 + 100_000;
  assert.equal(
    (new MsgPackCodec({ maxDecodedSize: exact }).decode(frame, {
      owned: true,
    }) as Reply)[2].length,
    100_000,
  );
  // Budget checks start at frames of maxDecodedSize / 128 bytes: this one is long enough.
  assert.throws(
    () =>
      new MsgPackCodec({ maxDecodedSize: exact - 1 }).decode(frame, {
        owned: true,
      }),
    RangeError,
  );
});

Deno.test("ownership: blosc output is fresh, its bins are views of it", async () => {
  const codec = new MsgPackBloscCodec();
  const payload = new Uint8Array(256 * 1024).fill(3);
  const frame = await codec.encode([1, 0, payload]);
  assert.ok(frame.length < payload.length / 10, "compressed");
  const [, , bin] = await codec.decode(frame) as Reply;
  assert.notEqual(bin.buffer, frame.buffer);
  assert.ok(
    bin.buffer.byteLength < payload.length + 64,
    "a view of the output",
  );
  frame.fill(0);
  const [, , other] = await codec.decode(
    await codec.encode([1, 0, new Uint8Array(256 * 1024).fill(4)]),
  ) as Reply;
  assert.notEqual(other.buffer, bin.buffer);
  assert.deepEqual(bin, payload);
});

Deno.test("ownership: a stored blosc frame's bins are copies unless it is handed over", async () => {
  const codec = new MsgPackBloscCodec();
  const payload = pattern(64 * 1024, 9);
  const frame = await codec.encode([1, 0, payload]);
  assert.equal(frame[2] & 0x02, 0x02, "stored (incompressible)");
  const [, , copied] = await codec.decode(frame) as Reply;
  assert.notEqual(copied.buffer, frame.buffer);
  const [, , viewed] = await codec.decode(frame, { owned: true }) as Reply;
  assert.equal(viewed.buffer, frame.buffer);
  frame.fill(0);
  assert.deepEqual(copied, payload);
});

for (
  const [name, make, value] of [
    ["json", () => new JsonCodec(), () => ["é".repeat(40_000), "x"]],
    ["msgpack", () => new MsgPackCodec(), () => [pattern(300_000, 5), "x"]],
    [
      "msgpackblosc",
      () => new MsgPackBloscCodec(),
      () => [pattern(300_000, 5), "x"],
    ],
  ] as const
) {
  Deno.test(`ownership: ${name}: encoding does not change the caller's value`, async () => {
    const codec: Codec = make();
    const input = value();
    const before = structuredClone(input);
    const encoded = await codec.encode(input);
    assert.deepEqual(input, before);
    // The output is not a view of the caller's bytes either.
    if (input[0] instanceof Uint8Array) input[0].fill(0);
    assert.deepEqual(await codec.decode(encoded), before);
  });
}

/** Messages from large to small, crossing the kept and the pooled sizes. */
function messageSizes(): number[] {
  return [
    2 * MIB,
    3 * KEPT_BUFFER,
    MIB + 5,
    KEPT_BUFFER - 100,
    KEPT_BUFFER + 1,
    100,
    MIB,
  ];
}

Deno.test("ownership: msgpack: a pooled buffer never leaks one message's bytes into another", () => {
  const codec = new MsgPackCodec();
  const other = new MsgPackCodec();
  const kept: Uint8Array[] = [];
  const sizes = messageSizes();
  for (let i = 0; i < sizes.length; i++) {
    const message = [0, i, pattern(sizes[i], i + 10)];
    const expected = new MsgPackCodec().encode(message);
    const view = codec.encodeView(message);
    // Exactly this message's bytes, nothing of the larger one before.
    assert.deepEqual(view, expected);
    kept.push(codec.encode(message));
    // Another codec takes the buffers the first one gives back.
    const reply = [1, i, pattern(sizes[sizes.length - 1 - i], i + 40)];
    assert.deepEqual(other.encodeView(reply), new MsgPackCodec().encode(reply));
  }
  // What encode returned is the caller's: later messages change nothing.
  for (let i = 0; i < sizes.length; i++) {
    assert.deepEqual(
      new MsgPackCodec().decode(kept[i]),
      [0, i, pattern(sizes[i], i + 10)],
    );
  }
});

Deno.test("ownership: msgpack: a large message reuses the buffer of the last one", () => {
  const codec = new MsgPackCodec();
  const view = codec.encodeView([0, 1, pattern(MIB, 20)]);
  assert.deepEqual(new MsgPackCodec().decode(view), [0, 1, pattern(MIB, 20)]);
  // The next call gives the buffer back to the pool and takes it again (no
  // regrowth from the kept size): the old view is documented as invalid
  // from then on, and shows the new message.
  const next = codec.encodeView([0, 2, pattern(MIB, 21)]);
  assert.equal(next.buffer, view.buffer);
  assert.deepEqual(view, next);
  assert.deepEqual(new MsgPackCodec().decode(next), [0, 2, pattern(MIB, 21)]);
});

Deno.test("ownership: json: a pooled buffer never leaks one message's bytes into another", () => {
  const codec = new JsonCodec();
  const sizes = messageSizes();
  const kept: Uint8Array[] = [];
  for (let i = 0; i < sizes.length; i++) {
    const text = (i % 2 ? "é" : "a").repeat(sizes[i] / 2) + `"${i}"`;
    const message = [0, i, text];
    const expected = new TextEncoder().encode(JSON.stringify(message));
    assert.deepEqual(codec.encodeView(message), expected);
    kept.push(codec.encode(message));
  }
  for (let i = 0; i < sizes.length; i++) {
    const text = (i % 2 ? "é" : "a").repeat(sizes[i] / 2) + `"${i}"`;
    assert.deepEqual(new JsonCodec().decode(kept[i]), [0, i, text]);
  }
});

Deno.test("ownership: msgpackblosc: a pooled buffer never leaks one message's bytes into another", async () => {
  const codec = new MsgPackBloscCodec();
  const sizes = messageSizes();
  const frames: Uint8Array[] = [];
  for (let i = 0; i < sizes.length; i++) {
    frames.push(await codec.encode([0, i, pattern(sizes[i], i + 30)]));
  }
  for (let i = 0; i < sizes.length; i++) {
    assert.deepEqual(
      await new MsgPackBloscCodec().decode(frames[i]),
      [0, i, pattern(sizes[i], i + 30)],
    );
  }
});

Deno.test("ownership: json: large texts that need escapes or UTF-8 encode as JSON.stringify does", () => {
  const codec = new JsonCodec();
  const texts = [
    "é".repeat(20_000),
    "a".repeat(20_000) + "\n",
    "😀".repeat(9_000) + "é",
    "a".repeat(16_383) + "€".repeat(10_000),
    "\u0001".repeat(5_000),
    "x" + "\ud800".repeat(4_000),
    "a".repeat(1_023) + "é",
    "a".repeat(1_024),
    "\u007f".repeat(2_000),
    "ü".repeat(1_500) + '"',
    "😀".repeat(600) + "\ud83d",
  ];
  for (const text of texts) {
    const expected = new TextEncoder().encode(JSON.stringify([text, 1]));
    assert.deepEqual(codec.encodeView([text, 1]), expected);
    assert.deepEqual(codec.decode(expected), [text, 1]);
  }
});

Deno.test("ownership: a large buffer is kept for messages of about its size only", () => {
  // Empty the pool that earlier tests filled.
  while (pooledSize() > 0) takeBuffer(1);
  const codec = new MsgPackCodec();
  const first = codec.encodeView(new Uint8Array(MIB));
  // More than half of the 2 MiB buffer: kept.
  assert.equal(codec.encodeView(new Uint8Array(MIB + 1)).buffer, first.buffer);
  // A small message still goes into it; the call after gives it back.
  assert.equal(codec.encodeView(1).buffer, first.buffer);
  assert.notEqual(codec.encodeView(2).buffer, first.buffer);
  // And the next large message of any writer takes it from the pool.
  assert.equal(
    new JsonCodec().encodeView("a".repeat(1.5 * MIB)).buffer,
    first.buffer,
  );
});

Deno.test("ownership: the pool is bounded", () => {
  const codecs = Array.from({ length: 12 }, () => new MsgPackCodec());
  for (const size of [4 * MIB, 6 * MIB, MAX_POOLED_BUFFER + 1]) {
    for (const codec of codecs) codec.encodeView(new Uint8Array(size));
    // A small message is written into the large buffer still; the call
    // after it gives that back.
    for (const codec of codecs) codec.encodeView(0);
    for (const codec of codecs) codec.encodeView(0);
    assert.ok(pooledSize() <= MAX_POOLED_BYTES, `${pooledSize()}`);
  }
  // Buffers beyond MAX_POOLED_BUFFER are neither taken nor kept.
  const before = pooledSize();
  for (const codec of codecs) {
    codec.encodeView(new Uint8Array(MAX_POOLED_BUFFER));
  }
  for (const codec of codecs) codec.encodeView(0);
  assert.equal(pooledSize(), before);
});
