// maxDecodedSize, JSON: each expanding frame at a scaled-down size against a
// scaled-down budget, decoded with a budget of exactly its cost and one unit
// less, so that the cost model is pinned down and the tests fail if counting
// is skipped or off by one; serializers that decode again.
import assert from "node:assert/strict";
import { JsonCodec } from "../../codecs/mod.ts";
import {
  assertCosts,
  BUDGET,
  type Decoder,
  KiB,
  MiB,
  text,
} from "./_budget_costs.ts";

const json = (data: Uint8Array | string): Decoder => (maxDecodedSize) =>
  new JsonCodec({ maxDecodedSize }).decode(
    typeof data === "string" ? text.encode(data) : data,
  );

Deno.test("json: a serializer that decodes again gets what is left of the budget", () => {
  const inner = `[${new Array(1000).fill(0).join(",")}]`; // 8056 units
  class Box {}
  const decode = (maxDecodedSize: number) => {
    const codec = new JsonCodec({ maxDecodedSize });
    codec.addSerializer(
      Box,
      () => null,
      (data) => codec.decode(text.encode(data as string)),
    );
    // The outer message (about 2200 units) holds the inner one as a string.
    return codec.decode(text.encode(`[{"__type__": [0, "${inner}"]}]`));
  };
  assert.equal(((decode(12_000) as unknown[])[0] as unknown[]).length, 1000);
  assert.equal(
    (new JsonCodec({ maxDecodedSize: 10_000 }).decode(
      text.encode(inner),
    ) as unknown[]).length,
    1000,
  );
  assert.throws(() => decode(10_000), RangeError);
  // After a refusal the codec counts as before.
  const codec = new JsonCodec({ maxDecodedSize: 10_000 });
  assert.throws(
    () => codec.decode(text.encode(`[${inner},${inner}]`)),
    RangeError,
  );
  assert.equal((codec.decode(text.encode(inner)) as unknown[]).length, 1000);
});

Deno.test("json: [{},{},…] costs 56 + 64 per object", async () => {
  const count = 16 * KiB;
  await assertCosts(
    56 + 64 * count,
    json(`[${new Array(count).fill("{}").join(",")}]`),
    (value) => assert.equal((value as unknown[]).length, count),
  );
  // And a 4 MiB frame of them is refused.
  const frame = `[${new Array(2 * MiB - 1).fill("{}").join(",")}]`;
  assert.throws(() => json(frame)(BUDGET), RangeError);
});

Deno.test("json: [[],[],…] costs 56 + 56 per array, whitespace is free", async () => {
  const count = 16 * KiB;
  await assertCosts(
    56 + 56 * count,
    json(`[ ${new Array(count).fill("[ ]").join(" ,\n\t")} ]`),
  );
});

Deno.test("json: strings cost 24 + their bytes as sent, keys too", async () => {
  const count = 1024;
  const long = 'é\\n\\"'.repeat(200);
  const bytes = text.encode(long).length;
  await assertCosts(
    56 + (24 + bytes) * count,
    json(`[${new Array(count).fill(`"${long}"`).join(",")}]`),
    (value) => assert.equal((value as string[])[0], 'é\n"'.repeat(200)),
  );
  // {"k0": 0, …}: 64 for the object, 24 + 2 or 3 for a key, 8 for a number.
  const keys = Array.from({ length: 32 * KiB }, (_, i) => `"k${i % 100}":0`);
  const keyBytes = Array.from(
    { length: 32 * KiB },
    (_, i) => `k${i % 100}`.length,
  )
    .reduce((a, b) => a + b);
  await assertCosts(
    64 + 32 * KiB * 32 + keyBytes,
    json(`{${keys.join(",")}}`),
  );
});

Deno.test("json: small integers and literals cost 8, on both parsers", async () => {
  const count = 32 * KiB;
  // JSON.parse, and the full parser (a NaN first, which costs 24). Other
  // numbers: budget_numbers_test.ts.
  for (const item of ["1", "-123456789", "true", "false", "null"]) {
    for (const full of [false, true]) {
      const items = new Array(count).fill(item);
      if (full) items[0] = "NaN";
      await assertCosts(
        56 + 8 * count + (full ? 16 : 0),
        json(`[${items.join(",")}]`),
        (value) => assert.equal((value as unknown[]).length, count),
      );
    }
  }
});

Deno.test("json: a byte order mark does not hide the outer array", async () => {
  const count = 16 * KiB;
  const data = new Uint8Array([
    0xef,
    0xbb,
    0xbf,
    ...text.encode(`[${new Array(count).fill("{}").join(",")}]`),
  ]);
  await assertCosts(56 + 64 * count, json(data));
});
