// The internal encodeParts of MsgPackCodec: large bins are referenced, not
// copied, and the parts concatenate to encode()'s bytes.
import assert from "node:assert/strict";
import { partsEncoders } from "../../codecs/_encode_parts.ts";
import { LARGE_PART } from "../../codecs/_msgpack_writer.ts";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";
import { concat } from "../_frames.ts";

function filled(size: number, byte: number): Uint8Array {
  return new Uint8Array(size).fill(byte);
}

function partsOf(codec: MsgPackCodec) {
  const encode = partsEncoders.get(codec);
  assert.ok(encode, "a MsgPackCodec encodes into parts");
  return encode;
}

Deno.test("encodeParts: the parts are encode()'s bytes, large bins referenced", () => {
  const codec = new MsgPackCodec();
  const encodeParts = partsOf(codec);
  const big = filled(1024 * 1024, 1);
  const edge = filled(LARGE_PART, 2);
  const small = filled(LARGE_PART - 1, 3);
  const values: [unknown, Uint8Array[]][] = [
    [[0, 1, ["echo", [big], {}]], [big]],
    [[1, 2, edge], [edge]],
    [[1, 3, small], []],
    [[edge, big], [edge, big]],
    [{ a: big, b: small, c: new Map([[edge, "x"]]) }, [big, edge]],
    [[1, 4, "no bytes"], []],
  ];
  for (const [value, bins] of values) {
    const before = structuredClone(value);
    const parts = encodeParts(value);
    assert.equal(parts.length, 2 * bins.length + 1);
    bins.forEach((bin, i) =>
      assert.equal(parts[2 * i + 1], bin, "the caller's array")
    );
    assert.deepEqual(concat(parts), new MsgPackCodec().encode(value));
    assert.deepEqual(value, before, "the value is not changed");
    // Large bins are not copied into the codec's buffer.
    const buffered = parts.filter((_, i) => i % 2 === 0);
    assert.ok(buffered.reduce((n, p) => n + p.length, 0) < 2 * LARGE_PART);
  }
});

Deno.test("encodeParts: a pooled buffer leaks nothing and a failed call leaves nothing behind", () => {
  const codec = new MsgPackCodec();
  const encodeParts = partsOf(codec);
  const big = filled(2 * LARGE_PART, 7);
  encodeParts([0, 1, "x".repeat(3 * LARGE_PART), big]);
  // A value that fails after a large bin was left out.
  assert.throws(() => encodeParts([big, Symbol("no")]), SerializationError);
  const parts = encodeParts([1, 2, "small"]);
  assert.equal(parts.length, 1);
  assert.deepEqual(parts[0], new MsgPackCodec().encode([1, 2, "small"]));
  assert.deepEqual(codec.encode([1, 3]), new MsgPackCodec().encode([1, 3]));
});

Deno.test("encodeParts: a serializer may encode with the same codec meanwhile", () => {
  class Blob {
    constructor(public bytes: Uint8Array) {}
  }
  const codec = new MsgPackCodec();
  codec.addSerializer(
    Blob,
    (blob) => codec.encodeView([blob.bytes]).slice(),
    (data) => new Blob((codec.decode(data as Uint8Array) as [Uint8Array])[0]),
  );
  const big = filled(LARGE_PART, 9);
  const value = [1, 0, [new Blob(big), big]];
  const parts = partsOf(codec)(value);
  // The serializer's own encoding is a large bin too, then the plain one.
  assert.equal(parts.length, 5);
  assert.equal(parts[3], big);
  assert.deepEqual(concat(parts), codec.encode(value));
  assert.deepEqual(codec.decode(concat(parts)), value);
});

Deno.test("encodeParts: not offered by a subclass that changes how it encodes", () => {
  class Custom extends MsgPackCodec {
    override encode(value: unknown): Uint8Array {
      return super.encode([value]);
    }
  }
  assert.equal(partsEncoders.get(new Custom()), undefined);
  class Plain extends MsgPackCodec {}
  assert.ok(partsEncoders.get(new Plain()));
});

Deno.test("encodeParts: one reused array without large bins, a new one that later calls leave alone with them", () => {
  const codec = new MsgPackCodec();
  const encodeParts = partsOf(codec);
  const first = encodeParts([0, 1, "a"]);
  const second = encodeParts([0, 2, "b"]);
  assert.equal(second, first, "no array per small message");
  assert.deepEqual(second, [new MsgPackCodec().encode([0, 2, "b"])]);
  const big = filled(LARGE_PART, 5);
  const withBin = encodeParts([0, 3, big]);
  assert.notEqual(withBin, first);
  const kept = [...withBin];
  assert.equal(withBin[1], big);
  encodeParts([0, 4, filled(LARGE_PART, 6)]);
  encodeParts([0, 5, "c"]);
  assert.deepEqual(withBin, kept, "a later call does not change it");
});
