// JsonCodec's limits and failures (depth, cycles, malformed input, bad
// UTF-8, unknown __type__ tags) and its buffers and escaping.
import assert from "node:assert/strict";
import { JsonCodec } from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";
import { nested } from "./_vectors.ts";

const utf8 = new TextEncoder();
const decodeText = (source: string, codec = new JsonCodec()): unknown =>
  codec.decode(utf8.encode(source));
const encodeText = (value: unknown, codec = new JsonCodec()): string =>
  new TextDecoder().decode(codec.encode(value) as Uint8Array);

Deno.test("json: maxDepth limits nesting on encode and decode", () => {
  const codec = new JsonCodec({ maxDepth: 3 });
  assert.equal(encodeText(nested(3), codec), "[[[0]]]");
  assert.throws(() => codec.encode(nested(4)), SerializationError);
  assert.throws(
    () => codec.encode({ a: { b: { c: {} } } }),
    SerializationError,
  );
  assert.deepStrictEqual(decodeText("[[[0]]]", codec), nested(3));
  assert.throws(() => decodeText("[[[[0]]]]", codec), SerializationError);
  assert.throws(
    () => decodeText('{"a": {"b": {"c": {}}}}', codec),
    SerializationError,
  );
  // The full parser enforces it too.
  assert.throws(() => decodeText("[[[[NaN]]]]", codec), SerializationError);
  assert.throws(
    () => decodeText("[[[[12345678901234567890]]]]", codec),
    SerializationError,
  );
});

Deno.test("json: the default maxDepth rejects very deep input without a stack overflow", () => {
  const deep = "[".repeat(100_000) + "]".repeat(100_000);
  assert.throws(() => decodeText(deep), SerializationError);
  assert.throws(
    () => decodeText("[".repeat(100_000) + "NaN" + "]".repeat(100_000)),
    SerializationError,
  );
  assert.throws(
    () => new JsonCodec().encode(nested(100_000)),
    SerializationError,
  );
});

Deno.test("json: a cycle on encode is a SerializationError", () => {
  const array: unknown[] = [1];
  array.push(array);
  assert.throws(() => new JsonCodec().encode(array), SerializationError);
  const object: Record<string, unknown> = {};
  object.self = object;
  assert.throws(
    () => new JsonCodec().encode([0, 0, object]),
    SerializationError,
  );
  const map = new Map<string, unknown>();
  map.set("self", map);
  assert.throws(() => new JsonCodec().encode(map), SerializationError);
});

Deno.test("json: malformed input is a SerializationError", () => {
  const bad = [
    "",
    " ",
    "[1, 2",
    "[1, 2]]",
    "[1] x",
    "[1,]",
    "{'a': 1}",
    '{"a" 1}',
    '"unterminated',
    "[01]",
    "[1.]",
    "[-]",
    "[1, NaN",
    "[NaN] x",
    "[NaN,]",
    '{"a": NaN,}',
    "[12345678901234567890",
    "[12345678901234567890] x",
    '"\\x"',
    '["\u0001", NaN]', // a raw control character in a string
  ];
  for (const source of bad) {
    assert.throws(
      () => decodeText(source),
      SerializationError,
      JSON.stringify(source),
    );
  }
});

Deno.test("json: bytes that are not UTF-8 are a SerializationError", () => {
  for (
    const bytes of [[0xff], [0x22, 0xc3, 0x28, 0x22], [
      0x22,
      0xed,
      0xa0,
      0x80,
      0x22,
    ], [0x22, 0xe2, 0x82]]
  ) {
    assert.throws(
      () => new JsonCodec().decode(new Uint8Array(bytes)),
      SerializationError,
    );
  }
});

Deno.test("json: __type__ maps with no serializer fail the whole message", () => {
  assert.throws(
    () => decodeText('[1, 0, {"__type__": [0, {"x": 1}]}]'),
    SerializationError,
  );
  assert.throws(
    () => decodeText('[1, 0, {"__type__": [0, NaN]}]'),
    SerializationError,
  );
  // Escaped, the key is the same (as for Python's json module).
  assert.throws(
    () => decodeText('[1, 0, {"\\u005f\\u005ftype\\u005f\\u005f": [0, 1]}]'),
    SerializationError,
  );
});

