// maxDecodedSize, MsgPack: each expanding frame at a scaled-down size against
// a scaled-down budget, decoded with a budget of exactly its cost and one unit
// less, so that the cost model is pinned down and the tests fail if counting
// is skipped or off by one; malformed headers, serializers and nested decodes.
import assert from "node:assert/strict";
import { MsgPackCodec } from "../../codecs/mod.ts";
import { msgpackCost } from "../../codecs/_msgpack_cost.ts";
import { SerializationError } from "../../errors.ts";
import {
  array32,
  assertCosts,
  BUDGET,
  type Decoder,
  KiB,
  MiB,
  text,
} from "./_budget_costs.ts";

/** A map32 of `count` copies of the entry `key`, `value`. */
function map32(count: number, entry: readonly number[]): Uint8Array {
  const frame = array32(count, entry);
  frame[0] = 0xdf;
  return frame;
}

const msgpack = (data: Uint8Array): Decoder => (maxDecodedSize) =>
  new MsgPackCodec({ maxDecodedSize }).decode(data);

Deno.test("msgpack: an array32 of 4 Mi empty maps is refused at its header", () => {
  // Each entry costs at least its 8-unit slot, so the header alone is over
  // budget: 4 Mi * 8 + 56 units.
  const frame = new Uint8Array(5 + 4 * MiB).fill(0x80);
  frame.set([0xdd, 0x00, 0x40, 0x00, 0x00]);
  assert.throws(
    () => new MsgPackCodec({ maxDecodedSize: BUDGET }).decode(frame),
    (error: Error) =>
      error instanceof RangeError &&
      /at least 33554488 units \(32× the limit\) by byte 5 of 4194309/
        .test(error.message),
  );
  // A header that claims more entries than there are bytes is malformed.
  frame.set([0xdd, 0x04, 0x00, 0x00, 0x00]);
  assert.throws(
    () => new MsgPackCodec({ maxDecodedSize: BUDGET }).decode(frame),
    (error: Error) =>
      error instanceof SerializationError &&
      /67108864 values declared, 4194304 bytes left/.test(error.message),
  );
});

Deno.test("msgpack: an array of empty maps costs 56 + 64 per map", async () => {
  const count = 16 * KiB;
  await assertCosts(
    56 + 64 * count,
    msgpack(array32(count, [0x80])),
    (value) => assert.equal((value as unknown[]).length, count),
  );
});

Deno.test("msgpack: arrays of 65535 empty maps each are refused by the total", () => {
  // No header declares too much; the maps together do (64 Mi units here).
  const inner = [0xdc, 0xff, 0xff, ...new Array(65535).fill(0x80)];
  const frame = array32(16, inner);
  assert.throws(
    () => new MsgPackCodec({ maxDecodedSize: BUDGET }).decode(frame),
    /by byte \d+ of 1048613, in \d+ values: \d+ arrays and maps/,
  );
});

Deno.test("msgpack: a map32 of empty maps costs 64 + 88 per entry", async () => {
  // Keys "" and values {}: the keys are charged although they repeat.
  const count = 12 * KiB;
  await assertCosts(64 + 88 * count, msgpack(map32(count, [0xa0, 0x80])));
});

Deno.test("msgpack: a map with keys that are not strings costs more as a Map, charged before the Map is made", async () => {
  // {0: {}, 0: {}, …}: a Map (192 units, 40 more per entry beyond 4) of 2
  // slots and a map per entry.
  const count = 12 * KiB;
  await assertCosts(
    192 + 40 * (count - 4) + 72 * count,
    msgpack(map32(count, [0x00, 0x80])),
    (value) => assert.ok(value instanceof Map),
  );
  // Many Maps: each one is charged as it is made.
  await assertCosts(
    56 + 208 * count,
    msgpack(array32(count, [0x81, 0x00, 0x00])),
    (value) => assert.equal((value as unknown[]).length, count),
  );
});

Deno.test("msgpack: deep nesting within maxDepth is charged at every level", async () => {
  // 100 nested one-element arrays around an array of 16 Ki zeros.
  const count = 16 * KiB;
  const frame = new Uint8Array([
    ...new Array(100).fill(0x91),
    ...array32(count, [0x00]),
  ]);
  await assertCosts(100 * 56 + 56 + 8 * count, msgpack(frame), (value) => {
    let inner = value as unknown[];
    for (let i = 0; i < 100; i++) inner = inner[0] as unknown[];
    assert.equal(inner.length, count);
  });
});

Deno.test("msgpack: many small strings cost 24 + their bytes each", async () => {
  const count = 32 * KiB;
  await assertCosts(
    56 + 25 * count,
    msgpack(array32(count, [0xa1, 0x61])),
    (value) => assert.equal((value as string[])[count - 1], "a"),
  );
});

