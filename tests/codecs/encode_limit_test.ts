// The internal encoders that stop at a byte limit (a channel's
// maxFrameSize): they never refuse an encoding within the limit, return
// the same bytes as the public encode, and stop one far above it before
// building it.
import assert from "node:assert/strict";
import { pooledSize, takeBuffer } from "../../codecs/_buffer_pool.ts";
import {
  boundedEncoders,
  EncodeLimitError,
  viewEncoders,
} from "../../codecs/_encode_limit.ts";
import { partsEncoders } from "../../codecs/_encode_parts.ts";
import { LARGE_PART } from "../../codecs/_msgpack_writer.ts";
import {
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";
import { concat } from "../_frames.ts";

/** A seeded generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Characters of 1 to 4 UTF-8 bytes, and ones JSON escapes. */
const CHARS = ["a", "z", '"', "\\", "\n", "\x01", "é", "€", "😀", "ß"];

function text(next: () => number, length: number, ascii: boolean): string {
  if (ascii) return "q".repeat(length);
  let out = "";
  while (out.length < length) out += CHARS[Math.floor(next() * CHARS.length)];
  return out;
}

/** Strings around the writers' thresholds (32, 256, 1024, 16 Ki units). */
const LENGTHS = [0, 5, 31, 40, 255, 300, 1023, 1500, 6000, 17000, 70000];

function value(next: () => number, bytes: boolean, depth = 0): unknown {
  const pick = next();
  if (depth < 3 && pick < 0.25) {
    return Array.from(
      { length: Math.floor(next() * 5) },
      () => value(next, bytes, depth + 1),
    );
  }
  if (depth < 3 && pick < 0.35) {
    return { k: value(next, bytes, depth + 1), [`k${depth}`]: 1.5 };
  }
  if (pick < 0.75) {
    const length = LENGTHS[Math.floor(next() * LENGTHS.length)];
    return text(next, length, next() < 0.5);
  }
  if (bytes && pick < 0.9) {
    const sizes = [0, 10, 300, LARGE_PART - 1, LARGE_PART, 3 * LARGE_PART];
    return new Uint8Array(sizes[Math.floor(next() * sizes.length)]).fill(7);
  }
  return pick < 0.95 ? Math.floor(next() * 2 ** 40) : null;
}

type Limited = (value: unknown, limit: number) => Uint8Array;

/**
 * A limited encoder of a new codec (its buffer grows from 256 bytes), and
 * the public encoding it must match.
 */
type Encoder = [
  name: string,
  bytes: boolean,
  limitedOfNew: () => Limited,
  whole: (value: unknown) => Uint8Array,
];

function encoders(): Encoder[] {
  return [
    ["JSON", false, () => {
      const view = viewEncoders.get(new JsonCodec())!;
      return (v, limit) => view(v, limit).slice();
    }, (v) => new JsonCodec().encode(v)],
    ["MsgPack", true, () => {
      const parts = partsEncoders.get(new MsgPackCodec())!;
      return (v, limit) => concat(parts(v, limit));
    }, (v) => new MsgPackCodec().encode(v)],
  ];
}

for (const [name, bytes, limitedOfNew, encode] of encoders()) {
  Deno.test(`encode limit (${name}): never refused within the limit, same bytes, refused only above it`, () => {
    // One codec for the calls that must go through, whatever its buffers
    // hold from earlier calls.
    const limited = limitedOfNew();
    const next = random(1234);
    let refused = 0;
    let whole = 0;
    for (let round = 0; round < 300; round++) {
      const v = [0, round, value(next, bytes)];
      const expected = encode(v);
      const n = expected.length;
      assert.deepEqual(limited(v, n), expected, `round ${round} at ${n}`);
      assert.deepEqual(limited(v, Infinity), expected);
      // Just below (where reservations run ahead of the bytes), and far.
      const below = [n - 1, n - 2, n - 5, n - 9, n - 300, n >> 1, 10];
      for (const limit of below) {
        if (limit < 1) continue;
        // A new codec: the check is where the buffer grows, and a buffer
        // already larger than the limit (kept from earlier messages) is
        // filled first.
        let got: Uint8Array;
        try {
          got = limitedOfNew()(v, limit);
        } catch (error) {
          assert.ok(error instanceof EncodeLimitError, String(error));
          assert.ok(error instanceof SerializationError);
          assert.equal(error.limit, limit);
          refused++;
          continue;
        }
        // Not stopped: then the whole encoding, which the caller refuses.
        assert.deepEqual(got, expected, `round ${round} at ${limit} of ${n}`);
        whole++;
      }
    }
    // Both happen: stops, and encodings just past the limit left to the
    // caller's check.
    assert.ok(refused > 300 && whole > 50, `${refused} refused, ${whole} not`);
    // After all that, the codec still encodes as before.
    assert.deepEqual(limited([1, "x"], 100), encode([1, "x"]));
  });

  Deno.test(`encode limit (${name}): a message far above it stops near the limit, its buffers go back to the pool`, () => {
    const limited = limitedOfNew();
    const limit = 256 * 1024;
    // 4 MB of encoding, 4 KiB of heap.
    const big = Array(1000).fill("y".repeat(4096));
    while (pooledSize() > 0) takeBuffer(1);
    assert.throws(() => limited(big, limit), EncodeLimitError);
    const pooled = pooledSize();
    // The buffers above 64 KiB it took are back, and none above twice the
    // limit was ever taken (encoding all of it grows to 4 MiB, pooled
    // too).
    assert.ok(pooled > 0, "its pooled buffer is given back");
    assert.ok(pooled <= 4 * limit, `${pooled} bytes pooled`);
    takeBuffer(2 * limit + 1);
    assert.equal(pooledSize(), pooled, "no pooled buffer above 2 × limit");
    // The next message uses the writer's own small buffer again.
    assert.deepEqual(limited([1, "ok"], limit), encode([1, "ok"]));
  });
}

Deno.test("encode limit (MsgPack): the bins encodeParts leaves out count", () => {
  const codec = new MsgPackCodec();
  const parts = partsEncoders.get(codec)!;
  const bin = new Uint8Array(1024 * 1024);
  // 100 MiB of bins: refused at the 17th, before any is copied.
  assert.throws(() => parts(Array(100).fill(bin), 16 * 1024 * 1024), (
    error: unknown,
  ) => {
    assert.ok(error instanceof EncodeLimitError);
    assert.equal(error.limit, 16 * 1024 * 1024);
    return true;
  });
  const sixteen = Array(15).fill(bin);
  const n = concat(parts(sixteen)).length;
  assert.equal(concat(parts(sixteen, n)).length, n);
  assert.throws(() => parts(sixteen, n - 1), EncodeLimitError);
});

Deno.test("encode limit (MsgPack): a string's room (3 bytes a unit) is cut at the limit, and a string that does not fit in it is refused", () => {
  // Up to 8 MiB buffers grow in powers of two, which leaves room past the
  // limit; above, to the size asked for.
  for (const s of ["a", "é", "😀"].map((c) => c.repeat(5_000_000 / c.length))) {
    const v = [s];
    const expected = new MsgPackCodec().encode(v);
    const n = expected.length;
    for (const limit of [n, n + 1, n - 1, n - 2, n - 5, n - 9, n - 100]) {
      // A new codec: its buffer grows from 256 bytes for the string.
      const parts = partsEncoders.get(new MsgPackCodec())!;
      let got: Uint8Array;
      try {
        got = concat(parts(v, limit));
      } catch (error) {
        assert.ok(error instanceof EncodeLimitError, String(error));
        assert.ok(limit < n, `${s[0]}: refused at ${limit} of ${n}`);
        continue;
      }
      assert.deepEqual(got, expected);
      // Past the limit by less than the slack (and the header's shrink).
      assert.ok(limit >= n - 8, `${s[0]}: not refused at ${limit} of ${n}`);
    }
  }
});

Deno.test("encode limit: a serializer's own encode is not limited, what it returns counts", () => {
  class Blob {
    constructor(public text: string) {}
  }
  const codec = new MsgPackCodec();
  codec.addSerializer(
    Blob,
    (blob) => codec.encode(blob.text),
    (data) => new Blob(codec.decode(data as Uint8Array) as string),
  );
  const parts = partsEncoders.get(codec)!;
  const value = [new Blob("z".repeat(200000))];
  const n = codec.encode(value).length;
  assert.equal(concat(parts(value, n)).length, n);
  assert.throws(() => parts(value, 100000), EncodeLimitError);
});

Deno.test("encode limit: the public encode methods have none", async () => {
  const big = Array(100).fill("w".repeat(100000));
  const json = new JsonCodec();
  assert.ok(json.encode(big).length > 10_000_000);
  assert.ok(json.encodeView(big).length > 10_000_000);
  const msgpack = new MsgPackCodec();
  assert.ok(msgpack.encode(big).length > 10_000_000);
  assert.ok(msgpack.encodeView(big).length > 10_000_000);
  const blosc = new MsgPackBloscCodec({ maxDecompressedSize: 1024 * 1024 });
  assert.ok((await blosc.encode(big)).length > 0);
});

Deno.test("encode limit: MsgPack+Blosc bounds what it compresses by its maxDecompressedSize", async () => {
  const codec = new MsgPackBloscCodec({ maxDecompressedSize: 256 * 1024 });
  const encode = boundedEncoders.get(codec)!;
  await assert.rejects(
    encode(Array(1000).fill("b".repeat(4096))),
    (error: unknown) => {
      assert.ok(error instanceof EncodeLimitError);
      assert.equal(error.limit, 256 * 1024);
      return true;
    },
  );
  const value = [1, "b".repeat(200 * 1024)];
  assert.deepEqual(await codec.decode(await encode(value)), value);
});

Deno.test("encode limit: MsgPack+Blosc refuses an encoding above its bound that fit the writer's buffer (it stops only where the buffer grows)", async () => {
  // 5000 × 9 bytes: 50 003 bytes of MsgPack, in a buffer grown to 64 KiB
  // while the encoding was still under the bound.
  const bound = 40_000;
  const value = Array(5000).fill("abcdefghi");
  assert.equal(new MsgPackCodec().encode(value).length, 50_003);
  const encode = boundedEncoders.get(
    new MsgPackBloscCodec({ maxDecompressedSize: bound }),
  )!;
  await assert.rejects(encode(value), (error: unknown) => {
    assert.ok(error instanceof EncodeLimitError);
    assert.equal(error.limit, bound);
    return true;
  });
  // Exactly the bound (a str16 of 39 997 bytes) still goes, one more not.
  const codec = new MsgPackBloscCodec({ maxDecompressedSize: bound });
  const fits = "f".repeat(bound - 3);
  assert.equal(await codec.decode(await encode(fits)), fits);
  await assert.rejects(encode(fits + "f"), EncodeLimitError);
});

Deno.test("encode limit: not offered by subclasses that change how they encode", () => {
  class Json extends JsonCodec {
    override encode(value: unknown): Uint8Array {
      return super.encode([value]);
    }
  }
  class JsonView extends JsonCodec {
    override encodeView(value: unknown): Uint8Array {
      return super.encodeView([value]);
    }
  }
  class Blosc extends MsgPackBloscCodec {
    override encode(value: unknown): Promise<Uint8Array> {
      return super.encode([value]);
    }
  }
  assert.equal(viewEncoders.get(new Json()), undefined);
  assert.equal(viewEncoders.get(new JsonView()), undefined);
  assert.equal(boundedEncoders.get(new Blosc()), undefined);
  assert.ok(viewEncoders.get(new (class extends JsonCodec {})()));
  assert.ok(boundedEncoders.get(new (class extends MsgPackBloscCodec {})()));
});
