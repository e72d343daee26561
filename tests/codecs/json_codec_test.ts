// JsonCodec's values: numbers, bigints, floats, strings, maps and what
// cannot be encoded, as Python's json reads and writes them.
import assert from "node:assert/strict";
import { Float64, JsonCodec } from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array | Promise<Uint8Array>): string =>
  new TextDecoder().decode(bytes as Uint8Array);
const decodeText = (source: string, codec = new JsonCodec()): unknown =>
  codec.decode(utf8.encode(source));
const encodeText = (value: unknown, codec = new JsonCodec()): string =>
  text(codec.encode(value));

Deno.test("json: name is json", () => {
  assert.equal(new JsonCodec().name, "json");
});

Deno.test("json: integers beyond 2^53 decode to bigint, exactly", () => {
  // Number("9007199254740993") is 2^53: the digits must be read exactly.
  assert.deepStrictEqual(
    decodeText("[9007199254740993, -9007199254740993, 18446744073709551617]"),
    [2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 64n + 1n],
  );
  assert.deepStrictEqual(decodeText("[9007199254740992, -9007199254740992]"), [
    2 ** 53,
    -(2 ** 53),
  ]);
  assert.deepStrictEqual(
    decodeText("123456789012345678901234567890"),
    123456789012345678901234567890n,
  );
  // Long float literals stay floats.
  assert.deepStrictEqual(
    decodeText("[1234567890123456789.0, 1e400, 0.12345678901234567890]"),
    [
      1234567890123456789,
      Infinity,
      0.12345678901234568,
    ],
  );
});

Deno.test("json: bigint encodes as integer digits of any size", () => {
  assert.equal(
    encodeText([2n ** 64n + 1n, -(2n ** 63n), 5n]),
    "[18446744073709551617,-9223372036854775808,5]",
  );
  // Round trip: small bigints come back as numbers, big ones as bigint.
  assert.deepStrictEqual(decodeText(encodeText([5n, 2n ** 100n])), [
    5,
    2n ** 100n,
  ]);
});

Deno.test("json: integral numbers up to 2^53 are integers, beyond are floats", () => {
  assert.equal(
    encodeText([0, -1, 2 ** 53, -(2 ** 53)]),
    "[0,-1,9007199254740992,-9007199254740992]",
  );
  // A JS number beyond 2^53 is not exact: it goes as a float (use bigint for integers).
  assert.equal(encodeText(2 ** 60), "1152921504606847000.0"); // the shortest form that reads back exactly
  assert.equal(decodeText(encodeText(2 ** 60)), 2 ** 60);
  assert.equal(encodeText(1e21), "1e+21");
});

Deno.test("json: -0 and Float64 go out as floats", () => {
  assert.equal(encodeText(-0), "-0.0");
  assert.ok(Object.is(decodeText("-0.0"), -0));
  assert.equal(
    encodeText([new Float64(1), new Float64(-2), new Float64(0.5)]),
    "[1.0,-2.0,0.5]",
  );
  assert.equal(encodeText(new Float64(1e20)), "100000000000000000000.0");
  assert.equal(encodeText(new Float64(-0)), "-0.0");
  // Decoders never return Float64.
  assert.deepStrictEqual(decodeText("[1.0, 2.5]"), [1, 2.5]);
});

Deno.test("json: NaN and ±Infinity are bare tokens both ways", () => {
  assert.equal(
    encodeText([NaN, Infinity, -Infinity, new Float64(NaN)]),
    "[NaN,Infinity,-Infinity,NaN]",
  );
  assert.deepStrictEqual(decodeText("[NaN, Infinity, -Infinity]"), [
    NaN,
    Infinity,
    -Infinity,
  ]);
  assert.deepStrictEqual(decodeText('{"a": NaN, "b": [-Infinity]}'), {
    a: NaN,
    b: [-Infinity],
  });
  // The tokens inside strings are text.
  assert.deepStrictEqual(decodeText('["NaN", NaN, "Infinity"]'), [
    "NaN",
    NaN,
    "Infinity",
  ]);
  // Only Python's exact spellings.
  for (
    const bad of [
      "nan",
      "[inf]",
      "[+Infinity]",
      "[-NaN]",
      "[Infinity1]",
      "[NaNa]",
    ]
  ) {
    assert.throws(() => decodeText(bad), SerializationError, bad);
  }
});

Deno.test("json: undefined is null, and object fields that are undefined are left out", () => {
  assert.equal(encodeText(undefined), "null");
  assert.equal(encodeText([undefined, 1]), "[null,1]");
  assert.equal(encodeText({ a: undefined, b: 1 }), '{"b":1}');
});

