// JsonCodecOptions.typeTags: false reads "__type__" maps as plain data (for
// peers that are not aiomas, such as mosaik), on every decoding path.
import assert from "node:assert/strict";
import { JsonCodec } from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";

const utf8 = new TextEncoder();
const decodeText = (source: string, codec: JsonCodec): unknown =>
  codec.decode(utf8.encode(source));

// Short texts, texts with long integers or NaN (the full parser), large
// texts (searched as strings) and escaped keys all take their own path.
const pad = "x".repeat(20 * 1024);
const TEXTS: [string, unknown][] = [
  ['{"__type__": "Battery", "kWh": 5}', { __type__: "Battery", kWh: 5 }],
  ['[1, 0, {"__type__": [0, 3]}]', [1, 0, { __type__: [0, 3] }]],
  ['{"\\u005f\\u005ftype\\u005f\\u005f": [0, 3]}', { __type__: [0, 3] }],
  [
    '{"__type__": [0, 3], "n": 12345678901234567890}',
    { __type__: [0, 3], n: 12345678901234567890n },
  ],
  ['{"__type__": NaN}', { __type__: NaN }],
  ['{"__type__": "Bätterie"}', { __type__: "Bätterie" }],
  [`["${pad}", {"__type__": [0, 3]}]`, [pad, { __type__: [0, 3] }]],
];

Deno.test("json typeTags false: __type__ maps stay maps on every decoding path", () => {
  const plain = new JsonCodec({ typeTags: false });
  const tagged = new JsonCodec();
  for (const [source, expected] of TEXTS) {
    assert.deepStrictEqual(decodeText(source, plain), expected, source);
    // A text longer than maxDecodedSize / 32 bytes is counted first.
    const counted = new JsonCodec({
      typeTags: false,
      maxDecodedSize: 16 * utf8.encode(source).length,
    });
    assert.deepStrictEqual(decodeText(source, counted), expected, source);
    // The default codec reads them as serialized objects, and has none.
    assert.throws(() => decodeText(source, tagged), SerializationError, source);
  }
});

Deno.test("json typeTags false: encoding writes such maps as they are, and they read back", () => {
  const plain = new JsonCodec({ typeTags: false });
  const value = { E0: { v: { __type__: "Battery", kWh: 5 } } };
  const bytes = plain.encode(value);
  assert.equal(
    new TextDecoder().decode(bytes),
    '{"E0":{"v":{"__type__":"Battery","kWh":5}}}',
  );
  assert.deepStrictEqual(plain.decode(bytes), value);
});

Deno.test("json typeTags false: no serializers; maxDepth still holds", () => {
  const plain = new JsonCodec({ typeTags: false, maxDepth: 4 });
  class Point {}
  assert.throws(
    () => plain.addSerializer(Point, () => 0, () => new Point()),
    {
      name: "TypeError",
      message:
        "Cannot add a serializer to a JsonCodec without type tags (typeTags: false)",
    },
  );
  assert.throws(() => plain.encode(new Point()), SerializationError);
  assert.deepStrictEqual(decodeText("[[[[1]]]]", plain), [[[[1]]]]);
  assert.throws(
    () => decodeText(`["${pad}", [[[[1]]]]]`, plain),
    /nesting deeper than maxDepth 4/,
  );
  assert.throws(
    () => decodeText("[[[[[1]]]]]", plain),
    /maxDepth 4/,
  );
});
