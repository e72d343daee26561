import assert from "node:assert/strict";
import {
  type Codec,
  MsgPackBloscCodec,
  MsgPackCodec,
  serializable,
} from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";
import {
  fromNotation,
  hex,
  loadVectors,
  unhex,
  type Vector,
} from "./_vectors.ts";

const vectors = (await loadVectors()).filter((v) => v.codec === "msgpackblosc");
const vector = (name: string): Vector => vectors.find((v) => v.name === name)!;
const frameOf = (name: string): Uint8Array => unhex(vector(name).payload_hex);

/** A small deterministic PRNG (LCG), so failures can be reproduced. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function randomBytes(next: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(next() * 256));
}

/** A blosc 1.x header around `body`, with `cbytes` the real frame size. */
function frame(
  flags: number,
  typesize: number,
  nbytes: number,
  blocksize: number,
  body: Uint8Array,
): Uint8Array {
  const bytes = new Uint8Array(16 + body.length);
  const view = new DataView(bytes.buffer);
  bytes.set([2, 1, flags, typesize]);
  view.setUint32(4, nbytes, true);
  view.setUint32(8, blocksize, true);
  view.setUint32(12, bytes.length, true);
  bytes.set(body, 16);
  return bytes;
}

async function assertRejects(
  promise: Promise<unknown>,
  label: string,
): Promise<void> {
  await assert.rejects(promise, SerializationError, label);
}

Deno.test("blosc: name is msgpackblosc", () => {
  const codec: Codec = new MsgPackBloscCodec();
  assert.equal(codec.name, "msgpackblosc");
});

Deno.test("blosc: aiomas frames of every flag kind decode", async (t) => {
  const kinds: [string, number][] = [
    ["msg-request", 0x13], // memcpy, short
    ["blosc-memcpy-incompressible-500", 0x13],
    ["blosc-memcpy-incompressible-3000", 0x03], // memcpy, blocksize >= 1024
    ["blosc-compressed-nosplit-135", 0x11], // blosclz, one stream per block, leftover block
    ["blosc-compressed-nosplit-606", 0x11],
    ["str-len-255", 0x11],
    ["blosc-compressed-split-2406", 0x01], // blosclz, 8 streams per block, leftover block
    ["str-len-65535", 0x01],
    ["str-len-65536", 0x01],
    ["bytes-65536", 0x01],
  ];
  for (const [name, flags] of kinds) {
    await t.step(`${name} (flags 0x${flags.toString(16)})`, async () => {
      const bytes = frameOf(name);
      assert.equal(bytes[2], flags);
      assert.deepStrictEqual(
        await new MsgPackBloscCodec().decode(bytes),
        fromNotation(vector(name).value),
      );
    });
  }
});

Deno.test("blosc: a frame inside a larger buffer decodes", async () => {
  const bytes = frameOf("blosc-compressed-split-2406");
  const buffer = new Uint8Array(bytes.length + 10);
  buffer.set(bytes, 7);
  assert.deepStrictEqual(
    await new MsgPackBloscCodec().decode(buffer.subarray(7, 7 + bytes.length)),
    fromNotation(vector("blosc-compressed-split-2406").value),
  );
});