Deno.test("json: encodeView gives encode's bytes, in a reused buffer unless large", () => {
  const codec = new JsonCodec();
  for (
    const value of [[0, 1, "ünï"], { a: [1.5, null] }, "x".repeat(100_000)]
  ) {
    assert.deepEqual(codec.encodeView(value), codec.encode(value));
  }
  const a = codec.encodeView([1]);
  const b = codec.encodeView([2]);
  assert.equal(a.buffer, b.buffer);
});

Deno.test("json: strings and keys are escaped as JSON.stringify escapes them", () => {
  const codec = new JsonCodec();
  const strings = [
    "",
    "plain ascii",
    'quote " and backslash \\',
    "controls \u0000\u0001\b\t\n\f\r\u001f",
    "del \u007f",
    "ünïcödé €",
    "emoji 😀",
    "lone \ud800 surrogate \udc00",
    "x".repeat(5000) + "é" + "y".repeat(5000),
    "\n" + "é€😀".repeat(10_000), // escaped and longer than 16 Ki units
  ];
  for (const s of strings) {
    assert.equal(
      new TextDecoder().decode(codec.encode([s, { [s]: 1 }])),
      `[${JSON.stringify(s)},{${JSON.stringify(s)}:1}]`,
      JSON.stringify(s.slice(0, 20)),
    );
    assert.deepEqual(
      codec.decode(codec.encode(s)),
      s.isWellFormed() ? s : JSON.parse(JSON.stringify(s)),
    );
  }
  const map = new Map<string | number, unknown>([[1, "a"], ["k\n", [true]]]);
  assert.equal(
    new TextDecoder().decode(codec.encode(map)),
    '{"1":"a","k\\n":[true]}',
  );
});

Deno.test("json: a serializer may encode with the same codec while encoding", () => {
  class Inner {
    constructor(public value: unknown) {}
  }
  const codec = new JsonCodec();
  codec.addSerializer(
    Inner,
    (inner) => new TextDecoder().decode(codec.encode(inner.value)),
    (text) => new Inner(codec.decode(new TextEncoder().encode(text as string))),
  );
  const value = [1, 0, new Inner([new Inner("x"), 2])];
  const bytes = codec.encodeView(value).slice();
  assert.deepEqual(bytes, codec.encode(value));
  assert.deepStrictEqual(codec.decode(bytes), value);
});

Deno.test("json: large texts (16 KiB and more) decode as short ones do", () => {
  const pad = "a".repeat(16 * 1024);
  // Long integers exactly, bare tokens, a real U+FFFD, escapes.
  assert.deepEqual(
    decodeText(`[1, 0, ["${pad}", 12345678901234567890, NaN, -Infinity]]`),
    [1, 0, [pad, 12345678901234567890n, NaN, -Infinity]],
  );
  assert.deepEqual(decodeText(`["${pad}\ufffd\\n", 1.5]`), [
    pad + "\ufffd\n",
    1.5,
  ]);
  // Bytes that are not UTF-8, anywhere in the text.
  for (const at of [1, 8 * 1024, 16 * 1024]) {
    const bytes = utf8.encode(`["${pad}"]`);
    bytes[at + 1] = 0xff;
    assert.throws(
      () => new JsonCodec().decode(bytes),
      SerializationError,
      `${at}`,
    );
  }
  // A __type__ key, plain or escaped, is resolved.
  class Point {
    constructor(public x: number) {}
  }
  const codec = new JsonCodec();
  const id = codec.addSerializer(
    Point,
    (p) => p.x,
    (x) => new Point(x as number),
  );
  for (const key of ["__type__", "\\u005f\\u005ftype\\u005f\\u005f"]) {
    assert.deepEqual(
      decodeText(`[1, 0, ["${pad}", {"${key}": [${id}, 3]}]]`, codec),
      [1, 0, [pad, new Point(3)]],
    );
  }
  // maxDepth holds.
  assert.throws(
    () => decodeText(`["${pad}", ${"[".repeat(200)}${"]".repeat(200)}]`),
    SerializationError,
  );
});
