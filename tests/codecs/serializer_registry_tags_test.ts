// __type__ tags on the wire: unknown and malformed tags, bottom-up decoding,
// self-referencing serializers, maxDepth, and the map serializable() sends.
import assert from "node:assert/strict";
import {
  type Codec,
  JsonCodec,
  MsgPackCodec,
  serializable,
  SerializerRegistry,
} from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";
import { unhex } from "./_vectors.ts";
import {
  CODECS,
  Other,
  Point,
  roundTrip,
} from "./_serializer_registry_fixtures.ts";

class Line {
  constructor(public a: Point, public b: Point) {}
}

Deno.test("registry: an unknown typeid fails the whole message", async (t) => {
  const registry = new SerializerRegistry();
  assert.throws(() => registry.fromWire([0, null]), SerializationError);
  registry.add(Point, () => null, () => new Point(0, 0));
  assert.throws(() => registry.fromWire([1, null]), SerializationError);
  const payloads: Record<string, string> = {
    json:
      '[1, 0, [{"__type__": [0, {"x": 1, "y": 2}]}, {"__type__": [1, null]}]]',
    // [1, 0, [{"__type__": [0, {"x": 1, "y": 2}]}, {"__type__": [1, nil]}]]
    msgpack: "93010092" + "81a85f5f747970655f5f920082a17801a17902" +
      "81a85f5f747970655f5f9201c0",
  };
  for (const [name, make] of CODECS) {
    await t.step(name, async () => {
      const codec = make();
      codec.addSerializer(...serializable(Point, ["x", "y"]));
      const bytes = name === "json"
        ? new TextEncoder().encode(payloads.json)
        : unhex(payloads.msgpack);
      const frame = name === "msgpackblosc" ? stored(bytes) : bytes;
      await assert.rejects(
        async () => await codec.decode(frame),
        SerializationError,
      );
    });
  }
});

/** A stored (memcpy) blosc frame around `inner`. */
function stored(inner: Uint8Array): Uint8Array {
  const frame = new Uint8Array(16 + inner.length);
  const view = new DataView(frame.buffer);
  frame.set([2, 1, 0x13, 8]);
  view.setUint32(4, inner.length, true);
  view.setUint32(8, inner.length, true);
  view.setUint32(12, frame.length, true);
  frame.set(inner, 16);
  return frame;
}

Deno.test("registry: a malformed __type__ value is a SerializationError", async (t) => {
  const registry = new SerializerRegistry();
  registry.add(Point, () => null, () => new Point(0, 0));
  registry.add(Other, () => null, () => new Other(""));
  const tags: unknown[] = [
    "x",
    0,
    null,
    {},
    [],
    [0],
    [0, 1, 2],
    ["0", 1],
    [null, 1],
    [true, 1],
    [0.5, 1],
    [-1, 1],
    [2, 1],
    [NaN, 1],
    [1e300, 1],
    [2n ** 64n, 1],
    new Map([[0, 1]]),
  ];
  for (const tag of tags) {
    assert.throws(
      () => registry.fromWire(tag),
      SerializationError,
      String(tag),
    );
  }
  // Through the codecs' bytes as well.
  const json: string[] = [
    '"x"',
    "[0]",
    "[0, 1, 2]",
    '["0", 1]',
    "[0.5, 1]",
    "[-1, 1]",
    "[NaN, 1]",
    "{}",
    "null",
  ];
  await t.step("json", () => {
    const codec = new JsonCodec();
    codec.addSerializer(Point, () => null, () => new Point(0, 0));
    for (const tag of json) {
      assert.throws(
        () =>
          codec.decode(
            new TextEncoder().encode(`[1, 0, {"__type__": ${tag}}]`),
          ),
        SerializationError,
        tag,
      );
    }
  });
  await t.step("msgpack", () => {
    const codec = new MsgPackCodec();
    codec.addSerializer(Point, () => null, () => new Point(0, 0));
    // "x", [0], [0, 1, 2], ["0", 1], [0.5, 1], [-1, 1], {}, nil
    for (
      const tag of [
        "a178",
        "9100",
        "93000102",
        "92a13001",
        "92cb3fe000000000000001",
        "92ff01",
        "80",
        "c0",
      ]
    ) {
      assert.throws(
        () => codec.decode(unhex("81a85f5f747970655f5f" + tag)),
        SerializationError,
        tag,
      );
    }
  });
});