Deno.test("blosc: values round-trip through our frames, small to multi-block", async (t) => {
  const next = random(1);
  const text = (length: number): number[] =>
    Array.from(
      new TextEncoder().encode(
        "the quick brown fox jumps over the lazy dog ".repeat(length / 40 + 1),
      ),
    )
      .slice(0, length);
  // A unique chunk seen again far away: in each shuffled byte plane the
  // repeat is more than 8191 bytes back (blosclz's 16-bit distances).
  const chunk = [...randomBytes(next, 8000)];
  const farRepeat = new Uint8Array([
    ...text(8000),
    ...chunk,
    ...text(40_000),
    ...chunk,
    ...text(8000),
  ]);
  const values: [string, unknown][] = [
    ["tiny", [1, 0, null]],
    ["text 1000", [1, 0, "x".repeat(1000)]],
    ["text 3000", [1, 0, "hello world ".repeat(250)]],
    ["records", [
      1,
      0,
      Array.from(
        { length: 500 },
        (_, i) => ({ id: i, name: `n${i}`, v: i / 3 }),
      ),
    ]],
    ["incompressible 3000", [1, 0, randomBytes(next, 3000)]],
    ["a repeat 48000 bytes back", [1, 0, farRepeat]],
    ["3 MiB, several blocks", [1, 0, "aiomas ".repeat(450_000)]],
    ["unicode", [1, 0, "Grüße, 世界 🌍 ".repeat(2000)]],
  ];
  for (const [name, value] of values) {
    await t.step(name, async () => {
      const codec = new MsgPackBloscCodec();
      const bytes = await codec.encode(value);
      const view = new DataView(
        bytes.buffer,
        bytes.byteOffset,
        bytes.byteLength,
      );
      assert.equal(bytes[0], 2);
      assert.equal(
        view.getUint32(4, true),
        (new MsgPackCodec().encode(value) as Uint8Array).length,
      );
      assert.equal(view.getUint32(12, true), bytes.length);
      assert.deepStrictEqual(await codec.decode(bytes), value);
      if (name === "a repeat 48000 bytes back") {
        assert.equal(bytes[2] & 0x02, 0, "compressed, not stored");
      }
    });
  }
});

Deno.test("blosc: random compressible payloads decode to what was compressed", async () => {
  // Runs of repeated bytes and copies of earlier data, of every size up to
  // a few blocks: exercises literals, short and long matches and leftovers.
  const next = random(7);
  const codec = new MsgPackBloscCodec();
  for (let round = 0; round < 150; round++) {
    const parts: number[] = [];
    const size = Math.floor(next() ** 2 * 40_000);
    while (parts.length < size) {
      const choice = next();
      if (choice < 0.3) {
        parts.push(...randomBytes(next, 1 + Math.floor(next() * 40)));
      } else if (choice < 0.6) {
        parts.push(
          ...new Array(1 + Math.floor(next() * 300)).fill(
            Math.floor(next() * 256),
          ),
        );
      } else if (parts.length > 0) {
        const from = Math.floor(next() * parts.length);
        parts.push(...parts.slice(from, from + 1 + Math.floor(next() * 500)));
      }
    }
    const value = [1, round, new Uint8Array(parts)];
    assert.deepStrictEqual(
      await codec.decode(await codec.encode(value)),
      value,
      `round ${round}`,
    );
  }
});

Deno.test("blosc: encoding and decoding run concurrently", async () => {
  const codec = new MsgPackBloscCodec();
  const values = Array.from(
    { length: 40 },
    (_, i) => [1, i, `message ${i} `.repeat(i * 20)],
  );
  const frames = await Promise.all(values.map((value) => codec.encode(value)));
  assert.deepStrictEqual(
    await Promise.all(frames.map((bytes) => codec.decode(bytes))),
    values,
  );
});

Deno.test("blosc: serializers work as in MsgPackCodec", async () => {
  class Point {
    constructor(public x: number, public y: number) {}
  }
  const codec = new MsgPackBloscCodec();
  codec.addSerializer(...serializable(Point, ["x", "y"]));
  const bytes = frameOf("serializable-point");
  assert.deepStrictEqual(await codec.decode(bytes), [1, 0, new Point(1, 2)]);
  assert.deepStrictEqual(
    await codec.decode(await codec.encode([1, 0, new Point(1, 2)])),
    [1, 0, new Point(1, 2)],
  );
  await assertRejects(
    new MsgPackBloscCodec().decode(bytes),
    "no serializer for typeid 0",
  );
});

Deno.test("blosc: encoding errors reject the promise", async () => {
  await assertRejects(new MsgPackBloscCodec().encode(new Date(0)), "Date");
  await assertRejects(new MsgPackBloscCodec().encode(2n ** 64n), "2^64");
});

