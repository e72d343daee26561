// MsgPackCodec scalars: integers, bigints and floats in msgpack-python's
// formats, strings (UTF-8 headers and decoding) and bytes as bin.
import assert from "node:assert/strict";
import { Float64, MsgPackCodec } from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";
import { decode, encode } from "./_msgpack_codec_hex.ts";
import { hex, unhex } from "./_vectors.ts";

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

Deno.test("msgpack: a string that starts with U+FEFF keeps it", () => {
  for (const s of ["\ufeff", "\ufeffabc", "\ufeff" + "x".repeat(40)]) {
    assert.equal(
      new MsgPackCodec().decode(new MsgPackCodec().encode(s) as Uint8Array),
      s,
    );
  }
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
