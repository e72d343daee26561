// SerializerRegistry registration: positional typeids, lookup by exact class,
// the Object fallback (never for native values) and duplicate registrations.
import assert from "node:assert/strict";
import {
  JsonCodec,
  serializable,
  SerializerRegistry,
} from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";
import {
  CODECS,
  Other,
  Point,
  roundTrip,
} from "./_serializer_registry_fixtures.ts";

class Point3 extends Point {
  constructor(x: number, y: number, public z: number) {
    super(x, y);
  }
}

/** Asserts a plain TypeError (not its subclass SerializationError). */
function assertTypeError(fn: () => unknown): void {
  assert.throws(
    fn,
    (error: unknown) =>
      error instanceof TypeError && !(error instanceof SerializationError),
  );
}

Deno.test("registry: typeids are positional, in registration order", () => {
  const registry = new SerializerRegistry();
  assert.equal(registry.size, 0);
  assert.equal(
    registry.add(
      Point,
      (p) => [p.x, p.y],
      (d) => new Point(...(d as [number, number])),
    ),
    0,
  );
  assert.equal(registry.add(Object, () => "any", (d) => ({ fallback: d })), 1);
  assert.equal(
    registry.add(Other, (o) => o.name, (d) => new Other(d as string)),
    2,
  );
  assert.equal(registry.size, 3);
  assert.deepStrictEqual(registry.toWire(new Point(1, 2)), {
    __type__: [0, [1, 2]],
  });
  assert.deepStrictEqual(registry.toWire(new Date(0)), {
    __type__: [1, "any"],
  });
  assert.deepStrictEqual(registry.toWire(new Other("o")), {
    __type__: [2, "o"],
  });
  assert.deepStrictEqual(registry.fromWire([0, [1, 2]]), new Point(1, 2));
  assert.deepStrictEqual(registry.fromWire([1, "x"]), { fallback: "x" });
  assert.deepStrictEqual(registry.fromWire([2, "o"]), new Other("o"));
});

Deno.test("registry: both ends must register in the same order", async (t) => {
  for (const [name, make] of CODECS) {
    await t.step(name, async () => {
      const sender = make();
      sender.addSerializer(...serializable(Point, ["x", "y"]));
      sender.addSerializer(
        Other,
        (o) => ({ x: o.name, y: 0 }),
        (d) => new Other((d as { x: string }).x),
      );
      const same = make();
      same.addSerializer(...serializable(Point, ["x", "y"]));
      same.addSerializer(
        Other,
        (o) => ({ x: o.name, y: 0 }),
        (d) => new Other((d as { x: string }).x),
      );
      const swapped = make();
      swapped.addSerializer(
        Other,
        (o) => ({ x: o.name, y: 0 }),
        (d) => new Other((d as { x: string }).x),
      );
      swapped.addSerializer(...serializable(Point, ["x", "y"]));

      const bytes = await sender.encode([new Point(1, 2), new Other("o")]);
      assert.deepStrictEqual(await same.decode(bytes), [
        new Point(1, 2),
        new Other("o"),
      ]);
      // The typeids say nothing about the class: swapped tables swap the types.
      assert.deepStrictEqual(await swapped.decode(bytes), [
        new Other(1 as unknown as string),
        new Point("o" as never, 0),
      ]);
    });
  }
});

Deno.test("registry: lookup is by exact class; a subclass is not matched", () => {
  const registry = new SerializerRegistry();
  registry.add(
    Point,
    (p) => [p.x, p.y],
    (d) => new Point(...(d as [number, number])),
  );
  assert.deepStrictEqual(registry.toWire(new Point(1, 2)), {
    __type__: [0, [1, 2]],
  });
  assert.throws(() => registry.toWire(new Point3(1, 2, 3)), SerializationError);
  // With the Object fallback, the subclass goes to the fallback.
  registry.add(Object, (o) => o.constructor.name, (d) => ({ fallback: d }));
  assert.deepStrictEqual(registry.toWire(new Point3(1, 2, 3)), {
    __type__: [1, "Point3"],
  });
  assert.deepStrictEqual(registry.toWire(new Point(1, 2)), {
    __type__: [0, [1, 2]],
  });
});

Deno.test("registry: exact class lookup in every codec", async (t) => {
  for (const [name, make] of CODECS) {
    await t.step(name, async () => {
      const codec = make();
      codec.addSerializer(...serializable(Point, ["x", "y"]));
      assert.deepStrictEqual(await roundTrip(codec, [new Point(1, 2)]), [
        new Point(1, 2),
      ]);
      await assert.rejects(
        async () => await codec.encode([new Point3(1, 2, 3)]),
        SerializationError,
      );
      await assert.rejects(
        async () => await codec.encode([new Other("o")]),
        SerializationError,
      );

      const withFallback = make();
      withFallback.addSerializer(...serializable(Point, ["x", "y"]));
      withFallback.addSerializer(
        Object,
        (o) => `a ${o.constructor.name}`,
        (d) => ({ fallback: d }),
      );
      assert.deepStrictEqual(
        await roundTrip(withFallback, [
          new Point(1, 2),
          new Point3(1, 2, 3),
          new Other("o"),
        ]),
        [
          new Point(1, 2),
          { fallback: "a Point3" },
          { fallback: "a Other" },
        ],
      );
    });
  }
});