Deno.test("blosc: an nbytes header beyond maxDecompressedSize is refused", async () => {
  const bytes = frameOf("blosc-compressed-split-2406"); // nbytes 2406
  await assertRejects(
    new MsgPackBloscCodec({ maxDecompressedSize: 2405 }).decode(bytes),
    "limit 2405",
  );
  assert.ok(
    await new MsgPackBloscCodec({ maxDecompressedSize: 2406 }).decode(bytes),
  );
  // A small frame that claims 4 GiB, compressed or memcpy.
  for (const flags of [0x01, 0x11, 0x13]) {
    await assertRejects(
      new MsgPackBloscCodec().decode(
        frame(flags, 8, 0xffffffff, 0xffffffff, new Uint8Array(64)),
      ),
      `flags ${flags}`,
    );
  }
  // The default limit is 64 MiB.
  await assertRejects(
    new MsgPackBloscCodec().decode(
      frame(0x01, 8, 64 * 1024 * 1024 + 1, 1 << 20, new Uint8Array(64)),
    ),
    "64 MiB + 1",
  );
});

Deno.test("blosc: truncated and padded frames are a SerializationError", async () => {
  for (
    const name of [
      "msg-request",
      "blosc-compressed-nosplit-606",
      "blosc-compressed-split-2406",
    ]
  ) {
    const bytes = frameOf(name);
    for (let length = 0; length < bytes.length; length++) {
      await assertRejects(
        new MsgPackBloscCodec().decode(bytes.slice(0, length)),
        `${name} cut to ${length}`,
      );
    }
    await assertRejects(
      new MsgPackBloscCodec().decode(new Uint8Array([...bytes, 0])),
      `${name} + 1 byte`,
    );
  }
});

Deno.test("blosc: frames with an impossible header are a SerializationError", async () => {
  const body = new Uint8Array(64).fill(0x41);
  const bad: [string, Uint8Array][] = [
    ["not blosc", new TextEncoder().encode('[1, 0, "not a blosc frame"]')],
    [
      "version 1",
      (() => {
        const bytes = frameOf("msg-request");
        bytes[0] = 1;
        return bytes;
      })(),
    ],
    [
      "memcpy, nbytes larger than the data",
      frame(0x13, 8, 100, 100, new Uint8Array(10)),
    ],
    [
      "memcpy, nbytes smaller than the data",
      frame(0x13, 8, 4, 4, new Uint8Array(10)),
    ],
    ["compressed, blocksize 0", frame(0x01, 8, 100, 0, body)],
    ["compressed, typesize 0", frame(0x01, 0, 100, 100, body)],
    ["compressed, block table past the end", frame(0x11, 8, 100_000, 1, body)],
    [
      "compressed, block start past the end",
      frame(0x11, 8, 100, 100, new Uint8Array([0xff, 0, 0, 0])),
    ],
    [
      "compressed, block start inside the header",
      frame(0x11, 8, 100, 100, new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0])),
    ],
    [
      "compressed, stream size past the end",
      frame(0x11, 8, 100, 100, new Uint8Array([20, 0, 0, 0, 0xff, 0, 0, 0, 1])),
    ],
    [
      "compressed, stream size 0",
      frame(0x11, 8, 100, 100, new Uint8Array([20, 0, 0, 0, 0, 0, 0, 0])),
    ],
    [
      "compressed, stream size negative",
      frame(
        0x11,
        8,
        100,
        100,
        new Uint8Array([20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
      ),
    ],
    ["bit shuffle", frame(0x05, 8, 100, 100, body)],
    ["lz4 compressor", frame(0x21, 8, 100, 100, body)],
    ["zstd compressor", frame(0x81, 8, 100, 100, body)],
    [
      "garbage streams, split",
      frame(0x01, 8, 4000, 4000, new Uint8Array(200).fill(0x7f)),
    ],
    [
      "garbage streams, not split",
      frame(0x11, 8, 1000, 1000, new Uint8Array(40).fill(0xff)),
    ],
  ];
  for (const [label, bytes] of bad) {
    await assertRejects(new MsgPackBloscCodec().decode(bytes), label);
  }
});

