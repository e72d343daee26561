// The wire fuzzer of the reliability suite: a seeded PRNG, a generator of
// hostile inputs for each codec, and a driver that throws them at a real RPC
// server over many short TCP connections while a well-behaved client keeps
// calling it on its own connection.
//
// Every input is derived from (seed, codec, index) alone, so any input the
// driver reports can be rebuilt with `generateInput(codec, seed, index)`.
//
// The driver does not trust the generator's intent: it parses the bytes of
// each input itself (frames, then a decode with the same codec class) and
// derives what the server must do: answer every request it was sent (each
// id exactly once), or close the connection when something was wrong, or
// wait for more bytes when the input ends inside a frame (then the driver
// sends EOF and the server must close).

import { concat } from "../_frames.ts";

import {
  type Codec,
  type CodecClass,
  expose,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
  ProtocolError,
  rpc,
} from "../../mod.ts";

// ---------------------------------------------------------------------------
// PRNG

/** mulberry32: a small, fast, seeded 32-bit PRNG (no dependency). */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      out[i] = v;
      if (i + 1 < n) out[i + 1] = v >>> 8;
      if (i + 2 < n) out[i + 2] = v >>> 16;
      if (i + 3 < n) out[i + 3] = v >>> 24;
    }
    return out;
  }
}

/** Mixes numbers into one 32-bit seed (for per-input generators). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    let x = part >>> 0;
    for (let i = 0; i < 4; i++) {
      h = Math.imul(h ^ (x & 0xff), 0x01000193);
      x >>>= 8;
    }
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
  }
  return (h ^ (h >>> 15)) >>> 0;
}

// ---------------------------------------------------------------------------
// Codecs

/** The codecs the fuzzer covers. */
export type CodecName = "json" | "msgpack" | "msgpackblosc";

export const CODEC_NAMES: readonly CodecName[] = [
  "json",
  "msgpack",
  "msgpackblosc",
];

export const CODEC_CLASSES: Record<CodecName, CodecClass> = {
  json: JsonCodec,
  msgpack: MsgPackCodec,
  msgpackblosc: MsgPackBloscCodec,
};

/** The server's limits (defaults of the library). */
export const MAX_FRAME_SIZE = 16 * 1024 * 1024;
export const MAX_DEPTH = 128;

/** What a service reference received from the peer decodes to in the oracle. */
export class RefMarker {
  constructor(readonly path: string) {}
}

/**
 * A codec like the server's: the same class, with the RPC layer's service
 * reference serializer (typeid 0) registered, so that it decodes exactly
 * what the server decodes.
 */
export function oracleCodec(name: CodecName): Codec {
  const codec = new CODEC_CLASSES[name]();
  codec.addSerializer(
    Object,
    () => {
      throw new TypeError("the oracle never encodes references");
    },
    (path: unknown) => {
      if (typeof path !== "string") {
        throw new TypeError("a service reference path must be a string");
      }
      return new RefMarker(path);
    },
  );
  return codec;
}

let compressor:
  | Promise<{ encode(data: Uint8Array): Promise<Uint8Array> }>
  | undefined;

/** Real c-blosc (numcodecs, as the codec uses it) around arbitrary bytes. */
async function bloscCompress(data: Uint8Array): Promise<Uint8Array> {
  compressor ??= import("npm:numcodecs@^0.3.2/blosc").then((
    { default: Blosc },
  ) =>
    Blosc.fromConfig({
      id: "blosc",
      clevel: 9,
      cname: "blosclz",
      shuffle: 1,
      blocksize: 0,
    })
  ) as Promise<{ encode(data: Uint8Array): Promise<Uint8Array> }>;
  return await (await compressor).encode(data);
}

/** A stored (memcpy) blosc 1.x frame around `data`, built by hand. */
function bloscStored(
  data: Uint8Array,
  flags = 0x13,
  typesize = 8,
): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  out[0] = 2;
  out[1] = 1;
  out[2] = flags;
  out[3] = typesize;
  view.setUint32(4, data.length, true);
  view.setUint32(8, data.length, true);
  view.setUint32(12, out.length, true);
  out.set(data, 16);
  return out;
}

// ---------------------------------------------------------------------------
// Bytes helpers

const utf8 = new TextEncoder();

/** A frame: 4-byte big-endian length, then the payload. */
export function frame(
  payload: Uint8Array,
  length = payload.length,
): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, length >>> 0);
  out.set(payload, 4);
  return out;
}