Deno.test("registry: the fallback never takes native values", async (t) => {
  for (const [name, make] of CODECS) {
    await t.step(name, async () => {
      const codec = make();
      codec.addSerializer(Object, () => "fallback", () => "fallback");
      const value = [
        null,
        true,
        1,
        0.5,
        "s",
        [1],
        { a: 1 },
        Object.assign(Object.create(null), { b: 2 }),
      ];
      const decoded = await roundTrip(codec, value) as unknown[];
      assert.deepStrictEqual(decoded.slice(0, 7), value.slice(0, 7));
      assert.deepStrictEqual({ ...decoded[7] as object }, { b: 2 });
      if (name !== "json") {
        const native = [new Uint8Array([1]), new Map([[1, 2]])];
        assert.deepStrictEqual(await roundTrip(codec, native), native);
      }
      assert.deepStrictEqual(
        await roundTrip(codec, [new Date(0), new Set([1])]),
        ["fallback", "fallback"],
      );
    });
  }
});

Deno.test("registry: registering a class twice is a TypeError", async (t) => {
  const registry = new SerializerRegistry();
  registry.add(Point, () => null, () => null);
  assertTypeError(() => registry.add(Point, () => null, () => null));
  registry.add(Object, () => null, () => null);
  assertTypeError(() => registry.add(Object, () => null, () => null));
  assert.equal(registry.size, 2, "failed registrations take no typeid");
  // A subclass is a class of its own.
  assert.equal(registry.add(Point3, () => null, () => null), 2);
  for (const [name, make] of CODECS) {
    await t.step(name, () => {
      const codec = make();
      codec.addSerializer(...serializable(Point, ["x", "y"]));
      assertTypeError(() =>
        codec.addSerializer(...serializable(Point, ["x", "y"]))
      );
      assert.equal(codec.addSerializer(Other, () => null, () => null), 1);
    });
  }
});

Deno.test("registry: a class, toWire or fromWire that is not a function is a TypeError naming it, in every codec", async (t) => {
  const bad: [unknown, unknown, unknown, RegExp][] = [
    [Point, "nope", () => null, /its toWire must be a function, not a string/],
    [
      Point,
      () => null,
      undefined,
      /its fromWire must be a function, not undefined/,
    ],
    [{}, () => null, () => null, /its type must be a function, not an Object/],
  ];
  for (const [name, make] of CODECS) {
    await t.step(name, () => {
      const codec = make();
      for (const [type, toWire, fromWire, message] of bad) {
        assert.throws(
          () =>
            codec.addSerializer(
              type as typeof Point,
              toWire as () => null,
              fromWire as () => Point,
            ),
          (error) => {
            assert.ok(error instanceof TypeError, String(error));
            assert.match(error.message, message);
            return true;
          },
        );
      }
      // Nothing was registered: the next one takes typeid 0.
      assert.equal(
        codec.addSerializer(Point, () => null, () => new Point(0, 0)),
        0,
      );
    });
  }
});

Deno.test("serializable: a field the instance lacks fails the encode in every codec, naming it", async (t) => {
  class Loose {
    constructor(public x: number, public maybe?: number) {}
  }
  for (const [name, make] of CODECS) {
    await t.step(name, async () => {
      const codec = make();
      // A misspelt field (as plain JavaScript, or through a cast, allows).
      codec.addSerializer(
        ...serializable(Loose, ["x", "z" as keyof Loose & string]),
      );
      await assert.rejects(
        async () => await codec.encode([new Loose(1)]),
        (error: unknown) => {
          assert.ok(error instanceof SerializationError);
          assert.match(
            error.message,
            /Cannot encode Loose: it has no field "z" \(serializable fields: x, z\)/,
          );
          return true;
        },
      );
      // A field that is there as undefined travels.
      const fine = make();
      fine.addSerializer(...serializable(Loose, ["x", "maybe"]));
      assert.deepStrictEqual(await roundTrip(fine, [new Loose(1)]), [
        new Loose(1),
      ]);
    });
  }
});

Deno.test("serializable: a field the peer's map lacks is undefined, never read from Object.prototype", () => {
  class Named {
    constructor(public toString: unknown, public x: number) {}
  }
  const codec = new JsonCodec();
  codec.addSerializer(
    ...serializable(Named, ["toString", "x"] as (keyof Named & string)[]),
  );
  const decoded = codec.decode(
    new TextEncoder().encode('{"__type__":[0,{"x":1}]}'),
  ) as Named;
  assert.ok(decoded instanceof Named);
  assert.equal(
    Object.getOwnPropertyDescriptor(decoded, "toString")?.value,
    undefined,
  );
  assert.equal(decoded.x, 1);
});
