// maxDecodedSize across codecs: its default and valid values, the cost model
// the codecs share (the expansion bound, equal costs for equal values) and
// refusal at the budget through the Codec interface.
import assert from "node:assert/strict";
import {
  type Codec,
  DEFAULT_MAX_DECODED_SIZE,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";
import { JSON_EXPANSION, MSGPACK_EXPANSION } from "../../codecs/_budget.ts";
import { jsonCost } from "../../codecs/_json_cost.ts";
import { msgpackCost } from "../../codecs/_msgpack_cost.ts";
import { array32, MiB, text } from "./_budget_costs.ts";

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
    [0.5],
    [-0],
    [2 ** 31],
    [2n ** 60n],
    [-(2n ** 63n)],
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

Deno.test("jsonCost: a string ends at the first quote no escape takes, short or long, wherever its escapes fall", () => {
  const encoder = new TextEncoder();
  // Strings of letters, backslashes and quotes, escaped at every offset
  // around the 16 bytes scanned one by one before the native search.
  const pieces = ["a", "\\", '"', 'ab\\"', "\\\\"];
  let seed = 1;
  const next = () => (seed = (seed * 48271) % 2147483647) % pieces.length;
  for (let n = 0; n < 2000; n++) {
    let value = "";
    const count = n % 40;
    for (let k = 0; k < count; k++) value += pieces[next()];
    const text = encoder.encode(JSON.stringify([value, {}]));
    const quoted = encoder.encode(JSON.stringify(value)).length - 2;
    // The array, the string as sent, and the object after it.
    assert.equal(jsonCost(text, Infinity), 56 + 24 + quoted + 64, value);
  }
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

Deno.test("jsonCost: what follows a '{' and is no key ends the count there, as it ends the parsers", () => {
  const text = new TextEncoder().encode("{".repeat(300_000));
  // One object; the second "{" is where JSON.parse fails.
  assert.equal(jsonCost(text, Infinity), 64);
  assert.throws(
    () => new JsonCodec().decode(text),
    (error: Error) => error.name === "SerializationError",
  );
});
