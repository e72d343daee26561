// Maps whose keys are array indices ("1023"): V8 may keep them in an array
// of 1.5 × the largest index, which a peer chooses. A decoded object must
// cost about what its keys do, with every codec and both JSON parsers.
import assert from "node:assert/strict";
import {
  type Codec,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { collectGarbage } from "../_collect.ts";

const COUNT = 4000;
/** Each within 1024 of the capacity the one before grew the array to. */
const KEYS = ["1023", "2575", "3322"];
const MiB = 1024 * 1024;

/** Decodes `bytes` and returns the decoded value and the heap it holds. */
async function heldBy(codec: Codec, bytes: Uint8Array) {
  await collectGarbage();
  const before = Deno.memoryUsage().heapUsed;
  const value = await codec.decode(bytes) as Record<string, unknown>[];
  await collectGarbage();
  return { value, held: Deno.memoryUsage().heapUsed - before };
}

function check(value: Record<string, unknown>[], held: number, what: string) {
  assert.ok(value.length >= COUNT);
  assert.deepEqual(Object.keys(value[0]), KEYS);
  assert.deepEqual(value[COUNT - 1], { 1023: 0, 2575: 1, 3322: 2 });
  if (value.length > COUNT) assert.equal(value[COUNT], 1234567890123456);
  // About 31 KB an object before (124 MiB); a few hundred bytes now.
  assert.ok(held < 16 * MiB, `${what}: ${(held / MiB).toFixed(1)} MiB held`);
}

const record = Object.fromEntries(KEYS.map((key, i) => [key, i]));

for (
  const [name, codec] of [
    ["MsgPack", new MsgPackCodec()],
    ["MsgPack+Blosc", new MsgPackBloscCodec()],
  ] as const
) {
  Deno.test(`${name}: objects with far-apart index keys hold about what their keys cost`, async () => {
    const bytes = await codec.encode(new Array(COUNT).fill(record));
    const { value, held } = await heldBy(codec, bytes);
    check(value, held, name);
  });
}

Deno.test("JSON: objects with far-apart index keys hold about what their keys cost, with either parser", async () => {
  const codec = new JsonCodec();
  const plain = JSON.stringify(new Array(COUNT).fill(record));
  // A 16-digit integer takes the library's own parser (JSON.parse would
  // round it).
  const full = `[${plain.slice(1, -1)},1234567890123456]`;
  for (const text of [plain, full]) {
    const { value, held } = await heldBy(
      codec,
      new TextEncoder().encode(text),
    );
    check(value, held, text === plain ? "JSON.parse" : "the full parser");
  }
});

Deno.test("index keys that are dense, or not canonical, decode as before", async () => {
  const dense = Object.fromEntries(
    Array.from({ length: 100 }, (_, i) => [String(1000 + i), i]),
  );
  const odd = { "01": 1, "1e3": 2, "4294967295": 3, "-5": 4, " 7": 5 };
  for (const codec of [new MsgPackCodec(), new JsonCodec()]) {
    for (const value of [dense, odd]) {
      assert.deepEqual(await codec.decode(await codec.encode(value)), value);
    }
  }
  // Through the library's JSON parser too.
  assert.deepEqual(
    await new JsonCodec().decode(
      new TextEncoder().encode(
        '[{"1e3": 1, "5000": 2, "01": 3, "3": 4}, 1234567890123456]',
      ),
    ),
    [{ "1e3": 1, 5000: 2, "01": 3, 3: 4 }, 1234567890123456],
  );
});