Deno.test("msgpack: a string or bin costs its length, and a frame that is one of them decodes at budget", async () => {
  const size = 2 * MiB;
  const str = new Uint8Array(5 + size).fill(0x62);
  str.set([0xdb, 0x00, 0x20, 0x00, 0x00]);
  await assertCosts(
    24 + size,
    msgpack(str),
    (value) => assert.equal((value as string).length, size),
  );
  const bin = new Uint8Array(5 + size);
  bin.set([0xc6, 0x00, 0x20, 0x00, 0x00]);
  await assertCosts(
    256 + size,
    msgpack(bin),
    (value) => assert.equal((value as Uint8Array).length, size),
  );
});

Deno.test("msgpack: a string with a character beyond U+00FF costs 2 units a character, as V8 keeps it", async () => {
  const size = 2 * MiB;
  /** A str32 of `size` bytes: "b"s, then `tail` (UTF-8). */
  const str = (tail: number[]) => {
    const frame = new Uint8Array(5 + size).fill(0x62);
    frame.set([0xdb, 0x00, 0x20, 0x00, 0x00]);
    frame.set(tail, frame.length - tail.length);
    return frame;
  };
  // "…bĀ": size - 1 characters, kept at 2 bytes each.
  await assertCosts(
    24 + 2 * (size - 1),
    msgpack(str([0xc4, 0x80])),
    (value) => assert.ok((value as string).endsWith("b\u0100")),
  );
  // "…b中": size - 2 characters, 2 bytes each too.
  await assertCosts(24 + 2 * (size - 2), msgpack(str([0xe4, 0xb8, 0xad])));
  // "…bé" is kept at a byte a character: its bytes.
  await assertCosts(24 + size, msgpack(str([0xc3, 0xa9])));
  // All "中": 3 bytes of UTF-8 for 2 in V8, its bytes too.
  const wide = new Uint8Array(5 + 3 * KiB);
  wide.set([0xdb, 0x00, 0x00, 0x0c, 0x00]);
  for (let i = 5; i < wide.length; i += 3) wide.set([0xe4, 0xb8, 0xad], i);
  await assertCosts(24 + 3 * KiB, msgpack(wide));
  // Refused at the string, once its characters are known.
  assert.throws(
    () =>
      new MsgPackCodec({ maxDecodedSize: 3 * MiB }).decode(str([0xc4, 0x80])),
    /a string with a character beyond U\+00FF takes 2 bytes a character, 2097150 units more than its bytes/,
  );
});

Deno.test("msgpack: str32 and bin32 claiming more than the frame holds are malformed", () => {
  for (const type of [0xdb, 0xc6]) {
    // Counted (long frame) and not counted (short frame): both refuse.
    for (const size of [2 * MiB, 16]) {
      const frame = new Uint8Array(5 + size);
      frame.set([type, 0x7f, 0xff, 0xff, 0xff]);
      assert.throws(
        () => new MsgPackCodec({ maxDecodedSize: BUDGET }).decode(frame),
        (error: Error) =>
          error instanceof SerializationError &&
          /the data ends too early/.test(error.message),
      );
    }
  }
});

Deno.test("msgpack: a refused frame builds nothing (no serializer runs)", () => {
  class Tag {}
  let built = 0;
  const entry = [0x81, 0xa8, ...text.encode("__type__"), 0x92, 0x00, 0xc0];
  const frame = array32(8 * KiB, entry);
  const decode = (maxDecodedSize: number) => {
    const codec = new MsgPackCodec({ maxDecodedSize });
    codec.addSerializer(Tag, () => null, () => (built++, new Tag()));
    return codec.decode(frame) as unknown[];
  };
  // Each: a map (64), its key (24 + 8), an array (56) of 2 numbers (16).
  const cost = 56 + 168 * 8 * KiB;
  assert.equal(decode(cost).length, 8 * KiB);
  assert.equal(built, 8 * KiB);
  built = 0;
  assert.throws(() => decode(cost - 1), RangeError);
  assert.equal(built, 0);
});

Deno.test("msgpack: a serializer that decodes again gets what is left of the budget", () => {
  const inner = new MsgPackCodec().encode(new Array(1000).fill(0)); // 8056 units
  class Box {}
  const decode = (maxDecodedSize: number) => {
    const codec = new MsgPackCodec({ maxDecodedSize });
    codec.addSerializer(
      Box,
      () => null,
      (data) => codec.decode(data as Uint8Array),
    );
    // The outer message (about 1500 units) holds the inner one as bytes.
    return codec.decode(codec.encode([{ __type__: [0, inner] }]));
  };
  assert.equal(((decode(10_000) as unknown[])[0] as unknown[]).length, 1000);
  assert.equal(
    (new MsgPackCodec({ maxDecodedSize: 9000 }).decode(inner) as unknown[])
      .length,
    1000,
  );
  assert.throws(() => decode(9000), RangeError);
  // Nothing left: even a number is refused.
  assert.throws(() => msgpackCost(new Uint8Array([0x01]), 7), RangeError);
  assert.equal(msgpackCost(new Uint8Array([0x01]), 8), 8);
});