Deno.test("blosc: a frame with damaged streams is refused, not decoded to stale or partial data", async () => {
  const codec = new MsgPackBloscCodec();
  const value = [1, 0, "secret password ".repeat(200)];
  const good = await codec.encode(value);
  assert.deepStrictEqual(await codec.decode(good), value);
  const view = new DataView(good.buffer, good.byteOffset, good.byteLength);
  const streams = view.getUint32(16, true); // the first block's first stream
  // Every stream's data replaced by 0xff, sizes kept.
  const garbage = good.slice();
  garbage.fill(0xff, streams + 4);
  await assertRejects(codec.decode(garbage), "streams overwritten");
  // A stream size one short: the streams after it are misaligned.
  const short = good.slice();
  new DataView(short.buffer).setInt32(
    streams,
    view.getInt32(streams, true) - 1,
    true,
  );
  await assertRejects(codec.decode(short), "stream size - 1");
  // And the real aiomas frames, damaged the same ways.
  for (
    const name of [
      "blosc-compressed-nosplit-606",
      "blosc-compressed-split-2406",
      "str-len-65536",
    ]
  ) {
    const bytes = frameOf(name);
    await new MsgPackBloscCodec().decode(bytes);
    const start = new DataView(bytes.buffer).getUint32(16, true);
    const damaged = bytes.slice();
    new DataView(damaged.buffer).setInt32(
      start,
      new DataView(bytes.buffer).getInt32(start, true) - 1,
      true,
    );
    await assertRejects(
      new MsgPackBloscCodec().decode(damaged),
      `${name}: stream size - 1`,
    );
  }
});

Deno.test("blosc: a damaged last block is refused, not filled from an earlier message", async () => {
  // With a decompressor that does not report errors, the block before is
  // decoded and the damaged one keeps what the output buffer held before:
  // the end of the previous message of the same size.
  const codec = new MsgPackBloscCodec();
  const secret = [1, 0, "secret password ".repeat(200)];
  const open = [1, 0, "public knowledge".repeat(200)];
  const openFrame = await codec.encode(open);
  const view = new DataView(
    openFrame.buffer,
    openFrame.byteOffset,
    openFrame.byteLength,
  );
  const blocks = Math.ceil(view.getUint32(4, true) / view.getUint32(8, true));
  assert.ok(blocks >= 2, "the frame has a leftover block");
  const last = view.getUint32(16 + 4 * (blocks - 1), true);
  const damaged = openFrame.slice();
  new DataView(damaged.buffer).setInt32(
    last,
    view.getInt32(last, true) - 1,
    true,
  );

  assert.deepStrictEqual(
    await codec.decode(await codec.encode(secret)),
    secret,
  );
  await assertRejects(codec.decode(damaged), "last block's stream size - 1");
  assert.deepStrictEqual(await codec.decode(openFrame), open);
});

Deno.test("blosc: mutated frames decode or fail with SerializationError, nothing else", async () => {
  const next = random(42);
  const frames = vectors.map((v) => unhex(v.payload_hex));
  const codec = new MsgPackBloscCodec();
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = frames[Math.floor(next() * frames.length)].slice();
    const changes = 1 + Math.floor(next() * 4);
    for (let k = 0; k < changes; k++) {
      // Mostly past the header (whose cbytes check catches nearly everything).
      const at = next() < 0.8 && bytes.length > 16
        ? 16 + Math.floor(next() * (bytes.length - 16))
        : Math.floor(next() * bytes.length);
      bytes[at] = Math.floor(next() * 256);
    }
    try {
      await codec.decode(bytes);
    } catch (error) {
      if (!(error instanceof SerializationError)) {
        throw new assert.AssertionError({
          message: `frame ${hex(bytes)} threw ${error}`,
        });
      }
      rejected++;
    }
  }
  assert.ok(rejected > 0);
  // The codec still works afterwards.
  assert.deepStrictEqual(await codec.decode(frameOf("msg-request")), [
    0,
    0,
    "ohai",
  ]);
  assert.deepStrictEqual(
    await codec.decode(frameOf("blosc-compressed-split-2406")),
    fromNotation(vector("blosc-compressed-split-2406").value),
  );
});