Deno.test("json: a __proto__ key stays data (fast and full parser)", () => {
  const sources = [
    '{"__proto__": {"polluted": 1}, "a": 1}', // JSON.parse path
    '{"__proto__": {"polluted": 1}, "a": NaN}', // NaN: the full parser
    '{"__proto__": {"polluted": 1}, "a": 12345678901234567890}', // long integer: the full parser
  ];
  for (const source of sources) {
    const value = decodeText(source) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(value), Object.prototype, source);
    assert.ok(Object.hasOwn(value, "__proto__"), source);
    assert.deepStrictEqual(
      Object.getOwnPropertyDescriptor(value, "__proto__")?.value,
      { polluted: 1 },
    );
    assert.equal((value as { polluted?: unknown }).polluted, undefined, source);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined, source);
  }
  // And it encodes back as a key.
  const value = decodeText('{"__proto__": [1]}');
  assert.equal(encodeText(value), '{"__proto__":[1]}');
});

Deno.test("json: bytes cannot be encoded", () => {
  assert.throws(
    () => new JsonCodec().encode(new Uint8Array([1, 2])),
    SerializationError,
  );
  assert.throws(
    () => new JsonCodec().encode([1, 0, { data: new Uint8Array(0) }]),
    SerializationError,
  );
});

Deno.test("json: symbols, functions and unregistered objects cannot be encoded", () => {
  for (
    const value of [
      Symbol("s"),
      () => 1,
      new Date(0),
      new Set([1]),
      new (class Foo {})(),
    ]
  ) {
    assert.throws(
      () => new JsonCodec().encode([value]),
      SerializationError,
      String(value),
    );
  }
});

Deno.test("json: a Map encodes as an object with string keys, as Python's json does", () => {
  assert.equal(
    encodeText(new Map<unknown, unknown>([[1, "a"], ["b", 2]])),
    '{"1":"a","b":2}',
  );
  assert.deepStrictEqual(
    decodeText(encodeText(new Map([[1, "a"], [2, "b"]]))),
    { 1: "a", 2: "b" },
  );
  assert.throws(
    () => new JsonCodec().encode(new Map([[[1], "a"]])),
    SerializationError,
  );
  assert.throws(
    () => new JsonCodec().encode(new Map([[Symbol("k"), "a"]])),
    SerializationError,
  );
});

Deno.test("json: object keys that need escaping", () => {
  const value = {
    'a"b': 1,
    "c\\d": 2,
    "e\nf": 3,
    "ü€😀": 4,
    "a/b-c.d e_1": 5,
    "": 6,
  };
  assert.deepStrictEqual(decodeText(encodeText(value)), value);
});

Deno.test("json: strings round-trip, including non-ASCII and escapes Python sends", () => {
  const strings = [
    "",
    "ohai",
    "a\u0000b",
    '\t\r\n"\\/',
    "äöü€",
    "😀",
    "\u2028\u2029",
  ];
  for (const s of strings) assert.equal(decodeText(encodeText(s)), s);
  // Python escapes all non-ASCII (ensure_ascii), with surrogate pairs for emoji.
  assert.equal(decodeText('"Gr\\u00fc\\u00dfe \\ud83c\\udf0d"'), "Grüße 🌍");
  // Raw UTF-8 decodes as well.
  assert.equal(decodeText('"Grüße 🌍"'), "Grüße 🌍");
});

Deno.test("json: Python's separators and whitespace decode", () => {
  assert.deepStrictEqual(decodeText('[0, 1, ["add", [3, 4], {"b": 7}]]'), [
    0,
    1,
    ["add", [3, 4], { b: 7 }],
  ]);
  assert.deepStrictEqual(decodeText(" \n[1 ,\t2 ]\r\n"), [1, 2]);
  assert.deepStrictEqual(decodeText(" \n[1 ,\tNaN ]\r\n"), [1, NaN]);
});

Deno.test("JsonCodec: bytes are refused, unless a serializer for Uint8Array is added", () => {
  const plain = new JsonCodec();
  assert.throws(
    () => plain.encode([new Uint8Array([1])]),
    /Cannot encode bytes as JSON \(use MsgPackCodec, or add a serializer for Uint8Array\)/,
  );
  const codec = new JsonCodec();
  codec.addSerializer(
    Uint8Array,
    (bytes) => Array.from(bytes),
    (data) => new Uint8Array(data as number[]),
  );
  const bytes = new Uint8Array([1, 2, 255]);
  assert.equal(
    new TextDecoder().decode(codec.encode([bytes])),
    '[{"__type__":[0,[1,2,255]]}]',
  );
  assert.deepEqual(codec.decode(codec.encode([bytes])), [bytes]);
});
