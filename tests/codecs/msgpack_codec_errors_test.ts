// MsgPackCodec refusals, each a SerializationError: nesting beyond maxDepth,
// cycles, values it cannot encode, and malformed or unsupported input.
import assert from "node:assert/strict";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";
import { decode, encode } from "./_msgpack_codec_hex.ts";
import { nested, unhex } from "./_vectors.ts";

Deno.test("msgpack: maxDepth limits nesting on encode and decode", () => {
  const codec = new MsgPackCodec({ maxDepth: 3 });
  assert.equal(encode(nested(3), codec), "91919100");
  assert.throws(() => codec.encode(nested(4)), SerializationError);
  assert.throws(
    () => codec.encode({ a: { b: { c: {} } } }),
    SerializationError,
  );
  assert.throws(
    () =>
      codec.encode(new Map([[1, new Map([[1, new Map([[1, new Map()]])]])]])),
    SerializationError,
  );
  assert.deepStrictEqual(decode("91919100", codec), nested(3));
  assert.throws(() => decode("9191919100", codec), SerializationError);
  assert.throws(
    () => decode("81a16181a16281a16380", codec),
    SerializationError,
  );
  assert.throws(() => decode("810181018101" + "80", codec), SerializationError);
});

Deno.test("msgpack: very deep input fails cleanly, without a stack overflow", () => {
  assert.throws(
    () => new MsgPackCodec().decode(unhex("91".repeat(200_000) + "c0")),
    SerializationError,
  );
  assert.throws(
    () => new MsgPackCodec().decode(unhex("81a161".repeat(100_000) + "c0")),
    SerializationError,
  );
  assert.throws(
    () => new MsgPackCodec().encode(nested(100_000)),
    SerializationError,
  );
  // The codec still works afterwards.
  assert.deepStrictEqual(decode("930100c0"), [1, 0, null]);
});

Deno.test("msgpack: a cycle on encode is a SerializationError", () => {
  const array: unknown[] = [1];
  array.push(array);
  assert.throws(() => new MsgPackCodec().encode(array), SerializationError);
  const object: Record<string, unknown> = {};
  object.self = object;
  assert.throws(
    () => new MsgPackCodec().encode([0, 0, object]),
    SerializationError,
  );
  const map = new Map<number, unknown>();
  map.set(1, map);
  assert.throws(() => new MsgPackCodec().encode(map), SerializationError);
  // The codec still works afterwards (its buffer is reused).
  assert.equal(encode([1, 0, "x"]), "930100a178");
});

Deno.test("msgpack: symbols, functions and unregistered objects cannot be encoded", () => {
  for (
    const value of [
      Symbol("s"),
      () => 1,
      new Date(0),
      new Set([1]),
      new Int8Array(2),
      new (class Foo {})(),
    ]
  ) {
    assert.throws(
      () => new MsgPackCodec().encode([value]),
      SerializationError,
      String(value),
    );
  }
});

Deno.test("msgpack: truncated, trailing and garbage bytes are a SerializationError", () => {
  const bad = [
    "", // nothing
    "93", // array without items
    "930100", // array with 2 of 3 items
    "a56162", // str shorter than its header
    "c405", // bin without data
    "cd01", // uint16 with one byte
    "ce0001", // uint32 with two bytes
    "cf00000000", // uint64 with four bytes
    "cb3ff0", // float64 with two bytes
    "dc00", // array16 header cut
    "dd7fffffff", // array32 claiming 2^31 items
    "df7fffffff", // map32 claiming 2^31 entries
    "db7fffffff61", // str32 claiming 2 GiB
    "c6ffffffff", // bin32 claiming 4 GiB
    "82a16101", // map with 1 of 2 entries
    "81a161", // map key without value
    "930100c0ff", // a trailing byte
    "c0c0", // two values
    "c1", // the never-used byte
  ];
  for (const bytes of bad) {
    assert.throws(() => decode(bytes), SerializationError, bytes);
  }
  // The codec still works afterwards.
  assert.deepStrictEqual(decode("930100c0"), [1, 0, null]);
});

Deno.test("msgpack: invalid UTF-8 in a str is a SerializationError", () => {
  const bad = [
    "a1ff", // never valid
    "a2c0af", // overlong "/"
    "a3eda080", // a UTF-8 encoded surrogate
    "a2e282", // a sequence cut short
    "a1e2", // a sequence cut short by the end of the string
    "a4f4908080", // beyond U+10FFFF
    "d928" + "61".repeat(39) + "ff", // str8 with a bad last byte
    "da0100" + "61".repeat(255) + "ff", // str16 with a bad last byte
    "81a2ffff01", // a bad map key
    "8101a1ff", // a bad value under an integer key
  ];
  for (const bytes of bad) {
    assert.throws(() => decode(bytes), SerializationError, bytes);
  }
  // Valid multi-byte UTF-8 (and U+FFFD itself) is fine.
  assert.equal(decode("a3efbfbd"), "\ufffd");
  assert.equal(decode("a4f09f9880"), "😀");
});

Deno.test("msgpack: extension types are a SerializationError", () => {
  const exts = [
    "d6ffffffffff", // timestamp 32
    "d7ff0000000000000001", // timestamp 64
    "c70cff" + "00".repeat(12), // timestamp 96
    "d40000", // fixext1 type 0 (msgpackr's undefined)
    "d40100", // fixext1 type 1
    "d5010000", // fixext2
    "d801" + "00".repeat(16), // fixext16
    "c70205aabb", // ext8
    "c8000105aa", // ext16
    "c90000000105aa", // ext32
    "d44205", // msgpackr bigint (0x42)
    "d5420005", // msgpackr bigint (0x42)
    "d473" + "91", // msgpackr Set (0x73) followed by its array
    "d4739101", // msgpackr Set with an item
    "c70065" + "92a54572726f72a0", // msgpackr Error (0x65) + [name, message]
    "c70378" + "92a161a0", // msgpackr RegExp (0x78)
    "c70274" + "0101", // msgpackr typed array (0x74): Uint8Array
    "c70574" + "0700000000", // msgpackr typed array (0x74): Float32Array
    "d46900" + "90", // msgpackr structured-clone id (0x69)
    "d47200" + "91a161" + "40" + "01", // msgpackr record definition (0x72) then a record
    "d46200", // msgpackr bundled strings (0x62)
    "92" + "01" + "d6ffffffffff", // nested in an array
    "81a161" + "d44205", // nested in a map
  ];
  for (const bytes of exts) {
    assert.throws(() => decode(bytes), SerializationError, bytes);
  }
  // Positive fixints 0x40-0x7f are plain integers (never msgpackr records).
  assert.deepStrictEqual(decode("92407f"), [64, 127]);
});

Deno.test("msgpack: a string with a lone surrogate is refused, not changed", () => {
  for (const s of ["\ud800", "a\udc00b", "😀".slice(0, 1) + "x".repeat(40)]) {
    assert.throws(
      () => new MsgPackCodec().encode([1, 0, s]),
      SerializationError,
      JSON.stringify(s),
    );
  }
  // Well-formed astral characters are fine.
  assert.deepEqual(
    new MsgPackCodec().decode(new MsgPackCodec().encode("😀")),
    "😀",
  );
});
