/**
 * Not a test: measures the heap each shape of message builds against what
 * maxDecodedSize charges it (the ratio should stay at or below about 1;
 * docs/limits-codecs.md keeps the latest table). Each decode runs after
 * RPC-like messages, as in a live process: they make V8 box the floats in
 * every array the MsgPack reader makes afterwards.
 *
 * Run: deno run --v8-flags=--expose-gc --allow-read tests/codecs/_measure_cost_model.ts
 */
import { type Codec, JsonCodec, MsgPackCodec } from "../../codecs/mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
const N = 200_000;

function heap(): number {
  gc!();
  gc!();
  return Deno.memoryUsage().heapUsed;
}

/** The smallest budget that lets `bytes` through: what it is charged. */
function charged(make: (budget: number) => Codec, bytes: Uint8Array): number {
  let low = 1;
  let high = 2 ** 40;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    try {
      make(middle).decode(bytes);
      high = middle;
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      low = middle + 1;
    }
  }
  return low;
}

function ratio(make: (budget: number) => Codec, bytes: Uint8Array): string {
  const cost = charged(make, bytes);
  const codec = make(Infinity);
  const before = heap();
  let kept: unknown = codec.decode(bytes);
  const used = heap() - before;
  kept = undefined;
  return `${(used / cost).toFixed(2)}× (${(used / 2 ** 20).toFixed(1)} MiB)`
    .padEnd(20) + String(kept ?? "");
}

const mp = (budget: number) => new MsgPackCodec({ maxDecodedSize: budget });
const js = (budget: number) => new JsonCodec({ maxDecodedSize: budget });
for (const make of [mp, js]) {
  const codec = make(Infinity);
  for (let i = 0; i < 1000; i++) {
    codec.decode(
      codec.encode([0, i, ["add", [1, 2.5, "x"], {}]]) as Uint8Array,
    );
  }
}

const list = (f: (i: number) => unknown, n = N) =>
  Array.from({ length: n }, (_, i) => f(i));
const keys = (n: number, from: number) =>
  Object.fromEntries(list((j) => [`k${from + j}`, 0], n));
const shapes: [string, unknown, boolean][] = [
  ["floats", list((i) => i + 0.5), true],
  ["floats and a string", [...list((i) => i + 0.5), "a"], true],
  ["[float]", list((i) => [i + 0.5]), true],
  ["{x: float}", list((i) => ({ x: i + 0.5 })), true],
  ["integers 2^40 + i", list((i) => 2 ** 40 + i), true],
  ["bigints 2^60 + i", list((i) => 2n ** 60n + BigInt(i)), true],
  ["[bigint]", list((i) => [2n ** 60n + BigInt(i)]), true],
  ["Maps {0: 0}", list(() => new Map([[0, 0]])), false],
  [
    "Maps of 5 float values",
    list(
      () => new Map(list((j) => [j, j + 0.5], 5) as [number, number][]),
      N / 5,
    ),
    false,
  ],
  [
    "one Map of 131073 entries",
    new Map(list((i) => [i, 0], 131073) as [number, number][]),
    false,
  ],
  ["one object of N keys", keys(N, 0), true],
  ["objects of 20 distinct keys", list((i) => keys(20, 20 * i), N / 20), true],
  ["records {a, b}", list((i) => ({ a: i, b: 2 })), true],
  ["[0]", list(() => [0]), true],
  ["[[]]", list(() => [[]]), true],
  ["{}", list(() => ({})), true],
  ["strings 'abc' + i", list((i) => `abc${i}`), true],
  ["strings '€€'", list(() => "€€"), true],
  ["empty bins", list(() => new Uint8Array(0)), false],
];
console.log(
  "shape".padEnd(30),
  "MsgPack".padEnd(20),
  "JSON".padEnd(20),
  "JSON, full parser",
);
for (const [name, value, json] of shapes) {
  const cells = [ratio(mp, mp(Infinity).encode(value))];
  if (json) {
    cells.push(ratio(js, js(Infinity).encode(value)));
    // A NaN sends the text to the full parser.
    cells.push(ratio(js, js(Infinity).encode([value, NaN])));
  }
  console.log(name.padEnd(30), ...cells);
}
