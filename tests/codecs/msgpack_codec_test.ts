import assert from "node:assert/strict";
import { Float64, MsgPackCodec } from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";
import { hex, nested, unhex } from "./_vectors.ts";

const encode = (value: unknown, codec = new MsgPackCodec()): string =>
  hex(codec.encode(value) as Uint8Array);
const decode = (bytes: string, codec = new MsgPackCodec()): unknown =>
  codec.decode(unhex(bytes));

Deno.test("msgpack: name is msgpack", () => {
  assert.equal(new MsgPackCodec().name, "msgpack");
});

Deno.test("msgpack: integers use the smallest format, as msgpack-python does", () => {
  const cases: [number, string][] = [
    [0, "00"],
    [127, "7f"],
    [128, "cc80"],
    [255, "ccff"],
    [256, "cd0100"],
    [65535, "cdffff"],
    [65536, "ce00010000"],
    [2 ** 32 - 1, "ceffffffff"],
    [-1, "ff"],
    [-32, "e0"],
    [-33, "d0df"],
    [-128, "d080"],
    [-129, "d1ff7f"],
    [-32768, "d18000"],
    [-32769, "d2ffff7fff"],
    [-(2 ** 31), "d280000000"],
  ];
  for (const [value, bytes] of cases) {
    assert.equal(encode(value), bytes, String(value));
    assert.equal(decode(bytes), value, bytes);
  }
});

Deno.test("msgpack: integers from 2^32 to 2^53 stay integers (uint64/int64, never float64)", () => {
  const cases: [number, string][] = [
    [2 ** 32, "cf0000000100000000"],
    [2 ** 40 + 5, "cf0000010000000005"],
    [2 ** 53 - 1, "cf001fffffffffffff"],
    [2 ** 53, "cf0020000000000000"],
    [-(2 ** 31) - 1, "d3ffffffff7fffffff"],
    [-(2 ** 32), "d3ffffffff00000000"],
    [-(2 ** 53), "d3ffe0000000000000"],
  ];
  for (const [value, bytes] of cases) {
    assert.equal(encode(value), bytes, String(value));
    assert.equal(decode(bytes), value, bytes);
  }
});

Deno.test("msgpack: bigint beyond 2^53 both ways", () => {
  const cases: [bigint, string][] = [
    [2n ** 53n + 1n, "cf0020000000000001"],
    [2n ** 63n - 1n, "cf7fffffffffffffff"],
    [2n ** 63n, "cf8000000000000000"],
    [2n ** 64n - 1n, "cfffffffffffffffff"],
    [-(2n ** 53n) - 1n, "d3ffdfffffffffffff"],
    [-(2n ** 63n), "d38000000000000000"],
  ];
  for (const [value, bytes] of cases) {
    assert.equal(encode(value), bytes, String(value));
    assert.equal(decode(bytes), value, bytes);
  }
  // Small bigints are plain integers and come back as numbers.
  assert.equal(encode(5n), "05");
  assert.equal(encode(-(2n ** 53n)), "d3ffe0000000000000");
  assert.equal(decode("cf0000000000000005"), 5);
  assert.equal(decode("d3fffffffffffffffb"), -5);
  // Beyond 64 bits there is no msgpack integer.
  for (const value of [2n ** 64n, -(2n ** 63n) - 1n, 10n ** 30n]) {
    assert.throws(
      () => new MsgPackCodec().encode(value),
      SerializationError,
      String(value),
    );
  }
});

Deno.test("msgpack: floats are float64; -0, Float64 and inexact integers too", () => {
  assert.equal(encode(0.5), "cb3fe0000000000000");
  assert.equal(encode(-0), "cb8000000000000000");
  assert.ok(Object.is(decode("cb8000000000000000"), -0));
  assert.equal(encode(new Float64(1)), "cb3ff0000000000000");
  assert.equal(encode(new Float64(-0)), "cb8000000000000000");
  assert.equal(encode(NaN), "cb7ff8000000000000");
  assert.equal(encode(Infinity), "cb7ff0000000000000");
  assert.equal(encode(-Infinity), "cbfff0000000000000");
  // A JS number beyond 2^53 is not exact: a float (use bigint for integers).
  assert.equal(encode(2 ** 60), "cb43b0000000000000");
  assert.equal(decode("cb3ff0000000000000"), 1);
  assert.ok(Number.isNaN(decode("cb7ff8000000000000")));
});

Deno.test("msgpack: float32 from other peers decodes exactly", () => {
  assert.equal(decode("ca3fc00000"), 1.5);
  assert.equal(decode("ca3dcccccd"), Math.fround(0.1));
});

