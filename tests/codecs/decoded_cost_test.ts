// Codec.lastDecodedCost: an upper bound of what the latest decode built,
// which a channel charges to each unanswered request.
import assert from "node:assert/strict";
import {
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import {
  JSON_EXPANSION,
  mapExtra,
  MSGPACK_EXPANSION,
} from "../../codecs/_budget.ts";
import { msgpackCost } from "../../codecs/_msgpack_cost.ts";

/** An array32 of `count` empty bins (`c4 00`): 256 units per 2 bytes. */
function emptyBinsFrame(count: number): Uint8Array {
  const frame = new Uint8Array(5 + 2 * count);
  frame[0] = 0xdd;
  new DataView(frame.buffer).setUint32(1, count);
  for (let i = 0; i < count; i++) frame[5 + 2 * i] = 0xc4;
  return frame;
}

Deno.test("MsgPackCodec.lastDecodedCost: length × 128 for a frame too short to count", () => {
  const codec = new MsgPackCodec();
  const frame = emptyBinsFrame(1000);
  codec.decode(frame);
  assert.equal(codec.lastDecodedCost, frame.length * MSGPACK_EXPANSION);
  // A bound of what was built: the counted cost is below it.
  assert.ok(msgpackCost(frame, Infinity) <= codec.lastDecodedCost);
});

Deno.test("MsgPackCodec.lastDecodedCost: the counted cost for a frame that was counted, within the budget", () => {
  const frame = emptyBinsFrame(1000);
  const exact = msgpackCost(frame, Infinity);
  // Small enough a budget that the frame is counted, large enough to pass.
  const codec = new MsgPackCodec({ maxDecodedSize: exact });
  codec.decode(frame);
  assert.equal(codec.lastDecodedCost, exact);
});

Deno.test("MsgPackCodec.lastDecodedCost: a serializer's nested decode adds its cost to the outer message's", () => {
  class Box {
    constructor(readonly inner: Uint8Array) {}
  }
  const codec = new MsgPackCodec();
  codec.addSerializer(
    Box,
    (box) => box.inner,
    (bytes) => {
      codec.decode(new Uint8Array([0x01]));
      return new Box(bytes as Uint8Array);
    },
  );
  const frame = codec.encode([new Box(new Uint8Array(100)), "x".repeat(500)]);
  codec.decode(frame);
  // The frame, and the one byte its serializer decoded again.
  assert.equal(codec.lastDecodedCost, (frame.length + 1) * MSGPACK_EXPANSION);
});

Deno.test("MsgPackCodec and MsgPackBloscCodec: a serializer's nested decodes share what the message left of the budget, siblings too", async () => {
  class Blob {
    constructor(readonly value: unknown) {}
  }
  // 1 KiB of MsgPack that builds about 64 Ki units: 1021 empty maps.
  const inner = new Uint8Array(1024).fill(0x80);
  inner.set([0xdc, 0x03, 0xfd]);
  const budget = 1024 * 1024;
  for (const blosc of [false, true]) {
    const codec = blosc
      ? new MsgPackBloscCodec({ maxDecodedSize: budget })
      : new MsgPackCodec({ maxDecodedSize: budget });
    const innerCodec = blosc ? new MsgPackBloscCodec() : codec;
    const innerFrame = await innerCodec.encode(
      new MsgPackCodec().decode(inner),
    );
    codec.addSerializer(
      Blob,
      () => innerFrame,
      (bytes) => new Blob(codec.decode(bytes as Uint8Array)),
    );
    // Each alone fits the budget; 64 of them build 4 Mi units.
    const frame = await codec.encode(
      Array.from({ length: 64 }, () => new Blob(null)),
    );
    await assert.rejects(
      (async () => {
        const decoded = codec.decode(frame) as unknown;
        const values = await decoded as Blob[];
        await Promise.all(values.map((blob) => blob.value));
      })(),
      RangeError,
      blosc ? "MsgPackBlosc" : "MsgPack",
    );
  }
});

Deno.test("JsonCodec.lastDecodedCost: a text of 16 KiB or more is counted, so a long string is charged its bytes, not 32 units per byte", () => {
  const codec = new JsonCodec();
  const encoder = new TextEncoder();
  // 600 KB: counted for the budget too (600 KB × 32 > 17 Mi units), which
  // charged it the whole budget all the same.
  for (const length of [600_000, 16 * 1024 - 4]) {
    const text = encoder.encode(JSON.stringify(["x".repeat(length)]));
    const decoded = codec.decode(text) as string[];
    assert.equal(decoded[0].length, length);
    // The array (56) and the string (24 + its bytes).
    assert.equal(codec.lastDecodedCost, 56 + 24 + length);
  }
  // A byte shorter: not counted, its bound.
  const short = encoder.encode(JSON.stringify(["x".repeat(16 * 1024 - 5)]));
  codec.decode(short);
  assert.equal(codec.lastDecodedCost, short.length * JSON_EXPANSION);
});

Deno.test("JsonCodec: a long text's integers beyond ±2^53 are bigints, and a 16-digit run elsewhere keeps the native parse", () => {
  const codec = new JsonCodec();
  const padding = "x".repeat(20_000);
  const text = (value: string) =>
    new TextEncoder().encode(`["${padding}",${value}]`);
  for (
    const [literal, expected] of [
      ["9007199254740993", 9007199254740993n],
      ["-12345678901234567890", -12345678901234567890n],
      ["9007199254740992", 9007199254740992],
      ["1234567890123456", 1234567890123456],
      ["0.12345678901234567890", 0.12345678901234567890],
      ['"12345678901234567890"', "12345678901234567890"],
    ] as const
  ) {
    const value = codec.decode(text(literal)) as unknown[];
    assert.deepEqual(value[1], expected, literal);
  }
  // Beyond Python's int_max_str_digits, refused in a long text too.
  assert.throws(() => codec.decode(text("1".repeat(4301))), /4300/);
  // Escaped quotes do not end a string early.
  const escaped = new TextEncoder().encode(
    JSON.stringify([`${padding}\\"\\\"`, 1]),
  );
  assert.deepEqual(codec.decode(escaped), [`${padding}\\"\\\"`, 1]);
});

Deno.test("JsonCodec.lastDecodedCost: length × 32, at most maxDecodedSize when counted", () => {
  const short = new TextEncoder().encode("[{},{},{}]");
  const codec = new JsonCodec();
  codec.decode(short);
  assert.equal(codec.lastDecodedCost, short.length * JSON_EXPANSION);
  const long = new TextEncoder().encode(`[${"{},".repeat(999)}{}]`);
  const budget = 1000 * 64 + 56;
  const counted = new JsonCodec({ maxDecodedSize: budget });
  counted.decode(long);
  assert.equal(counted.lastDecodedCost, budget);
});

Deno.test("MsgPackBloscCodec.lastDecodedCost: charged by the decompressed bytes", async () => {
  const codec = new MsgPackBloscCodec();
  const value = Array.from({ length: 1000 }, () => new Uint8Array(0));
  const frame = await codec.encode(value);
  await codec.decode(frame);
  const raw = new MsgPackCodec().encode(value);
  assert.ok(frame.length < raw.length, "the frame is compressed");
  assert.equal(codec.lastDecodedCost, raw.length * MSGPACK_EXPANSION);
});

Deno.test("JsonCodec: a serializer's nested decodes share what the message left of the budget, siblings too", () => {
  class Blob {
    constructor(readonly value: unknown) {}
  }
  // About 1.5 KB of JSON that builds about 32 Ki units: 511 empty objects.
  const inner = `[${Array(511).fill("{}").join(",")}]`;
  const codec = new JsonCodec({ maxDecodedSize: 1024 * 1024 });
  codec.addSerializer(
    Blob,
    () => inner,
    (text) => new Blob(codec.decode(new TextEncoder().encode(text as string))),
  );
  // One fits; 64 build 2 Mi units, each alone within what is left.
  assert.ok(codec.decode(codec.encode([new Blob(null)]) as Uint8Array));
  const frame = codec.encode(Array.from({ length: 64 }, () => new Blob(null)));
  assert.throws(() => codec.decode(frame as Uint8Array), RangeError);
  // The next message has the whole budget again.
  assert.ok(codec.decode(codec.encode([new Blob(null)]) as Uint8Array));
});

Deno.test("JsonCodec.lastDecodedCost: a counted text whose strings may hold characters beyond U+00FF is charged their bytes twice (V8 keeps them at 2 bytes a character)", () => {
  const codec = new JsonCodec();
  const encoder = new TextEncoder();
  const ascii = "x".repeat(20_000);
  for (
    const [tail, twice] of [
      ["", false],
      ["\\u0100", true],
      ["中", true],
      // Latin-1: V8 keeps it at a byte a character.
      ["é", false],
      ["\\u00e9", false],
    ] as const
  ) {
    const text = encoder.encode(`["${ascii}${tail}"]`);
    codec.decode(text);
    const bytes = text.length - 4;
    assert.equal(
      codec.lastDecodedCost,
      56 + 24 + bytes + (twice ? bytes : 0),
      JSON.stringify(tail),
    );
  }
  // A short text, counted for a small budget (by the byte loop).
  const tight = new JsonCodec({ maxDecodedSize: 4000 });
  tight.decode(encoder.encode(`["${"x".repeat(200)}中"]`));
  assert.equal(tight.lastDecodedCost, 56 + 24 + 203 + 203);
  tight.decode(encoder.encode(`["${"x".repeat(200)}é"]`));
  assert.equal(tight.lastDecodedCost, 56 + 24 + 202);
  // Refused where that goes beyond the budget.
  const small = new JsonCodec({ maxDecodedSize: 30_000 });
  small.decode(encoder.encode(`["${ascii}"]`));
  assert.throws(
    () => small.decode(encoder.encode(`["${ascii}中"]`)),
    /RangeError: Cannot decode JSON: .*characters beyond U\+00FF/,
  );
});

Deno.test("JsonCodec: a text with an escaped key gets that key, whatever V8's JSON.parse met before", () => {
  const codec = new JsonCodec();
  const encoder = new TextEncoder();
  const padding = "p".repeat(20_000);
  for (const long of [false, true]) {
    const text = (key: string) =>
      encoder.encode(
        long ? `{"pad":"${padding}","x":1,"${key}":1}` : `{"x":1,"${key}":1}`,
      );
    // Primes V8's JSON.parse with a key that is a backslash.
    JSON.parse(`{"pad":"${padding}","x":1,"\\\\":1}`);
    JSON.parse(`{"x":1,"\\\\":1}`);
    for (
      const [key, expected] of [
        ["\\u0042", "B"],
        ['\\"', '"'],
        ["\\n", "\n"],
        ["\\\\", "\\"],
      ]
    ) {
      const value = codec.decode(text(key)) as Record<string, unknown>;
      assert.deepEqual(Object.keys(value).at(-1), expected, `${long} ${key}`);
    }
  }
});

Deno.test("MsgPackCodec.lastDecodedCost: a frame of 16 KiB or more is counted, so bulk payloads are charged about their bytes, not 128 units per byte", async () => {
  for (const codec of [new MsgPackCodec(), new MsgPackBloscCodec()]) {
    const cases: [string, unknown, number][] = [
      ["a 64 KiB bin", new Uint8Array(64 * 1024), 1.1],
      ["11 000 floats", Array.from({ length: 11_000 }, (_, i) => i + 0.5), 3],
      [
        "9 000 short strings",
        Array.from({ length: 9000 }, () => "abcdefghij"),
        4,
      ],
    ];
    for (const [what, value, perByte] of cases) {
      const raw = new MsgPackCodec().encode([0, 1, ["m", [value], {}]]);
      await codec.decode(await codec.encode([0, 1, ["m", [value], {}]]));
      const exact = msgpackCost(raw, Infinity);
      assert.ok(
        codec.lastDecodedCost >= exact,
        `${codec.name}, ${what}: ${codec.lastDecodedCost} < ${exact}`,
      );
      assert.ok(
        codec.lastDecodedCost <= raw.length * perByte,
        `${codec.name}, ${what}: ${codec.lastDecodedCost} units for ${raw.length} bytes`,
      );
    }
  }
});

Deno.test("MsgPackCodec.lastDecodedCost: a frame of many small values, counted in part, is still an upper bound", () => {
  const codec = new MsgPackCodec();
  // 40 000 one-byte integers, then a 64 KiB bin: the count stops before
  // the bin, so the rest is charged its worst per byte.
  const value = [
    Array.from({ length: 40_000 }, () => 1),
    new Uint8Array(65536),
  ];
  const frame = codec.encode(value);
  codec.decode(frame);
  const exact = msgpackCost(frame, Infinity);
  assert.ok(codec.lastDecodedCost >= exact);
  assert.ok(codec.lastDecodedCost <= frame.length * MSGPACK_EXPANSION);
  // Malformed headers inside the part counted are refused as before.
  const bad = frame.slice();
  bad[10] = 0xc1;
  assert.throws(() => codec.decode(bad), /0xc1/);
});

Deno.test("MsgPackCodec.lastDecodedCost: a counted frame's maps that become a Map are charged their extra cost too", () => {
  // Over 136 KiB (counted whole) and under it (counted as bulk): maps
  // with integer keys, each a Map of 8 entries.
  for (const count of [12_000, 2_000]) {
    const codec = new MsgPackCodec();
    const maps = Array.from(
      { length: count },
      (_, i) => new Map(Array.from({ length: 8 }, (_, k) => [k, i])),
    );
    const frame = codec.encode(maps);
    codec.decode(frame);
    const counted = msgpackCost(frame, Infinity);
    const extra = mapExtra(8);
    assert.ok(
      codec.lastDecodedCost >= counted + count * extra,
      `${frame.length} bytes: ${codec.lastDecodedCost} < ${counted} + ${count} × ${extra}`,
    );
  }
});

Deno.test("MsgPackCodec: a frame counted in part is charged at most 128 units per byte, Maps included, and leaves its serializers what that leaves", () => {
  const codec = new MsgPackCodec();
  // Many one-byte values use up the headers counted; then Maps with
  // integer keys, which cost more than their bytes' slots.
  const value = [
    Array.from({ length: 4000 }, () => 1),
    Array.from({ length: 40_000 }, (_, i) => new Map([[i & 0x7f, 0]])),
  ];
  const frame = codec.encode(value);
  codec.decode(frame);
  assert.ok(
    codec.lastDecodedCost <= frame.length * MSGPACK_EXPANSION,
    `${codec.lastDecodedCost} units for ${frame.length} bytes`,
  );
  // Just under maxDecodedSize / 128: one serialized value first, then
  // the headers used up by empty bins, then one-byte integers. Its nested
  // decode must get what the whole frame's bound leaves, not less.
  class Box {}
  const boxes = new MsgPackCodec();
  boxes.addSerializer(
    Box,
    () => null,
    (data: unknown) => boxes.decode(data as Uint8Array),
  );
  const length = 139_000;
  const bins = Math.floor(length / 8);
  const ones = length - 2 * bins - 40;
  const bytes = new Uint8Array(5 + 2 * bins + ones + 64);
  bytes[0] = 0xdd;
  const head = boxes.encode({ __type__: [0, boxes.encode(1)] });
  let at = 5;
  bytes.set(head, at);
  at += head.length;
  for (let i = 0; i < bins; i++, at += 2) bytes[at] = 0xc4;
  bytes.fill(1, at, at + ones);
  at += ones;
  new DataView(bytes.buffer).setUint32(1, 1 + bins + ones);
  const whole = bytes.subarray(0, at);
  assert.ok(whole.length * MSGPACK_EXPANSION <= 17 * 1024 * 1024);
  const decoded = boxes.decode(whole) as unknown[];
  assert.equal(decoded.length, 1 + bins + ones);
});

Deno.test("MsgPackCodec: a run of floats is refused at the float that passes the budget, before bad bytes after it", () => {
  const codec = new MsgPackCodec({ maxDecodedSize: 1000 });
  // An array16 of 100 floats and then 0xc1, which is not MsgPack.
  const frame = new Uint8Array(3 + 100 * 9 + 1);
  frame.set([0xdc, 0, 101]);
  for (let i = 0; i < 100; i++) frame[3 + 9 * i] = 0xcb;
  frame[frame.length - 1] = 0xc1;
  assert.throws(() => codec.decode(frame), RangeError);
});
