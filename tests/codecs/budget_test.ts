// maxDecodedSize: each expanding frame at a scaled-down size against a
// scaled-down budget. Each is decoded with a budget of exactly its cost
// (which must work) and one unit less (which must be refused before any
// value is built), so that the cost model is pinned down and the tests fail
// if counting is skipped or off by one.
import assert from "node:assert/strict";
import {
  type Codec,
  DEFAULT_MAX_DECODED_SIZE,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { decompressBlosc } from "../../codecs/_blosc.ts";
import { loadCompressor } from "../../codecs/_blosc_compressor.ts";
import { JSON_EXPANSION, MSGPACK_EXPANSION } from "../../codecs/_budget.ts";
import { jsonCost } from "../../codecs/_json_cost.ts";
import { msgpackCost, MsgPackCostScanner } from "../../codecs/_msgpack_cost.ts";
import { SerializationError } from "../../errors.ts";
import { compressRuns, compressSingleRun } from "./_blosc_frames.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const BUDGET = MiB;
const text = new TextEncoder();

/** An array32 of `count` copies of `item`. */
function array32(count: number, item: readonly number[]): Uint8Array {
  const frame = new Uint8Array(5 + count * item.length);
  frame.set([
    0xdd,
    count >>> 24,
    (count >> 16) & 255,
    (count >> 8) & 255,
    count & 255,
  ]);
  for (let i = 0; i < count; i++) frame.set(item, 5 + i * item.length);
  return frame;
}

/** A map32 of `count` copies of the entry `key`, `value`. */
function map32(count: number, entry: readonly number[]): Uint8Array {
  const frame = array32(count, entry);
  frame[0] = 0xdf;
  return frame;
}

type Decoder = (budget: number) => unknown | Promise<unknown>;

/**
 * `decode` works with a budget of exactly `cost` and is refused, with the
 * budget and a count beyond it in the message, with one unit less.
 */
async function assertCosts(
  cost: number,
  decode: Decoder,
  check: (value: unknown) => void = () => {},
): Promise<void> {
  check(await decode(cost));
  await assert.rejects(
    async () => await decode(cost - 1),
    (error: Error) => {
      assert.ok(error instanceof RangeError, String(error));
      assert.match(
        error.message,
        new RegExp(`more than maxDecodedSize \\(${cost - 1} units\\)`),
      );
      return true;
    },
  );
}

const msgpack = (data: Uint8Array): Decoder => (maxDecodedSize) =>
  new MsgPackCodec({ maxDecodedSize }).decode(data);
const json = (data: Uint8Array | string): Decoder => (maxDecodedSize) =>
  new JsonCodec({ maxDecodedSize }).decode(
    typeof data === "string" ? text.encode(data) : data,
  );

Deno.test("maxDecodedSize defaults to 17 Mi units", () => {
  assert.equal(DEFAULT_MAX_DECODED_SIZE, 17 * MiB);
  // Just above the no-counting size, a frame of empty maps is counted.
  const frame = array32(2 * MiB, [0x80]);
  assert.throws(
    () => new MsgPackCodec().decode(frame),
    /more than maxDecodedSize \(17825792 units\)/,
  );
});

Deno.test("maxDecodedSize must be a positive number", () => {
  for (const maxDecodedSize of [0, -1, NaN]) {
    assert.throws(() => new MsgPackCodec({ maxDecodedSize }), RangeError);
    assert.throws(() => new JsonCodec({ maxDecodedSize }), RangeError);
    assert.throws(() => new MsgPackBloscCodec({ maxDecodedSize }), RangeError);
  }
  assert.deepEqual(
    new MsgPackCodec({ maxDecodedSize: Infinity }).decode(array32(3, [0x80])),
    [{}, {}, {}],
  );
});

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

Deno.test("msgpack: a map with keys that are not strings costs 128 more, charged before the Map is made", async () => {
  // {0: {}, 0: {}, …}: a Map (192 units) of 2 slots and a map per entry.
  const count = 12 * KiB;
  await assertCosts(
    192 + 72 * count,
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

Deno.test("json: numbers and literals cost 8, on both parsers", async () => {
  const count = 32 * KiB;
  // JSON.parse, and the full parser (NaN and long integers).
  for (const item of ["1", "true", "NaN", "12345678901234567890"]) {
    await assertCosts(
      56 + 8 * count,
      json(`[${new Array(count).fill(item).join(",")}]`),
      (value) => assert.equal((value as unknown[]).length, count),
    );
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

Deno.test("no frame builds more than the expansion factor per byte (the no-counting rule)", () => {
  // The densest values of each codec.
  const values: unknown[] = [
    [{}],
    [[]],
    [""],
    [0],
    [null],
    [new Uint8Array(0)],
    [new Map([[0, 0]])],
    [new Map([[0, {}]])],
    { "": {} },
    [[[]]],
    [{ "": "" }],
    "",
    0,
    new Uint8Array(0),
    [new Uint8Array(0), new Uint8Array(0)],
  ];
  const mp = new MsgPackCodec();
  const js = new JsonCodec();
  for (const value of values) {
    const bytes = mp.encode(value);
    // Maps beyond the scan: 128 each, added by the reader.
    const maps = value instanceof Array && value[0] instanceof Map ? 128 : 0;
    assert.ok(
      msgpackCost(bytes, Infinity) + maps <= MSGPACK_EXPANSION * bytes.length,
      `msgpack ${Deno.inspect(value)}`,
    );
    if (value instanceof Uint8Array || (value as unknown[])[0] instanceof Map) {
      continue;
    }
    if (value instanceof Array && value[0] instanceof Uint8Array) continue;
    const text = js.encode(value);
    assert.ok(
      jsonCost(text, Infinity) <= JSON_EXPANSION * text.length,
      `json ${Deno.inspect(value)}`,
    );
  }
  // The worst case is reached: an empty bin.
  assert.equal(msgpackCost(new Uint8Array([0xc4, 0x00]), Infinity), 256);
  assert.equal(jsonCost(text.encode("{}"), Infinity), 64);
});

Deno.test("the two codecs count the same cost for the same value", () => {
  const value = [1, 0, ["method", [1, "two", [3.5, null, true]], {
    a: { b: [{}, [], ""] },
    "key with spaces": "value",
  }]];
  assert.equal(
    jsonCost(new JsonCodec().encode(value), Infinity),
    msgpackCost(new MsgPackCodec().encode(value), Infinity),
  );
});

const bloscDecode = (data: Uint8Array): Decoder => (maxDecodedSize) =>
  new MsgPackBloscCodec({ maxDecodedSize }).decode(data);

Deno.test("blosc: a frame that expands into empty maps is charged like MsgPack", async () => {
  const count = 16 * KiB;
  const compressor = await loadCompressor();
  const bomb = await compressor.encode(array32(count, [0x80]));
  assert.ok(bomb.length < 1024, `${bomb.length} bytes`);
  await assertCosts(56 + 64 * count, bloscDecode(bomb));
});

Deno.test("blosc: a one-block run of 4 MiB of empty maps is refused", async () => {
  const frame = compressSingleRun(
    new Uint8Array([0xdd, 0x00, 0x3f, 0xff, 0xfb]),
    0x80,
    4 * MiB,
  );
  assert.ok(frame.length < 32 * KiB);
  await assert.rejects(
    () => new MsgPackBloscCodec({ maxDecodedSize: BUDGET }).decode(frame),
    RangeError,
  );
  // Without a budget it decodes: the frame is valid.
  const value = await new MsgPackBloscCodec({ maxDecodedSize: Infinity })
    .decode(frame);
  assert.equal((value as unknown[]).length, 4 * MiB - 5);
});

Deno.test("blosc: a block beyond 16 MiB is refused when the frame must be counted", async () => {
  const frame = compressSingleRun(new Uint8Array([0xc0]), 0xc0, 16 * MiB + 1);
  await assert.rejects(
    () =>
      new MsgPackBloscCodec({
        maxDecodedSize: 64 * MiB,
        maxDecompressedSize: 64 * MiB,
      }).decode(frame),
    (error: Error) =>
      error instanceof SerializationError &&
      /block size 16777217 exceeds 16777216/.test(error.message),
  );
  // Not counted (it could not reach the budget): decompressed, and malformed.
  await assert.rejects(
    () =>
      new MsgPackBloscCodec({
        maxDecodedSize: Infinity,
        maxDecompressedSize: 64 * MiB,
      }).decode(frame),
    /16777216 bytes after the value/,
  );
  // 16 MiB is accepted.
  await assert.rejects(
    () =>
      new MsgPackBloscCodec({
        maxDecodedSize: 64 * MiB,
        maxDecompressedSize: 64 * MiB,
      }).decode(
        compressSingleRun(new Uint8Array([0xc0]), 0xc0, 16 * MiB),
      ),
    /16777215 bytes after the value/,
  );
});

Deno.test("blosc: counting stops decompression after the block that passes the budget", async () => {
  const compressor = await loadCompressor();
  // 64 blocks or so of 64 Ki empty maps each, behind array16 headers.
  const inner = [0xdc, 0xff, 0xff, ...new Array(65535).fill(0x80)];
  const data = array32(64, inner);
  const frame = await compressor.encode(data);
  const ends: number[] = [];
  assert.throws(
    () =>
      decompressBlosc(frame, Infinity, (out, end) => {
        ends.push(end);
        msgpackCost(out.subarray(0, end), BUDGET);
      }),
    RangeError,
  );
  assert.ok(ends.at(-1)! < data.length / 4, `stopped at ${ends.at(-1)}`);
  await assert.rejects(
    async () => await bloscDecode(frame)(BUDGET),
    RangeError,
  );
});

Deno.test("blosc: bytes after a whole value stop decompression at the first block", () => {
  const frame = compressRuns(0x80, 4 * MiB, MiB);
  const ends: number[] = [];
  let scanner: MsgPackCostScanner | undefined;
  assert.throws(
    () =>
      decompressBlosc(frame, Infinity, (out, end) => {
        ends.push(end);
        (scanner ??= new MsgPackCostScanner(out, BUDGET)).scan(end);
      }),
    /4194303 bytes after the value/,
  );
  assert.deepEqual(ends, [MiB]);
});

Deno.test("blosc: a declared size beyond maxDecodedSize is refused before decompressing", async () => {
  const frame = compressSingleRun(
    new Uint8Array([0xc6, 0, 0x10, 0, 0]),
    0,
    5 + MiB,
  );
  await assert.rejects(
    () => new MsgPackBloscCodec({ maxDecodedSize: MiB }).decode(frame),
    /decompresses to 1048581 bytes, more than maxDecodedSize \(1048576 units\)/,
  );
  const value = await new MsgPackBloscCodec({ maxDecodedSize: MiB + 256 })
    .decode(frame);
  assert.equal((value as Uint8Array).length, MiB);
});

Deno.test("blosc: numcodecs that cannot be loaded fails loudly, naming the codec", async () => {
  const missing = new URL("./no_such_numcodecs.js", import.meta.url).href;
  for (let i = 0; i < 2; i++) {
    // The failure is not kept: the second try imports again.
    await assert.rejects(
      () => loadCompressor(missing),
      (error: Error) =>
        error.message.startsWith(
          `MsgPackBlosc codec unavailable: cannot load numcodecs (${missing}): `,
        ) && error.cause !== undefined,
    );
  }
});

Deno.test({
  name: "importing mod.ts does not pull numcodecs into the module graph",
  ignore: (await Deno.permissions.query({ name: "run" })).state !== "granted",
  async fn() {
    for (const entry of ["mod.ts", "codecs/mod.ts"]) {
      const { stdout, success } = await new Deno.Command(Deno.execPath(), {
        args: ["info", "--json", entry],
        cwd: new URL("../..", import.meta.url),
        stdout: "piped",
        stderr: "null",
      }).output();
      assert.ok(success);
      const { modules } = JSON.parse(new TextDecoder().decode(stdout)) as {
        modules: { specifier: string }[];
      };
      const specifiers = modules.map((module) => module.specifier);
      assert.ok(
        specifiers.some((specifier) => specifier.endsWith("/json_codec.ts")),
        "not a module graph",
      );
      assert.deepEqual(
        specifiers.filter((specifier) => specifier.includes("numcodecs")),
        [],
      );
    }
  },
});

Deno.test("every codec refuses at its budget through the Codec interface", async () => {
  const codecs: Codec[] = [
    new JsonCodec({ maxDecodedSize: 1000 }),
    new MsgPackCodec({ maxDecodedSize: 1000 }),
    new MsgPackBloscCodec({ maxDecodedSize: 1000 }),
  ];
  for (const codec of codecs) {
    const ok = await codec.encode(new Array(100).fill(0)); // 56 + 800
    assert.equal(((await codec.decode(ok)) as unknown[]).length, 100);
    const big = await codec.encode(new Array(200).fill(0)); // 56 + 1600
    await assert.rejects(async () => await codec.decode(big), RangeError);
  }
});