Deno.test("msgpack: strings are str with the smallest header, by UTF-8 length", () => {
  const header = (length: number): string =>
    length < 32
      ? (0xa0 | length).toString(16)
      : length < 0x100
      ? "d9" + length.toString(16).padStart(2, "0")
      : length < 0x10000
      ? "da" + length.toString(16).padStart(4, "0")
      : "db" + length.toString(16).padStart(8, "0");
  const strings = [
    "",
    "a",
    "a".repeat(31),
    "a".repeat(32),
    "é".repeat(15), // 30 bytes from 15 chars
    "é".repeat(16), // 32 bytes from 16 chars
    "€".repeat(10), // 30 bytes
    "€".repeat(11), // 33 bytes from 11 chars
    "a".repeat(30) + "é", // 32 bytes
    "😀".repeat(8), // 32 bytes from 16 UTF-16 units
    "a".repeat(255),
    "a".repeat(256),
    "é".repeat(127) + "a", // 255 bytes
    "é".repeat(128), // 256 bytes
    "€".repeat(21845), // 65535 bytes
    "€".repeat(21846), // 65538 bytes
    "a".repeat(65535),
    "a".repeat(65536),
  ];
  for (const s of strings) {
    const utf8 = new TextEncoder().encode(s);
    const bytes = new MsgPackCodec().encode(s) as Uint8Array;
    const label = `${JSON.stringify(s.slice(0, 4))}… (${s.length} chars)`;
    assert.equal(
      hex(bytes.subarray(0, bytes.length - utf8.length)),
      header(utf8.length),
      label,
    );
    assert.equal(
      hex(bytes.subarray(bytes.length - utf8.length)),
      hex(utf8),
      label,
    );
    assert.equal(
      new MsgPackCodec().decode(bytes),
      s === "\ud800" ? "\ufffd" : s,
      label,
    );
  }
});

Deno.test("msgpack: short strings decode right whatever their length and wherever a non-ASCII or bad byte is", () => {
  // Strings up to 64 bytes are decoded by hand while they are ASCII.
  const codec = new MsgPackCodec();
  for (let length = 0; length <= 70; length++) {
    const ascii = Array.from(
      { length },
      (_, i) => String.fromCharCode(0x20 + (i * 7) % 95),
    ).join("");
    assert.equal(codec.decode(codec.encode(ascii) as Uint8Array), ascii);
    for (let at = 0; at < length; at++) {
      const mixed = ascii.slice(0, at) + "é" + ascii.slice(at + 1);
      assert.equal(
        codec.decode(codec.encode(mixed) as Uint8Array),
        mixed,
        `"é" at ${at} of ${length}`,
      );
      // 0xff is never valid UTF-8, and 0x80 alone neither.
      for (const bad of [0xff, 0x80]) {
        const bytes = codec.encode(ascii) as Uint8Array;
        bytes[bytes.length - length + at] = bad;
        assert.throws(
          () => codec.decode(bytes),
          SerializationError,
          `0x${bad.toString(16)} at ${at} of ${length}`,
        );
      }
    }
  }
});

Deno.test("msgpack: bytes are bin, strings are str, and they stay apart", () => {
  assert.equal(encode(new Uint8Array([1, 2])), "c4020102");
  assert.equal(encode("ab"), "a26162");
  assert.equal(encode(new Uint8Array(256)).slice(0, 6), "c50100");
  assert.equal(encode(new Uint8Array(65536)).slice(0, 10), "c600010000");
  // A view encodes only its own bytes.
  assert.equal(encode(new Uint8Array([9, 1, 2, 9]).subarray(1, 3)), "c4020102");
  const decoded = decode("92a26162c4026162") as unknown[];
  assert.deepStrictEqual(decoded, ["ab", new Uint8Array([0x61, 0x62])]);
  assert.equal(Object.getPrototypeOf(decoded[1]), Uint8Array.prototype);
});

Deno.test("msgpack: decoded bytes are a copy of the input", () => {
  const input = unhex("c403010203");
  const value = new MsgPackCodec().decode(input) as Uint8Array;
  input.fill(0);
  assert.deepStrictEqual(value, new Uint8Array([1, 2, 3]));
});

Deno.test("msgpack: undefined is nil, and object fields that are undefined are left out", () => {
  assert.equal(encode(undefined), "c0");
  assert.equal(encode([undefined, null]), "92c0c0");
  assert.equal(encode({ a: undefined, b: 1 }), "81a16201");
});

Deno.test("msgpack: Maps with integer keys stay Maps; string-keyed maps are objects", () => {
  const map = new Map<unknown, unknown>([[1, "a"], [2, "b"], [-1, "c"], [
    300,
    "d",
  ]]);
  assert.equal(encode(map), "8401a16102a162ffa163cd012ca164");
  assert.deepStrictEqual(decode("8401a16102a162ffa163cd012ca164"), map);
  const mixed = new Map<unknown, unknown>([["a", 1], [2, "b"], [1.5, true], [
    2n ** 60n,
    null,
  ]]);
  assert.deepStrictEqual(
    new MsgPackCodec().decode(new MsgPackCodec().encode(mixed) as Uint8Array),
    mixed,
  );
  assert.deepStrictEqual(decode("82a16101a16202"), { a: 1, b: 2 });
  assert.deepStrictEqual(
    new MsgPackCodec().decode(
      new MsgPackCodec().encode(new Map([["a", 1]])) as Uint8Array,
    ),
    {
      a: 1,
    },
  );
  // Integer keys are not turned into strings.
  const decoded = decode("8101a161") as Map<unknown, unknown>;
  assert.ok(decoded instanceof Map);
  assert.equal(decoded.get(1), "a");
  assert.equal(decoded.get("1"), undefined);
});

