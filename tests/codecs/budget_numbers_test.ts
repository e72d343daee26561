// maxDecodedSize, numbers: a small integer costs its slot, a number V8
// boxes 24 and a bigint 32 plus 8 per 64 bits beyond the first, in both
// codecs, told apart by the bytes; a Map's entries beyond its smallest
// table; integers beyond Python's 4300 digits. Each frame is decoded with a
// budget of exactly its cost and one unit less.
import assert from "node:assert/strict";
import { JsonCodec, MsgPackCodec } from "../../codecs/mod.ts";
import { SerializationError } from "../../errors.ts";
import {
  array32,
  assertCosts,
  type Decoder,
  KiB,
  text,
} from "./_budget_costs.ts";

const msgpack = (data: Uint8Array): Decoder => (maxDecodedSize) =>
  new MsgPackCodec({ maxDecodedSize }).decode(data);
const json = (data: string): Decoder => (maxDecodedSize) =>
  new JsonCodec({ maxDecodedSize }).decode(text.encode(data));

const count = 4 * KiB;
const same = (expected: unknown) => (value: unknown) => {
  const array = value as unknown[];
  assert.equal(array.length, count);
  assert.equal(typeof array[0], typeof expected);
  assert.ok(Object.is(array[count - 1], expected), String(array[count - 1]));
};

Deno.test("msgpack: a number costs 8 as a small integer, 24 when V8 boxes it, 32 as a bigint", async () => {
  const cases: [string, number[], number, unknown][] = [
    ["float64", [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], 24, 1.5],
    ["float32", [0xca, 0x3f, 0xc0, 0, 0], 24, 1.5],
    ["int32", [0xd2, 0x80, 0, 0, 0], 8, -(2 ** 31)],
    ["uint32 below 2^31", [0xce, 0x7f, 0xff, 0xff, 0xff], 8, 2 ** 31 - 1],
    ["uint32 2^31", [0xce, 0x80, 0, 0, 0], 24, 2 ** 31],
    [
      "uint64 below 2^31",
      [0xcf, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff],
      8,
      2 ** 31 - 1,
    ],
    ["uint64 2^31", [0xcf, 0, 0, 0, 0, 0x80, 0, 0, 0], 24, 2 ** 31],
    ["uint64 2^53", [0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0], 24, 2 ** 53],
    ["uint64 2^53 + 1", [0xcf, 0, 0x20, 0, 0, 0, 0, 0, 1], 32, 2n ** 53n + 1n],
    ["uint64 2^64 - 1", [0xcf, ...new Array(8).fill(0xff)], 32, 2n ** 64n - 1n],
    [
      "int64 -2^31",
      [0xd3, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0],
      8,
      -(2 ** 31),
    ],
    [
      "int64 -2^31 - 1",
      [0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff],
      24,
      -(2 ** 31) - 1,
    ],
    ["int64 -2^53", [0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 0], 24, -(2 ** 53)],
    [
      "int64 -2^53 - 1",
      [0xd3, 0xff, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      32,
      -(2n ** 53n) - 1n,
    ],
    ["int64 2^53 + 1", [0xd3, 0, 0x20, 0, 0, 0, 0, 0, 1], 32, 2n ** 53n + 1n],
  ];
  for (const [name, item, cost, expected] of cases) {
    try {
      await assertCosts(
        56 + cost * count,
        msgpack(array32(count, item)),
        same(expected),
      );
    } catch (error) {
      throw new Error(`${name}: ${(error as Error).message}`);
    }
  }
});

Deno.test("json: a number costs 8 as a small integer, 24 when V8 boxes it, a bigint by its digits", async () => {
  const cases: [string, number, unknown][] = [
    ["123456789", 8, 123456789],
    ["-5", 8, -5],
    ["1234567890", 24, 1234567890],
    ["1.5", 24, 1.5],
    ["1e3", 24, 1000],
    ["-0", 24, -0],
    ["NaN", 24, NaN],
    ["Infinity", 24, Infinity],
    ["-Infinity", 24, -Infinity],
    ["12345678901234567.5", 24, 12345678901234568],
    ["9007199254740992", 24, 2 ** 53],
    ["9007199254740993", 32, 2n ** 53n + 1n],
    ["-9007199254740993", 32, -(2n ** 53n) - 1n],
    ["1234567890123456789", 32, 1234567890123456789n],
    ["12345678901234567890", 40, 12345678901234567890n],
    [`1${"0".repeat(38)}`, 48, 10n ** 38n],
  ];
  for (const [item, cost, expected] of cases) {
    try {
      await assertCosts(
        56 + cost * count,
        json(`[${new Array(count).fill(item).join(",")}]`),
        same(expected),
      );
    } catch (error) {
      throw new Error(`${item}: ${(error as Error).message}`);
    }
  }
});

Deno.test("json: the full parser (NaN) charges numbers the same", async () => {
  const items = new Array(count).fill("1.5");
  items[0] = "NaN";
  await assertCosts(
    56 + 24 * count,
    json(`[${items.join(",")}]`),
    (value) => {
      const array = value as number[];
      assert.ok(Number.isNaN(array[0]));
      assert.equal(array[count - 1], 1.5);
    },
  );
});

Deno.test("msgpack: a Map costs 128 more up to 4 entries, and 40 more per entry beyond", async () => {
  // {0: 0, 1: 0, …}: the object's 64, two slots per entry, the Map's extra.
  for (
    const [entries, extra] of [[1, 128], [4, 128], [5, 168], [
      300,
      128 + 40 * 296,
    ]]
  ) {
    const frame = [0xde, entries >> 8, entries & 255];
    for (let i = 0; i < entries; i++) frame.push(0xcd, i >> 8, i & 255, 0x00);
    // An array of 64 such Maps, so that the frame is counted.
    await assertCosts(
      56 + 64 * (64 + 16 * entries + extra),
      msgpack(array32(64, frame)),
      (value) => {
        const map = (value as Map<number, number>[])[63];
        assert.ok(map instanceof Map);
        assert.equal(map.size, entries);
      },
    );
  }
});

Deno.test("json: an integer of more than 4300 digits is refused, as Python does, both ways", () => {
  const codec = new JsonCodec();
  const limit = `[${"7".repeat(4300)}]`;
  const decoded = codec.decode(text.encode(limit)) as bigint[];
  assert.equal(decoded[0].toString().length, 4300);
  assert.deepEqual(codec.decode(codec.encode(decoded)), decoded);
  for (const sign of ["", "-"]) {
    assert.throws(
      () => codec.decode(text.encode(`[1, ${sign}${"7".repeat(4301)}]`)),
      (error: Error) =>
        error instanceof SerializationError &&
        /an integer of 4301 digits, more than 4300 .* at position 4/.test(
          error.message,
        ),
    );
  }
  assert.throws(
    () => codec.encode([-(10n ** 4300n)]),
    (error: Error) =>
      error instanceof SerializationError &&
      /bigint of 4301 digits as JSON: more than 4300/.test(error.message),
  );
});