Deno.test("registry: tags decode bottom-up, and toWire data may hold tagged objects", async (t) => {
  for (const [name, make] of CODECS) {
    await t.step(name, async () => {
      const codec = make();
      codec.addSerializer(...serializable(Point, ["x", "y"]));
      codec.addSerializer(Line, (line) => [line.a, line.b], (data) => {
        const [a, b] = data as [Point, Point];
        assert.ok(
          a instanceof Point && b instanceof Point,
          "inner tags are decoded first",
        );
        return new Line(a, b);
      });
      const value = [1, 0, {
        lines: [new Line(new Point(0, 0), new Point(1, 1))],
      }];
      const decoded = await roundTrip(codec, value);
      assert.deepStrictEqual(decoded, value);
      assert.ok(
        ((decoded as [0, 0, { lines: Line[] }])[2].lines[0]) instanceof Line,
      );
    });
  }
});

Deno.test("registry: a map with __type__ and other keys is still a tag", async (t) => {
  for (const [name, make] of CODECS) {
    await t.step(name, async () => {
      const codec = make();
      codec.addSerializer(...serializable(Point, ["x", "y"]));
      // A codec without serializers sends the map as it is.
      const bytes = await make().encode({
        __type__: [0, { x: 1, y: 2 }],
        extra: true,
      });
      assert.deepStrictEqual(await codec.decode(bytes), new Point(1, 2));
    });
  }
});

Deno.test("registry: a serializer that returns its own object fails cleanly", async (t) => {
  class Loop {}
  for (const [name, make] of CODECS) {
    await t.step(name, async () => {
      const codec = make();
      codec.addSerializer(Loop, (loop) => loop, () => new Loop());
      await assert.rejects(
        async () => await codec.encode([new Loop()]),
        SerializationError,
      );
    });
  }
});

Deno.test("registry: maxDepth counts a tagged object the same way in every codec", async (t) => {
  // [Point] is an array, the tag map, the [typeid, data] array and the data
  // map: 4 levels, in every codec, on encode and on decode.
  for (const [name, make] of CODECS) {
    await t.step(name, async () => {
      const Codec = make().constructor as new (
        options: { maxDepth: number },
      ) => Codec;
      const at = (maxDepth: number): Codec => {
        const codec = new Codec({ maxDepth });
        codec.addSerializer(...serializable(Point, ["x", "y"]));
        return codec;
      };
      const bytes = await at(10).encode([new Point(1, 2)]);
      assert.deepStrictEqual(await at(4).decode(bytes), [new Point(1, 2)]);
      await assert.rejects(
        async () => await at(3).decode(bytes),
        SerializationError,
      );
      assert.deepStrictEqual(
        await at(4).decode(await at(4).encode([new Point(1, 2)])),
        [new Point(1, 2)],
      );
      await assert.rejects(
        async () => await at(3).encode([new Point(1, 2)]),
        SerializationError,
      );
    });
  }
});

Deno.test("serializable: sends the fields by name, in order, and calls the constructor", async (t) => {
  const [type, toWire, fromWire] = serializable(Point, ["x", "y"]);
  assert.equal(type, Point);
  assert.deepStrictEqual(toWire(new Point(1, 2)), { x: 1, y: 2 });
  assert.deepStrictEqual(Object.keys(toWire(new Point(1, 2)) as object), [
    "x",
    "y",
  ]);
  assert.deepStrictEqual(fromWire({ y: 2, x: 1 }), new Point(1, 2));
  assert.ok(fromWire({ x: 1, y: 2 }) instanceof Point);
  for (const data of [null, 1, "x"]) {
    assert.throws(() => fromWire(data), SerializationError, String(data));
  }
  // Through a codec: the map aiomas's @serializable sends.
  await t.step("json bytes", () => {
    const codec = new JsonCodec();
    codec.addSerializer(...serializable(Point, ["x", "y"]));
    assert.equal(
      new TextDecoder().decode(codec.encode(new Point(1, 2))),
      '{"__type__":[0,{"x":1,"y":2}]}',
    );
    assert.throws(
      () => codec.decode(new TextEncoder().encode('{"__type__": [0, 5]}')),
      SerializationError,
    );
  });
});