export function hex(bytes: Uint8Array, max = 96): string {
  const shown = Array.from(
    bytes.subarray(0, max),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  return bytes.length > max ? `${shown}… (${bytes.length} bytes)` : shown;
}

// ---------------------------------------------------------------------------
// Values

const STRINGS = [
  "",
  "a",
  "add",
  "echo",
  "__proto__",
  "constructor",
  "toString",
  "prototype",
  "\u0000",
  "\u00e9\u4e2d\ud83d\ude00",
  '"\\/\b\f\n\r\t',
  "\ud800",
  "\udfff",
  "NaN",
  "null",
  "x".repeat(300),
];

const KEYS = [
  "a",
  "b",
  "",
  "__proto__",
  "constructor",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "length",
  "0",
  "1",
  "\u00e9",
  "key with spaces",
];

/**
 * A random string; for JSON also with lone surrogates (JSON carries them
 * as escapes; MsgPack refuses them, so its strings are well-formed).
 */
function randomString(rng: Rng, name: CodecName): string {
  const text = randomText(rng);
  return name === "json" ? text : text.toWellFormed();
}

function randomText(rng: Rng): string {
  if (rng.chance(0.5)) return rng.pick(STRINGS);
  const length = rng.chance(0.9) ? rng.int(12) : rng.int(2000);
  let text = "";
  for (let i = 0; i < length; i++) {
    const r = rng.int(10);
    text += r < 6
      ? String.fromCharCode(0x20 + rng.int(95))
      : r < 8
      ? String.fromCharCode(rng.int(0x800))
      : r < 9
      ? String.fromCodePoint(0x10000 + rng.int(0x1000))
      : String.fromCharCode(rng.int(0x10000));
  }
  return text;
}

function randomNumber(rng: Rng, name: CodecName): number | bigint {
  switch (rng.int(12)) {
    case 0:
      return rng.int(256) - 128;
    case 1:
      return rng.u32() - 2 ** 31;
    case 2:
      return rng.pick([2 ** 53, -(2 ** 53), 2 ** 53 - 1, 2 ** 32, -(2 ** 31)]);
    case 3:
      return rng.pick([NaN, Infinity, -Infinity, -0, 0]);
    case 4:
      return rng.pick([1e308, 5e-324, -1e-300, 0.1, 1 / 3, 1e21]);
    case 5:
      return (rng.float() - 0.5) * 10 ** rng.int(30);
    case 6: {
      // Beyond 2^53: bigint (64-bit for MsgPack).
      const big = (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
      if (name === "json" && rng.chance(0.5)) {
        return big * 10n ** BigInt(rng.int(30)) + 2n ** 53n + 1n;
      }
      return rng.chance(0.5)
        ? (big | (1n << 62n))
        : -(big & ((1n << 62n) - 1n)) - 2n ** 53n - 1n;
    }
    default:
      return rng.int(1000);
  }
}

/**
 * A random value that `name`'s codec can encode: scalars, strings, bytes
 * (MsgPack), arrays, plain objects with awkward keys, Maps; with `refs`,
 * service references (`{"__type__": [0, path]}`) too.
 */
export function randomValue(
  rng: Rng,
  name: CodecName,
  depth = 0,
  refs = false,
): unknown {
  const r = rng.int(depth > 3 ? 8 : 12);
  switch (r) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
    case 3:
      return randomNumber(rng, name);
    case 4:
    case 5:
      return randomString(rng, name);
    case 6:
      if (name !== "json") {
        return rng.bytes(rng.chance(0.9) ? rng.int(20) : rng.int(3000));
      }
      return randomString(rng, name);
    case 7:
      if (refs && rng.chance(0.3)) {
        return { __type__: [0, rng.pick(["", "add", "x", "sub/mul"])] };
      }
      return rng.int(10);
    case 8:
    case 9: {
      const length = rng.int(5);
      const array: unknown[] = [];
      for (let i = 0; i < length; i++) {
        array.push(randomValue(rng, name, depth + 1, refs));
      }
      return array;
    }
    case 10: {
      const object: Record<string, unknown> = {};
      const size = rng.int(4);
      for (let i = 0; i < size; i++) {
        const key = rng.chance(0.7) ? rng.pick(KEYS) : randomString(rng, name);
        // Own data property, even for "__proto__".
        Object.defineProperty(object, key, {
          value: randomValue(rng, name, depth + 1, refs),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return object;
    }
    default: {
      const map = new Map<unknown, unknown>();
      const size = rng.int(4);
      for (let i = 0; i < size; i++) {
        const key = name === "json"
          ? (rng.chance(0.5) ? rng.int(100) : rng.pick(KEYS))
          : rng.pick<unknown>([
            rng.int(100),
            -1,
            rng.pick(KEYS),
            null,
            true,
            1.5,
            rng.bytes(2),
          ]);
        map.set(key, randomValue(rng, name, depth + 1, refs));
      }
      return map;
    }
  }
}

/** Request ids of every type. */
function randomId(rng: Rng, name: CodecName): unknown {
  switch (rng.int(14)) {
    case 0:
      return rng.int(1000);
    case 1:
      return -1 - rng.int(1000);
    case 2:
      return 2 ** 32 + rng.int(1000);
    case 3:
      return rng.pick([1.5, NaN, Infinity, -0]);
    case 4:
      return randomString(rng, name);
    case 5:
      return null;
    case 6:
      return rng.chance(0.5);
    case 7:
      return [rng.int(10), "x"];
    case 8:
      return { id: rng.int(10) };
    case 9:
      return name === "json" ? 2n ** 70n : 2n ** 63n + BigInt(rng.int(1000));
    case 10:
      return name === "json" ? "bytes" : rng.bytes(rng.int(8));
    case 11:
      return new Map<unknown, unknown>([[name === "json" ? 1 : 1.5, "a"]]);
    default:
      return rng.int(100);
  }
}

// ---------------------------------------------------------------------------
// The input generator

/** One fuzz input: the bytes a raw peer writes, and where to split the writes. */
export interface FuzzInput {
  codec: CodecName;
  index: number;
  family: string;
  bytes: Uint8Array;
  /** Offsets at which the bytes are written in separate writes. */
  splits: number[];
}

/**
 * Input families left out by default: those that trigger a known, unfixed
 * bug (each with an ignored test in bugs_test.ts). Empty now: the families
 * that found bugs 1–4 ("ref-id", "ref-hostile-keys", "hostile-tostring")
 * pass since 9eb10ae and run by default.
 */
export const KNOWN_BUG_FAMILIES: readonly string[] = [];

type Family = (g: Gen) => Promise<Uint8Array> | Uint8Array;

/** Encoding helpers bound to one codec and one input's PRNG. */
class Gen {
  readonly codec: Codec;
  constructor(readonly name: CodecName, readonly rng: Rng) {
    this.codec = new CODEC_CLASSES[name]();
  }

  /** A valid payload of `value`. */
  async payload(value: unknown): Promise<Uint8Array> {
    return await this.codec.encode(value);
  }

  /** Raw MsgPack (or JSON text) bytes as a payload of this codec. */
  async wrap(raw: Uint8Array): Promise<Uint8Array> {
    if (this.name !== "msgpackblosc") return raw;
    return this.rng.chance(0.6)
      ? bloscStored(raw, this.rng.pick([0x13, 0x03]))
      : await bloscCompress(raw);
  }

  /** A message payload that MsgPack encodes, for raw MsgPack tricks. */
  msgpack(value: unknown): Uint8Array {
    return new MsgPackCodec().encode(value) as Uint8Array;
  }

  async frameOf(value: unknown): Promise<Uint8Array> {
    return frame(await this.payload(value));
  }

  /** A well-formed RPC request frame. */
  async validCall(): Promise<Uint8Array> {
    return await this.frameOf([0, this.rng.int(100000), validCall(this)]);
  }
}

function validCall(g: Gen): unknown[] {
  const { rng, name } = g;
  switch (rng.int(6)) {
    case 0:
    case 1:
      return ["add", [randomNumber(rng, name), randomNumber(rng, name)], {}];
    case 2:
      return [rng.pick(["echo", "echoAsync"]), [randomValue(rng, name)], {}];
    case 3:
      return [
        "sub/mul",
        [rng.int(100)],
        rng.chance(0.5) ? { b: rng.int(100) } : {},
      ];
    case 4:
      return ["fail", [randomString(rng, name)], {}];
    default:
      return ["add", [randomValue(rng, name), randomValue(rng, name)], {}];
  }
}

/** Nested arrays `depth` deep around a scalar, as raw codec bytes. */
function deepRaw(g: Gen, depth: number, head = "", tail = ""): Uint8Array {
  if (g.name === "json") {
    return utf8.encode(
      head + "[".repeat(depth) + "1" + "]".repeat(depth) + tail,
    );
  }
  const out = new Uint8Array(depth + 1);
  out.fill(0x91, 0, depth);
  out[depth] = 0x01;
  return out;
}

const RPC_MALFORMED: ((g: Gen) => unknown)[] = [
  () => ["add", [1, 2]],
  () => ["add", [1, 2], {}, 4],
  () => "add",
  () => 42,
  () => null,
  () => ({ path: "add" }),
  () => ["add", { 0: 1 }, {}],
  () => ["add", "12", {}],
  () => ["add", [1, 2], []],
  () => ["add", [1, 2], null],
  () => ["add", [1, 2], "kw"],
  () => ["add", [1, 2], new Map<unknown, unknown>([[1, 2]])],
  () => [42, [1, 2], {}],
  () => [null, [], {}],
  () => [["add"], [1, 2], {}],
  () => [true, [], {}],
  (
    g,
  ) => [
    g.rng.pick([
      "__proto__",
      "constructor",
      "toString",
      "valueOf",
      "hasOwnProperty",
      "__defineGetter__",
      "isPrototypeOf",
      "toLocaleString",
      "then",
      "prototype",
      "length",
      "name",
      "call",
      "apply",
      "bind",
    ]),
    [],
    {},
  ],
  (
    g,
  ) => [
    `sub/${
      g.rng.pick([
        "__proto__",
        "constructor",
        "toString",
        "mul/x",
        "",
        "valueOf",
      ])
    }`,
    [1],
    {},
  ],
  (
    g,
  ) => [
    `${g.rng.pick(["__proto__", "constructor", "add", "echo"])}/${
      g.rng.pick([
        "call",
        "apply",
        "bind",
        "prototype",
        "constructor",
        "__proto__",
        "name",
      ])
    }`,
    [],
    {},
  ],
  () => ["", [], {}],
  () => ["/", [], {}],
  () => ["add/", [1, 2], {}],
  () => ["/add", [1, 2], {}],
  () => ["add//", [1, 2], {}],
  () => ["sub", [], {}],
  () => ["secret", [], {}],
  () => ["nope", [], {}],
  () => ["a/".repeat(5000) + "b", [], {}],
  () => ["x".repeat(100000), [], {}],
  () => ["add", [1, 2], { __proto__: null, b: 1 }],
  (g) => {
    const kwargs: Record<string, unknown> = {};
    Object.defineProperty(
      kwargs,
      g.rng.pick(["__proto__", "constructor", "toString"]),
      {
        value: 1,
        enumerable: true,
        writable: true,
        configurable: true,
      },
    );
    return ["sub/mul", [1], kwargs];
  },
  () => ["sub/mul", [6], { b: 7 }],
  () => ["sub/mul", [6], { a: 1 }],
  () => ["sub/mul", [], { b: 2, c: 3 }],
  () => ["echo", new Array(200000).fill(0), {}],
  () => ["add", [], {}],
  () => ["add", [1, 2, 3, 4, 5], {}],
];

/** Hand-made JSON texts: Python's tokens, number edge cases, bad syntax. */
function jsonText(g: Gen): Uint8Array {
  const { rng } = g;
  const num = () =>
    rng.pick([
      "NaN",
      "Infinity",
      "-Infinity",
      "1e999",
      "-0",
      "-0.0",
      "123456789012345678901234567890",
      "-9007199254740993",
      "9007199254740993",
      "0.1",
      "1E5",
      "-1e-400",
      "01",
      "+1",
      ".5",
      "1.",
      "0x10",
      "nan",
      "inf",
      "1e",
      "--1",
      "1_000",
    ]);
  const id = rng.pick([
    "0",
    "1",
    "-1",
    "1.5",
    '"id"',
    "null",
    "[]",
    "{}",
    "NaN",
    "99999999999999999999999",
  ]);
  const templates = [
    () => `[0, ${id}, ["add", [${num()}, ${num()}], {}]]`,
    () => `[0,${id},["echo",[${num()}],{}]]`,
    () => `\ufeff[0, ${id}, ["add", [1, 2], {}]]`,
    () => ` \n\t[0, ${id}, ["add", [1, 2], {}]] \r\n`,
    () => `[0, ${id}, ["add", [1, 2], {}]] x`,
    () => `[0, ${id}, ["add", [1, 2], {},]]`,
    () => `[0, ${id}, ["add", [1, 2], {}]] // comment`,
    () => `[0, ${id}, ['add', [1, 2], {}]]`,
    () => `[0, ${id}, ["add", [1, 2], {b: 1}]]`,
    () => `[0, ${id}, ["sub/mul", [6], {"b": 1, "b": 7}]]`,
    () => `[0, ${id}, ["add", [1, 2], {"__proto__": {"b": 1}}]]`,
    () => `[0, ${id}, ["echo", [{"__proto__": {"polluted": 1}}], {}]]`,
    () => `[0, ${id}, ["echo", ["\\ud800\\udc00\\ud800"], {}]]`,
    () => `[0, ${id}, ["echo", ["\\x41"], {}]]`,
    () => `[0, ${id}, ["echo", ["unterminated], {}]]`,
    () => `[0, ${id}, ["echo", ["\u0001\u001f"], {}]]`,
    () => `[0, ${id}, ["echo", [${num()}], {}]]`.repeat(2),
    () => `[0 ${id} ["add" [1 2] {}]]`,
    () => `{"0": 0, "1": ${id}, "2": ["add", [1, 2], {}]}`,
    () =>
      `[0, ${id}, ["echo", [{"__type__": ${
        rng.pick([
          "[0]",
          '"x"',
          "[1, 2]",
          "[-1, 0]",
          "[0.5, 0]",
          "[99999999999999999999, 0]",
          "[0, 1]",
          "null",
          "[0, 2, 3]",
        ])
      }}], {}]]`,
    () =>
      `[0, ${id}, ["echo", [{"a": 1, "__type__": [0, "add"], "b": 2}], {}]]`,
    () =>
      "[" + "[".repeat(rng.pick([126, 127, 128, 129, 10000, 100000])) +
      "]".repeat(0),
    () =>
      `[0, ${id}, ["echo", ${
        "[".repeat(rng.pick([120, 123, 124, 125, 126, 200]))
      }1${"]".repeat(0)}`,
    () =>
      `[0, ${id}, ${
        rng.pick(["true", "false", "null", "1", '"s"', "{}", "[]"])
      }]`,
    () => "",
    () => " ",
    () => "null",
    () => "[]",
    () => "[0, 1, NaN",
  ];
  const text = rng.pick(templates)();
  let bytes: Uint8Array = utf8.encode(text);
  if (rng.chance(0.15)) {
    // Invalid UTF-8 somewhere: a stray byte, an overlong form, a surrogate.
    const bad = rng.pick([[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [
      0xe2,
      0x82,
    ], [0x80]]);
    const at = rng.int(bytes.length + 1);
    bytes = concat([
      bytes.subarray(0, at),
      new Uint8Array(bad),
      bytes.subarray(at),
    ]);
  }
  return bytes;
}

/** Bytes from hex; spaces are ignored. */
function unhex(text: string): number[] {
  const clean = text.replace(/\s+/g, "");
  const out: number[] = [];
  for (let i = 0; i < clean.length; i += 2) {
    out.push(parseInt(clean.slice(i, i + 2), 16));
  }
  return out;
}

/** Hand-made MsgPack bytes of messages: every odd corner of the format. */
function msgpackBytes(g: Gen): Uint8Array {
  const { rng } = g;
  // [0, <id>, …] with ids of odd encodings.
  const head = "93 00" + rng.pick([
    "01",
    "cf ffffffffffffffff", // uint64 max
    "d3 8000000000000000", // int64 min
    "ca 7fc00000", // float32 NaN
    "c4 02 dead", // bin
    "c0", // nil
    "91 c0", // [nil]
    "81 01 02", // {1: 2}
    "81 91 01 02", // {[1]: 2}
  ]);
  // ["add", <args>, {}] and ["echo", [<value>], {}].
  const add = (args: string) => `93 a3 616464 ${args} 80`;
  const echo = (value: string) => `93 a4 6563686f 91 ${value} 80`;
  const variants = [
    `${head} ${add("92 01 02")}`,
    `${head} c1`, // never used
    `${head} d4 01 00`, // fixext 1
    `${head} c7 01 05 00`, // ext 8
    `${head} d6 ff 00000001`, // timestamp 32
    `${head} a2 fffe`, // invalid UTF-8
    `${head} a3 eda080`, // an encoded surrogate
    `${head} d9 c8 616263`, // str 8 longer than the data
    `${head} dd ffffffff 01`, // array 32 of 2^32 - 1
    `${head} df ffffffff 01 02`, // map 32 of 2^32 - 1
    `${head} c6 fffffff0 00`, // bin 32 of ~4 GiB
    `${head} db 7fffffff 61`, // str 32 of 2 GiB
    `${head} ${add("92 01 02")} 00`, // a byte after the value
    `${head} ${add("92 ca7fc00000 01")}`, // float32 NaN + 1
    `${head} ${echo("81 92 01 02 03")}`, // {[1, 2]: 3}
    `${head} ${echo("82 c0 01 c0 02")}`, // {nil: 1, nil: 2}
    `${head} ${echo("81 a8 5f5f747970655f5f 92 05 c0")}`, // unknown typeid
    `${head} ${echo("82 01 02 a8 5f5f747970655f5f 92 00 a0")}`, // int key + ref
    `${head} ${echo("81 a9 5f5f70726f746f5f5f 81 a1 78 01")}`, // __proto__
    `${head} ${echo("82 a1 61 01 a1 61 02")}`, // a duplicate key
    `${head} 93 cd 0001 90 80`, // path 1
    `${head} 93 a3 616464 dc 0002 01 02 80`, // array 16 args
    `${head} 93 a3 616464 92 01 02 81 01 02`, // kwargs {1: 2}
    "92 00 01",
    "94 00 01 c0 c0",
    "93 03 01 c0",
    "93 ff 01 c0",
    "93 a1 30 01 c0",
    "93 cb 0000000000000000 01 c0",
    "93 c3 01 c0",
    "93 cc 00 01 c0",
    "93",
    "c0",
    "90",
    "80",
  ];
  return new Uint8Array(unhex(rng.pick(variants)));
}

/** Blosc frames with damaged or hostile headers around a valid message. */
async function bloscFrame(g: Gen): Promise<Uint8Array> {
  const { rng } = g;
  const inner = g.msgpack([0, rng.int(1000), validCall(g)]);
  const good = rng.chance(0.5)
    ? await bloscCompress(inner)
    : bloscStored(inner);
  const out = good.slice();
  const view = new DataView(out.buffer);
  switch (rng.int(12)) {
    case 0:
      out[0] = rng.pick([0, 1, 3, 255]);
      break;
    case 1:
      out[2] = rng.pick([
        0x04,
        0x05,
        0x20,
        0x40,
        0xe0,
        0x13 | 0x04,
        0x00,
        0x10,
        0x12,
      ]);
      break;
    case 2:
      out[3] = rng.pick([0, 1, 3, 7, 255]);
      break;
    case 3:
      view.setUint32(
        4,
        rng.pick([
          0,
          1,
          inner.length - 1,
          inner.length + 1,
          0xffffffff,
          MAX_FRAME_SIZE + 1,
        ]),
        true,
      );
      break;
    case 4:
      view.setUint32(8, rng.pick([0, 1, 3, 0xffffffff, 1 << 20]), true);
      break;
    case 5:
      view.setUint32(
        12,
        rng.pick([0, 15, 16, out.length - 1, out.length + 1, 0xffffffff]),
        true,
      );
      break;
    case 6:
      if (out.length >= 20) {
        view.setUint32(
          16,
          rng.pick([0, 15, 16, 19, out.length, 0xfffffff0]),
          true,
        );
      }
      break;
    case 7:
      // A short frame that claims a large, allowed output (rarely: 64 MiB).
      view.setUint32(
        4,
        rng.chance(0.05) ? MAX_FRAME_SIZE : rng.range(1, 1 << 20),
        true,
      );
      out[2] = 0x01;
      break;
    case 8:
      return out.subarray(0, rng.range(0, 15));
    case 9:
      return concat([out, rng.bytes(rng.range(1, 8))]);
    default:
      for (let i = rng.range(1, 3); i > 0; i--) {
        out[rng.int(out.length)] ^= 1 << rng.int(8);
      }
  }
  return out;
}

const FAMILIES: Record<string, [weight: number, make: Family]> = {
  "valid-call": [10, (g) => g.validCall()],
  "valid-any-id": [
    4,
    (g) =>
      g.frameOf([0, randomId(g.rng, g.name), ["add", [
        g.rng.int(100),
        g.rng.int(100),
      ], {}]]),
  ],
  "flip": [10, async (g) => {
    const bytes = (await g.validCall()).slice();
    for (let i = g.rng.range(1, 4); i > 0; i--) {
      bytes[g.rng.int(bytes.length)] ^= 1 << g.rng.int(8);
    }
    return bytes;
  }],
  "truncate": [5, async (g) => {
    const bytes = await g.validCall();
    return bytes.subarray(0, g.rng.range(1, bytes.length - 1));
  }],
  "len-long": [3, async (g) => {
    const payload = await g.payload([0, g.rng.int(1000), validCall(g)]);
    return frame(payload, payload.length + g.rng.range(1, 1000));
  }],
  "len-short": [3, async (g) => {
    const payload = await g.payload([0, g.rng.int(1000), validCall(g)]);
    return frame(payload, g.rng.range(1, Math.max(1, payload.length - 1)));
  }],
  "len-zero": [
    2,
    async (g) =>
      frame(
        g.rng.chance(0.5)
          ? new Uint8Array(0)
          : await g.payload([0, 1, ["add", [1, 2], {}]]),
        0,
      ),
  ],
  "len-huge": [2, (g) => {
    const length = g.rng.chance(0.3)
      ? MAX_FRAME_SIZE + 1
      : MAX_FRAME_SIZE + 1 + g.rng.int(0xffffffff - MAX_FRAME_SIZE);
    return frame(g.rng.bytes(g.rng.int(16)), length);
  }],
  "random-payload": [5, (g) => frame(g.rng.bytes(g.rng.range(1, 200)))],
  "random-bytes": [3, (g) => g.rng.bytes(g.rng.range(1, 64))],
  "codec-values": [5, (g) => g.frameOf(randomValue(g.rng, g.name))],
  "wrong-shape": [8, (g) => {
    const { rng, name } = g;
    const content = validCall(g);
    const id = randomId(rng, name);
    const shapes: unknown[] = [
      randomValue(rng, name),
      [],
      [0],
      [0, id],
      [0, id, content, 4],
      [
        rng.pick([
          3,
          -1,
          "0",
          null,
          0.5,
          true,
          [0],
          1.0000001,
          2 ** 32,
          "request",
        ]),
        id,
        content,
      ],
      { 0: 0, 1: id, 2: content },
      name === "json"
        ? "[0, 1, 2]"
        : new Map<unknown, unknown>([[0, 0], [1, 1], [2, content]]),
    ];
    return g.frameOf(rng.pick(shapes));
  }],
  "unknown-reply": [4, (g) =>
    g.frameOf([
      g.rng.pick([1, 2]),
      randomId(g.rng, g.name),
      g.rng.chance(0.5)
        ? randomValue(g.rng, g.name)
        : "Traceback\nValueError: x\n",
    ])],
  "typeid": [4, (g) => {
    const { rng } = g;
    const tag = rng.pick<unknown>([
      [1, null],
      [rng.range(1, 1000), "x"],
      [-1, 0],
      [0.5, 0],
      [2 ** 32, 0],
      [0],
      [0, 1, 2],
      "x",
      null,
      [0, 42],
      [0, null],
      [0, ["add"]],
      { 0: 0 },
    ]);
    const tagged = { __type__: tag };
    return g.frameOf(rng.pick<unknown>([
      [0, rng.int(100), ["echo", [tagged], {}]],
      [0, rng.int(100), tagged],
      [0, tagged, ["add", [1, 2], {}]],
      tagged,
      [1, 0, tagged],
    ]));
  }],
  "deep": [3, async (g) => {
    const { rng } = g;
    const depth = rng.pick([
      MAX_DEPTH - 4,
      MAX_DEPTH - 3,
      MAX_DEPTH - 1,
      MAX_DEPTH,
      MAX_DEPTH + 1,
      200,
      5000,
      100000,
    ]);
    if (g.name === "json") {
      const where = rng.int(3);
      const text = where === 0
        ? `[0, 1, ["echo", [${"[".repeat(depth)}1${"]".repeat(depth)}], {}]]`
        : where === 1
        ? `[0, ${"[".repeat(depth)}1${"]".repeat(depth)}, ["add", [1, 2], {}]]`
        : `${"[".repeat(depth)}1${"]".repeat(depth)}`;
      return frame(await g.wrap(utf8.encode(text)));
    }
    const nested = deepRaw(g, depth);
    // [0, 1, ["echo", [<nested>], {}]], [0, <nested>, [...]] or <nested>.
    const raw = rng.chance(0.5)
      ? concat([
        new Uint8Array(unhex("93 00 01 93 a4 6563686f 91")),
        nested,
        new Uint8Array([0x80]),
      ])
      : rng.chance(0.5)
      ? concat([
        new Uint8Array([0x93, 0x00]),
        nested,
        g.msgpack(["add", [1, 2], {}]),
      ])
      : nested;
    return frame(await g.wrap(raw));
  }],
  "rpc-malformed": [
    10,
    (g) => g.frameOf([0, g.rng.int(100000), g.rng.pick(RPC_MALFORMED)(g)]),
  ],
  "service-ref": [3, (g) => {
    const ref = { __type__: [0, g.rng.pick(["", "add", "x", "sub"])] };
    return g.frameOf([
      0,
      g.rng.int(1000),
      g.rng.pick<unknown>([
        ["add", [ref, 1], {}],
        ["echo", [ref], {}],
        ["echo", [[1, { a: ref }]], {}],
        ["sub/mul", [ref], { b: 2 }],
        ["fail", [ref], {}],
      ]),
    ]);
  }],
  "codec-specific": [8, async (g) => {
    if (g.name === "json") return frame(jsonText(g));
    if (g.name === "msgpack" || g.rng.chance(0.4)) {
      return frame(await g.wrap(msgpackBytes(g)));
    }
    return frame(await bloscFrame(g));
  }],
  "big": [1, (g) => {
    const { rng, name } = g;
    const make = rng.pick<() => unknown>([
      () => "x".repeat(rng.range(100000, 600000)),
      () => new Array(rng.range(1000, 50000)).fill(rng.int(1000)),
      () =>
        name === "json"
          ? "y".repeat(300000)
          : rng.bytes(rng.range(100000, 400000)),
    ]);
    return g.frameOf([0, rng.int(1000), ["echo", [make()], {}]]);
  }],
  "ref-id": [
    2,
    (g) =>
      g.frameOf([0, { __type__: [0, g.rng.pick(["", "add", "x"])] }, ["add", [
        1,
        2,
      ], {}]]),
  ],
  "hostile-tostring": [2, (g) => {
    const hostile = g.rng.pick<unknown>([
      { toString: 1 },
      { toString: "x", valueOf: 2 },
      { valueOf: null, toString: [] },
    ]);
    return g.frameOf(g.rng.pick<unknown>([
      [g.rng.pick([1, 2]), hostile, null],
      [hostile, 0, null],
      [hostile, hostile, hostile],
    ]));
  }],
  "ref-hostile-keys": [2, (g) => {
    const ref = { __type__: [0, g.rng.pick(["x", "add", ""])] };
    const key = g.rng.pick(["then", "valueOf", "toString", "toJSON"]);
    const hostile = { [key]: ref };
    return g.frameOf([
      0,
      g.rng.int(1000),
      g.rng.pick<unknown>([
        ["add", [hostile, 1], {}],
        ["echo", [hostile], {}],
        ["echoAsync", [hostile], {}],
        ["fail", [hostile], {}],
        ["sub/mul", [hostile, 2], {}],
      ]),
    ]);
  }],
};

/** The names of all families. */
export const FAMILY_NAMES: readonly string[] = Object.keys(FAMILIES);

/**
 * Builds input `index` of the sequence for (codec, seed): one family's
 * bytes, sometimes several inputs in one write (the "multi" case), and
 * split points for the writes. `exclude` leaves families out.
 */
export async function generateInput(
  codec: CodecName,
  seed: number,
  index: number,
  exclude: readonly string[] = KNOWN_BUG_FAMILIES,
): Promise<FuzzInput> {
  const rng = new Rng(mixSeed(seed, CODEC_NAMES.indexOf(codec), index));
  const g = new Gen(codec, rng);
  const families = Object.entries(FAMILIES).filter(([name]) =>
    !exclude.includes(name)
  );
  const total = families.reduce((sum, [, [weight]]) => sum + weight, 0);
  const pickFamily = (): [string, Family] => {
    let r = rng.int(total);
    for (const [name, [weight, make]] of families) {
      if ((r -= weight) < 0) return [name, make];
    }
    throw new Error("unreachable");
  };
  let family: string;
  let bytes: Uint8Array;
  if (rng.chance(0.12)) {
    // Several inputs at once: valid calls around hostile frames.
    const parts: Uint8Array[] = [];
    const names: string[] = [];
    for (let i = rng.range(2, 4); i > 0; i--) {
      const [name, make] = rng.chance(0.4)
        ? ["valid-call", FAMILIES["valid-call"][1]] as [string, Family]
        : pickFamily();
      names.push(name);
      parts.push(await make(g));
    }
    family = `multi(${names.join("+")})`;
    bytes = concat(parts);
  } else {
    const [name, make] = pickFamily();
    family = name;
    bytes = await make(g);
  }
  const splits: number[] = [];
  if (bytes.length > 1 && rng.chance(0.25)) {
    for (let i = rng.range(1, 3); i > 0; i--) {
      splits.push(rng.range(1, bytes.length - 1));
    }
    splits.sort((a, b) => a - b);
  }
  return { codec, index, family, bytes, splits };
}

// ---------------------------------------------------------------------------
// The oracle: what the server must do with an input

interface ExpectedRequest {
  id: unknown;
  /** The reply type it must get, if known. */
  type?: 1 | 2;
  /** The result it must get, if known (type 1). */
  result?: { value: unknown };
}

/** What the server must do with the bytes of one input. */
export interface Plan {
  /** The requests it must answer (before the first bad frame). */
  requests: ExpectedRequest[];
  /** What is wrong, if the server must close the connection. */
  bad: string | null;
  /** Whether the input ends inside a frame (the server waits for more). */
  incomplete: boolean;
  /**
   * Whether a request holds a service reference: the server may call back
   * through it (requests from the server are then fine), and its own ids
   * then make later replies in the input valid or late: the oracle stops
   * there (`incomplete`), and the driver ends the connection after it.
   */
  refs: boolean;
}

function containsRef(value: unknown, depth = 0): boolean {
  if (value instanceof RefMarker) return true;
  if (depth > MAX_DEPTH + 2 || typeof value !== "object" || value === null) {
    return false;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      if (containsRef(k, depth + 1) || containsRef(v, depth + 1)) return true;
    }
    return false;
  }
  if (value instanceof Uint8Array) return false;
  for (const key of Object.keys(value)) {
    if (containsRef((value as Record<string, unknown>)[key], depth + 1)) {
      return true;
    }
  }
  return false;
}

/** What a well-formed call must return, where the oracle can tell. */
function expectationFor(id: unknown, content: unknown): ExpectedRequest {
  const request: ExpectedRequest = { id };
  if (
    !Array.isArray(content) || content.length !== 3 ||
    typeof content[0] !== "string" || !Array.isArray(content[1])
  ) {
    request.type = 2;
    return request;
  }
  const [path, args, kwargs] = content;
  const plainKwargs = typeof kwargs === "object" && kwargs !== null &&
    !Array.isArray(kwargs) && !(kwargs instanceof Map) &&
    !(kwargs instanceof Uint8Array) && !(kwargs instanceof RefMarker);
  if (!plainKwargs) {
    request.type = 2;
    return request;
  }
  const noKwargs = Object.keys(kwargs).length === 0;
  if (path === "add" && noKwargs && args.length === 2) {
    const [a, b] = args;
    if (typeof a === "number" && typeof b === "number") {
      request.type = 1;
      request.result = { value: a + b };
    } else if (
      (typeof a === "bigint" && typeof b === "number") ||
      (typeof a === "number" && typeof b === "bigint")
    ) {
      request.type = 2; // TypeError: cannot mix BigInt and other types
    }
  } else if (
    (path === "echo" || path === "echoAsync") && noKwargs && args.length === 1
  ) {
    if (!containsRef(args[0])) {
      request.type = 1;
      request.result = { value: args[0] };
    } else {
      request.type = 2; // a proxy cannot be passed on
    }
  } else if (path === "fail" && noKwargs) {
    request.type = 2;
  } else if (
    ["", "secret", "nope", "sub", "__proto__", "constructor", "toString"]
      .includes(path)
  ) {
    request.type = 2;
  }
  return request;
}

/** Splits bytes into frames the way the server does, and judges each. */
export async function plan(bytes: Uint8Array, oracle: Codec): Promise<Plan> {
  const result: Plan = {
    requests: [],
    bad: null,
    incomplete: false,
    refs: false,
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 4) {
      result.incomplete = true;
      return result;
    }
    const length = view.getUint32(at);
    if (length === 0) {
      result.bad = "empty frame";
      return result;
    }
    if (length > MAX_FRAME_SIZE) {
      result.bad = `frame of ${length} bytes`;
      return result;
    }
    if (bytes.length - at - 4 < length) {
      result.incomplete = true;
      return result;
    }
    const payload = bytes.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    let message: unknown;
    try {
      message = await oracle.decode(payload);
    } catch (error) {
      result.bad = `does not decode: ${(error as Error).message}`;
      return result;
    }
    if (!Array.isArray(message) || message.length !== 3) {
      result.bad = "not a 3-array";
      return result;
    }
    const [type, id, content] = message;
    if (type === 1 || type === 2) {
      if (result.refs) {
        // It may answer a call back through a reference sent before.
        result.incomplete = true;
        return result;
      }
      // The server sends no requests to fuzz peers: no reply is expected.
      result.bad = "reply to an unknown id";
      return result;
    }
    if (type !== 0) {
      result.bad = "unknown message type";
      return result;
    }
    if (containsRef(content)) result.refs = true;
    if (containsRef(id)) {
      // Its reply cannot be sent (the id holds a proxy): the server closes
      // the connection when it tries, after answering what it can before.
      result.refs = true;
      result.bad ??= "a request id that cannot be sent back";
      continue;
    }
    result.requests.push(expectationFor(id, content));
  }
  return result;
}

/** Structural equality of decoded values (NaN equals NaN; -0 is not 0). */
export function sameValue(a: unknown, b: unknown, depth = 0): boolean {
  if (Object.is(a, b)) return true;
  if (
    typeof a !== typeof b || typeof a !== "object" || a === null || b === null
  ) {
    return false;
  }
  if (depth > 1000) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return false;
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (a instanceof RefMarker || b instanceof RefMarker) {
    return a instanceof RefMarker && b instanceof RefMarker &&
      a.path === b.path;
  }
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map) || !(b instanceof Map) || a.size !== b.size) {
      return false;
    }
    const ea = [...a];
    const eb = [...b];
    return ea.every(([k, v], i) =>
      sameValue(k, eb[i][0], depth + 1) && sameValue(v, eb[i][1], depth + 1)
    );
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((key, i) =>
    key === kb[i] &&
    sameValue(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      depth + 1,
    )
  );
}

// ---------------------------------------------------------------------------
// The service under fuzz

class Sub {
  @expose({ params: ["a", "b"] })
  mul(a: number, b = 1): number {
    return a * b;
  }
}

/** The small service the fuzzed server exposes. */
export class FuzzService {
  @expose
  sub = new Sub();

  @expose
  add(a: number, b: number): number {
    return a + b;
  }

  @expose
  echo(value: unknown): unknown {
    return value;
  }

  @expose
  async echoAsync(value: unknown): Promise<unknown> {
    return await Promise.resolve(value);
  }

  @expose
  fail(message: unknown): never {
    throw new RangeError(String(message));
  }

  secret(): string {
    return "no";
  }
}

// ---------------------------------------------------------------------------
// A raw peer: frames in, events out, with deadlines

/** What a {@linkcode RawPeer} sees: a frame from the server, or the end. */
export type PeerEvent =
  | { kind: "frame"; payload: Uint8Array }
  | { kind: "closed"; error?: unknown };

/**
 * A raw TCP peer for tests that play the wire by hand: it reads frames in
 * the background and hands them out as events, with deadlines.
 */
export class RawPeer {
  readonly conn: Deno.TcpConn;
  #events: PeerEvent[] = [];
  #wake: (() => void) | null = null;
  readonly done: Promise<void>;
  closed = false;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.done = this.#read();
  }

  /** Connects to a server. */
  static async connect(
    addr: { hostname: string; port: number },
  ): Promise<RawPeer> {
    const conn = await Deno.connect(addr);
    conn.setNoDelay(true);
    return new RawPeer(conn);
  }

  /** The peer name the server sees for this connection. */
  get name(): string {
    const local = this.conn.localAddr;
    return `${local.hostname}:${local.port}`;
  }

  /** Closes the connection and waits for the reader to stop. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
    await this.done;
  }

  async #read(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    let buffer: Uint8Array = new Uint8Array(0);
    let error: unknown;
    try {
      for (;;) {
        const n = await this.conn.read(chunk);
        if (n === null) break;
        buffer = buffer.length === 0
          ? chunk.slice(0, n)
          : concat([buffer, chunk.subarray(0, n)]);
        let at = 0;
        while (buffer.length - at >= 4) {
          const length = new DataView(buffer.buffer, buffer.byteOffset + at)
            .getUint32(0);
          if (buffer.length - at - 4 < length) break;
          this.#push({
            kind: "frame",
            payload: buffer.slice(at + 4, at + 4 + length),
          });
          at += 4 + length;
        }
        if (at > 0) buffer = buffer.slice(at);
      }
    } catch (e) {
      error = e;
    }
    this.closed = true;
    this.#push({ kind: "closed", error });
  }

  #push(event: PeerEvent): void {
    this.#events.push(event);
    this.#wake?.();
    this.#wake = null;
  }

  /** The next event, or null if none came before `deadline` (ms, performance.now()). */
  async next(deadline: number): Promise<PeerEvent | null> {
    if (this.#events.length > 0) return this.#events.shift()!;
    const remaining = deadline - performance.now();
    if (remaining <= 0) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const woke = await new Promise<boolean>((resolve) => {
      this.#wake = () => resolve(true);
      timer = setTimeout(() => resolve(false), remaining);
    });
    clearTimeout(timer);
    this.#wake = null;
    if (!woke) return null;
    return this.#events.shift() ?? null;
  }
}

/** Writes all of `bytes`, in separate writes at the `splits` offsets. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
  splits: number[] = [],
): Promise<void> {
  let start = 0;
  for (const end of [...splits, bytes.length]) {
    let at = start;
    while (at < end) at += await conn.write(bytes.subarray(at, end));
    start = end;
  }
}

// ---------------------------------------------------------------------------
// The driver

/** Options of {@linkcode runFuzz}. */
export interface FuzzOptions {
  seed: number;
  /** Inputs per codec. */
  inputs: number;
  codecs?: readonly CodecName[];
  /** Raw connections at once. */
  concurrency?: number;
  /** Inputs per raw connection: 1 to this many. */
  maxInputsPerConnection?: number;
  /** How long the server may take to answer or close, per input (ms). */
  deadlineMs?: number;
  /** Families to leave out. @default {KNOWN_BUG_FAMILIES} */
  exclude?: readonly string[];
  /** A fresh server (new port) after this many inputs. */
  batchSize?: number;
  /** Well-behaved client call loops per server. */
  wellBehavedLoops?: number;
  /** Called every `progressEvery` inputs. */
  onProgress?: (stats: FuzzStats) => void;
  progressEvery?: number;
}

/** An input that went wrong, for the report. */
export interface Finding {
  kind: string;
  codec: CodecName | "?";
  index: number;
  family: string;
  detail: string;
  bytes: string;
}

/** What happened. */
export interface FuzzStats {
  inputs: number;
  connections: number;
  /** Inputs after which the server closed the connection (as it must). */
  serverCloses: number;
  /** Inputs that ended inside a frame, followed by EOF. */
  incompleteInputs: number;
  /** Replies received on fuzz connections. */
  replies: number;
  /** Uncaught errors ("error" events). */
  uncaught: number;
  /** Unhandled promise rejections. */
  unhandled: number;
  /** console.error calls (the server logs failures there). */
  logged: number;
  /** The server neither answered nor closed within the deadline. */
  hangs: number;
  /** The server closed a connection that had only valid requests. */
  unexpectedCloses: number;
  /** Frames the server sent that are not replies to our requests. */
  badFrames: number;
  /** Calls from the server back through references the input sent. */
  callbacks: number;
  /** Replies of the wrong type or with the wrong result. */
  wrongReplies: number;
  /** Server-side connection outcomes. */
  server: {
    accepted: number;
    clean: number;
    protocolErrors: number;
    /** Closed with another error: a failure. */
    other: number;
  };
  /** Close reasons on the server side, message shapes → count. */
  reasons: Record<string, number>;
  wellBehaved: { calls: number; ok: number; lost: number; wrong: number };
  byFamily: Record<string, number>;
  findings: Finding[];
  elapsedMs: number;
}

/** Crashes: uncaught errors, unhandled rejections, console.error calls. */
export function crashes(stats: FuzzStats): number {
  return stats.uncaught + stats.unhandled + stats.logged;
}

/** Whether the run found nothing wrong. */
export function clean(stats: FuzzStats): boolean {
  return crashes(stats) === 0 && stats.hangs === 0 &&
    stats.unexpectedCloses === 0 && stats.badFrames === 0 &&
    stats.wrongReplies === 0 && stats.server.other === 0 &&
    stats.wellBehaved.lost === 0 && stats.wellBehaved.wrong === 0 &&
    stats.wellBehaved.ok === stats.wellBehaved.calls &&
    stats.server.accepted === stats.server.clean +
        stats.server.protocolErrors + stats.server.other;
}

function newStats(): FuzzStats {
  return {
    inputs: 0,
    connections: 0,
    serverCloses: 0,
    incompleteInputs: 0,
    replies: 0,
    uncaught: 0,
    unhandled: 0,
    logged: 0,
    hangs: 0,
    unexpectedCloses: 0,
    badFrames: 0,
    callbacks: 0,
    wrongReplies: 0,
    server: { accepted: 0, clean: 0, protocolErrors: 0, other: 0 },
    reasons: {},
    wellBehaved: { calls: 0, ok: 0, lost: 0, wrong: 0 },
    byFamily: {},
    findings: [],
    elapsedMs: 0,
  };
}

const MAX_FINDINGS = 50;

function describeError(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`.slice(0, 300)
    : String(error).slice(0, 300);
}

/** A message shape: numbers and quoted parts replaced, for counting reasons. */
function shape(message: string): string {
  return message
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\d+(\.\d+)?/g, "N")
    .replace(/\(at byte N\)/g, "")
    .slice(0, 140);
}

/**
 * Runs the fuzzer: per codec and batch, a fresh RPC server, a well-behaved
 * client calling `add` throughout, and `concurrency` raw connections that
 * send the inputs. Returns the counts; never throws for what it finds.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzStats> {
  const stats = newStats();
  const started = performance.now();
  const codecs = options.codecs ?? CODEC_NAMES;
  const exclude = options.exclude ?? KNOWN_BUG_FAMILIES;
  const batchSize = options.batchSize ?? 20000;
  const record = (finding: Finding) => {
    if (stats.findings.length < MAX_FINDINGS) stats.findings.push(finding);
  };

  const onUnhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    stats.unhandled++;
    record({
      kind: "unhandled rejection",
      codec: "?",
      index: -1,
      family: "?",
      detail: describeError(event.reason),
      bytes: "",
    });
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    stats.uncaught++;
    record({
      kind: "uncaught error",
      codec: "?",
      index: -1,
      family: "?",
      detail: describeError(event.error ?? event.message),
      bytes: "",
    });
  };
  const consoleError = console.error;
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  globalThis.addEventListener("error", onError);
  console.error = (...args: unknown[]) => {
    stats.logged++;
    record({
      kind: "console.error",
      codec: "?",
      index: -1,
      family: "?",
      detail: args.map(describeError).join(" "),
      bytes: "",
    });
  };
  try {
    for (const codec of codecs) {
      for (let first = 0; first < options.inputs; first += batchSize) {
        await runBatch(
          codec,
          first,
          Math.min(options.inputs, first + batchSize),
          options,
          exclude,
          stats,
          record,
        );
      }
    }
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
    globalThis.removeEventListener("error", onError);
    console.error = consoleError;
  }
  stats.elapsedMs = performance.now() - started;
  return stats;
}

async function runBatch(
  codec: CodecName,
  first: number,
  end: number,
  options: FuzzOptions,
  exclude: readonly string[],
  stats: FuzzStats,
  record: (finding: Finding) => void,
): Promise<void> {
  const deadlineMs = options.deadlineMs ?? 3000;
  const oracle = oracleCodec(codec);
  const server = await rpc.startServer(
    { hostname: "127.0.0.1", port: 0 },
    new FuzzService(),
    {
      codec: CODEC_CLASSES[codec],
      onConnection: (client) => {
        stats.server.accepted++;
        client.closed.then(
          () => stats.server.clean++,
          (error) => {
            const key = shape(describeError(error));
            stats.reasons[key] = (stats.reasons[key] ?? 0) + 1;
            if (error instanceof ProtocolError) stats.server.protocolErrors++;
            else {
              stats.server.other++;
              record({
                kind: "server connection failed without a ProtocolError",
                codec,
                index: -1,
                family: "?",
                detail: describeError(error) + " / cause: " +
                  describeError((error as Error).cause),
                bytes: "",
              });
            }
          },
        );
      },
    },
  );
  const addr = server.addr as { hostname: string; port: number };

  // The well-behaved client: its own connection, calling add throughout.
  const client = await rpc.openConnection(addr, {
    codec: CODEC_CLASSES[codec],
  });
  let stop = false;
  const loops = Array.from(
    { length: options.wellBehavedLoops ?? 2 },
    async (_, loop) => {
      const rng = new Rng(mixSeed(options.seed, first, loop, 77));
      while (!stop) {
        const a = rng.int(1 << 30);
        const b = rng.int(1 << 30);
        stats.wellBehaved.calls++;
        try {
          const result = await client.call("add", [a, b], {}, {
            timeout: deadlineMs,
          });
          if (result === a + b) stats.wellBehaved.ok++;
          else stats.wellBehaved.wrong++;
        } catch (error) {
          stats.wellBehaved.lost++;
          record({
            kind: "well-behaved call lost",
            codec,
            index: -1,
            family: "add",
            detail: describeError(error),
            bytes: "",
          });
          // Its connection is likely gone: calls would fail at once, in a
          // loop that never yields to the event loop.
          break;
        }
      }
    },
  );

  let next = first;
  const worker = async (workerIndex: number) => {
    const rng = new Rng(mixSeed(options.seed, first, workerIndex, 99));
    while (next < end) {
      const slots = rng.range(1, options.maxInputsPerConnection ?? 4);
      await fuzzConnection(addr, slots);
    }
  };

  const fuzzConnection = async (
    target: { hostname: string; port: number },
    slots: number,
  ) => {
    const conn = await Deno.connect(target);
    conn.setNoDelay(true);
    stats.connections++;
    const peer = new RawPeer(conn);
    let open = true;
    let last: FuzzInput | null = null;
    for (let slot = 0; slot < slots && open && next < end; slot++) {
      const index = next++;
      const input = await generateInput(codec, options.seed, index, exclude);
      last = input;
      stats.inputs++;
      const family = input.family.startsWith("multi(") ? "multi" : input.family;
      stats.byFamily[family] = (stats.byFamily[family] ?? 0) + 1;
      if (
        options.onProgress !== undefined &&
        stats.inputs % (options.progressEvery ?? 10000) === 0
      ) options.onProgress(stats);
      const expected = await plan(input.bytes, oracle);
      const finding = (kind: string, detail: string) =>
        record({
          kind,
          codec,
          index,
          family: input.family,
          detail,
          bytes: hex(input.bytes),
        });
      try {
        await writeAll(conn, input.bytes, input.splits);
      } catch {
        // The server closed the connection while we wrote: judged below.
      }
      if (expected.incomplete && expected.bad === null) {
        stats.incompleteInputs++;
        await conn.closeWrite().catch(() => {});
      }
      const mustEnd = expected.bad !== null || expected.incomplete;
      const waiting = [...expected.requests];
      const deadline = performance.now() + deadlineMs;
      for (;;) {
        if (!mustEnd && waiting.length === 0) break;
        const event = await peer.next(deadline);
        if (event === null) {
          stats.hangs++;
          finding(
            "hang",
            `no ${
              mustEnd ? "close" : "reply"
            } within ${deadlineMs} ms (${waiting.length} of ${expected.requests.length} requests unanswered; ${
              expected.bad ?? (expected.incomplete ? "incomplete" : "valid")
            })`,
          );
          open = false;
          break;
        }
        if (event.kind === "closed") {
          open = false;
          if (mustEnd) stats.serverCloses++;
          else {
            stats.unexpectedCloses++;
            finding(
              "unexpected close",
              `closed with ${waiting.length} of ${expected.requests.length} valid requests unanswered: ${
                describeError(event.error ?? "EOF")
              }`,
            );
          }
          break;
        }
        let message: unknown;
        try {
          message = await oracle.decode(event.payload);
        } catch (error) {
          stats.badFrames++;
          finding("undecodable frame from the server", describeError(error));
          continue;
        }
        if (
          expected.refs && Array.isArray(message) && message.length === 3 &&
          message[0] === 0
        ) {
          // The server calls back through a reference we sent: fine.
          stats.callbacks++;
          continue;
        }
        if (
          !Array.isArray(message) || message.length !== 3 ||
          (message[0] !== 1 && message[0] !== 2)
        ) {
          stats.badFrames++;
          finding(
            "unexpected frame from the server",
            hex(event.payload, 64),
          );
          continue;
        }
        stats.replies++;
        const [type, id, content] = message;
        const fits = (request: ExpectedRequest): boolean =>
          !(request.type !== undefined && request.type !== type) &&
          !(type === 1 && request.result !== undefined &&
            !sameValue(request.result.value, content)) &&
          !(type === 2 && typeof content !== "string");
        // Replies may come in any order: when several requests share this
        // id, the reply is for one it fits, if there is one.
        let at = waiting.findIndex((request) =>
          sameValue(request.id, id) && fits(request)
        );
        if (at < 0) {
          at = waiting.findIndex((request) => sameValue(request.id, id));
        }
        if (at < 0) {
          stats.badFrames++;
          finding("reply to an id not sent", hex(event.payload, 64));
          continue;
        }
        const [request] = waiting.splice(at, 1);
        if (!fits(request)) {
          stats.wrongReplies++;
          finding(
            "wrong reply",
            `type ${type}, expected ${request.type ?? "any"}: ${
              type === 2 ? String(content).split("\n").slice(-2).join(" ") : ""
            }`.slice(0, 300),
          );
        }
      }
      // The server may hold calls back to us and count its own ids now:
      // later inputs could not be judged. End this connection.
      if (expected.refs) break;
    }
    if (open && last !== null) {
      // Done with this connection: EOF, and the server must close too.
      await conn.closeWrite().catch(() => {});
      const deadline = performance.now() + deadlineMs;
      for (;;) {
        const event = await peer.next(deadline);
        if (event === null) {
          stats.hangs++;
          record({
            kind: "hang",
            codec,
            index: last.index,
            family: "eof",
            detail: `no close within ${deadlineMs} ms of EOF`,
            bytes: "",
          });
          break;
        }
        if (event.kind === "closed") break;
        stats.badFrames++;
        record({
          kind: "unexpected frame after EOF",
          codec,
          index: last.index,
          family: last.family,
          detail: hex(event.payload, 64),
          bytes: "",
        });
      }
    }
    try {
      conn.close();
    } catch {
      // Closed already.
    }
    await peer.done;
  };

  await Promise.all(
    Array.from({ length: options.concurrency ?? 8 }, (_, i) => worker(i)),
  );
  stop = true;
  await Promise.all(loops);
  await client.close();
  await server.close({ timeout: deadlineMs });
  // Every server-side connection has settled its `closed` promise.
  await Promise.resolve();
}

/** A one-paragraph summary of the counts. */
export function summary(stats: FuzzStats): string {
  const rate = stats.inputs / (stats.elapsedMs / 1000);
  return [
    `inputs ${stats.inputs} in ${(stats.elapsedMs / 1000).toFixed(1)} s (${
      rate.toFixed(0)
    }/s) over ${stats.connections} connections`,
    `server closes ${stats.serverCloses}, incomplete+EOF ${stats.incompleteInputs}, replies ${stats.replies}, calls back ${stats.callbacks}`,
    `crashes ${
      crashes(stats)
    } (uncaught ${stats.uncaught}, unhandled ${stats.unhandled}, logged ${stats.logged}), hangs ${stats.hangs}, unexpected closes ${stats.unexpectedCloses}, bad frames ${stats.badFrames}, wrong replies ${stats.wrongReplies}`,
    `server side: accepted ${stats.server.accepted}, clean ${stats.server.clean}, ProtocolError ${stats.server.protocolErrors}, other ${stats.server.other}`,
    `well-behaved: ${stats.wellBehaved.ok}/${stats.wellBehaved.calls} ok, lost ${stats.wellBehaved.lost}, wrong ${stats.wellBehaved.wrong}`,
  ].join("\n");
}
