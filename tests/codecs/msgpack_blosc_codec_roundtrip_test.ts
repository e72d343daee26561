// MsgPackBloscCodec on good input: the aiomas frames of every flag kind
// decode, values round-trip (also concurrently) and serializers work.
import assert from "node:assert/strict";
import {
  type Codec,
  MsgPackBloscCodec,
  MsgPackCodec,
  serializable,
} from "../../codecs/mod.ts";
import { fromNotation } from "./_vectors.ts";
import {
  assertRejects,
  frameOf,
  random,
  vector,
} from "./_msgpack_blosc_codec_frames.ts";

function randomBytes(next: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(next() * 256));
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