Deno.test("msgpack: object key order is kept", () => {
  const bytes = encode({ b: 1, a: 2, c: 3 });
  assert.equal(bytes, "83a16201a16102a16303");
  assert.deepStrictEqual(Object.keys(decode(bytes) as object), ["b", "a", "c"]);
});

Deno.test("msgpack: a __proto__ key stays data", () => {
  // {"__proto__": {"polluted": 1}, "a": 1}
  const value = decode(
    "82a95f5f70726f746f5f5f81a8706f6c6c75746564" + "01a16101",
  ) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.ok(Object.hasOwn(value, "__proto__"));
  assert.deepStrictEqual(
    Object.getOwnPropertyDescriptor(value, "__proto__")?.value,
    { polluted: 1 },
  );
  assert.equal((value as { polluted?: unknown }).polluted, undefined);
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  assert.equal(value.a, 1);
  // It encodes back as a key.
  assert.equal(
    encode(value),
    "82a95f5f70726f746f5f5f81a8706f6c6c75746564" + "01a16101",
  );
});

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

Deno.test("msgpack: a serializer may encode with the same codec while encoding", () => {
  class Inner {
    constructor(public value: unknown) {}
  }
  const codec = new MsgPackCodec();
  codec.addSerializer(
    Inner,
    (inner) => codec.encode(inner.value),
    (data) => new Inner(codec.decode(data as Uint8Array)),
  );
  const value = [1, 0, new Inner([new Inner("x"), 2])];
  assert.deepStrictEqual(
    codec.decode(codec.encode(value) as Uint8Array),
    value,
  );
});

Deno.test("msgpack: a string that starts with U+FEFF keeps it", () => {
  for (const s of ["\ufeff", "\ufeffabc", "\ufeff" + "x".repeat(40)]) {
    assert.equal(
      new MsgPackCodec().decode(new MsgPackCodec().encode(s) as Uint8Array),
      s,
    );
  }
});

Deno.test("msgpack: a __type__ key is resolved in maps with other keys too", () => {
  const codec = new MsgPackCodec();
  codec.addSerializer(class Tag {}, () => null, (data) => ({ tag: data }));
  // {"__type__": [0, "x"], 1: 2}: Python's object_hook sees every map.
  assert.deepStrictEqual(
    codec.decode(unhex("82a85f5f747970655f5f9200a178" + "0102")),
    { tag: "x" },
  );
  assert.deepStrictEqual(
    codec.decode(unhex("82a85f5f747970655f5f9200a178" + "a16102")),
    { tag: "x" },
  );
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

Deno.test("msgpack: every fixed-size integer format decodes, whatever its sign bits", () => {
  const cases: [string, number][] = [
    ["d07f", 127],
    ["d0ff", -1],
    ["d17fff", 32767],
    ["d1ffff", -1],
    ["d27fffffff", 2147483647],
    ["d2ffffffff", -1],
    ["cc80", 128],
    ["cd8000", 32768],
    ["ce80000000", 2147483648],
    ["ceffffffff", 4294967295],
  ];
  for (const [bytes, value] of cases) assert.equal(decode(bytes), value, bytes);
});

Deno.test("msgpack: encodeView gives encode's bytes in a buffer reused by the next call", () => {
  const codec = new MsgPackCodec();
  const first = codec.encodeView([0, 1, "first"]);
  assert.deepEqual(first, codec.encode([0, 1, "first"]));
  const copy = first.slice();
  const second = codec.encodeView([0, 2, "second!"]);
  assert.deepEqual(second, codec.encode([0, 2, "second!"]));
  assert.equal(first.buffer, second.buffer, "the buffer is reused");
  assert.deepEqual(codec.decode(copy), [0, 1, "first"]);
});

Deno.test("msgpack: a serializer may encode with the same codec while encodeView runs", () => {
  class Inner {
    constructor(public value: unknown) {}
  }
  const codec = new MsgPackCodec();
  codec.addSerializer(
    Inner,
    (inner) => codec.encodeView(inner.value).slice(),
    (data) => new Inner(codec.decode(data as Uint8Array)),
  );
  const value = [1, 0, new Inner([new Inner("x"), 2])];
  const bytes = codec.encodeView(value).slice();
  assert.deepEqual(bytes, codec.encode(value));
  assert.deepStrictEqual(codec.decode(bytes), value);
});
