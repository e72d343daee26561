// The fuzzer's per-input encoding helpers (Gen) and the RPC call contents it
// builds: valid calls, deep nesting, and malformed calls.

import { type Codec, MsgPackCodec } from "../../mod.ts";
import {
  bloscCompress,
  bloscStored,
  CODEC_CLASSES,
  type CodecName,
  frame,
  utf8,
} from "./_fuzz_codecs.ts";
import {
  randomNumber,
  randomString,
  randomValue,
  type Rng,
} from "./_fuzz_random.ts";

/** Encoding helpers bound to one codec and one input's PRNG. */
export class Gen {
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

export function validCall(g: Gen): unknown[] {
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
export function deepRaw(
  g: Gen,
  depth: number,
  head = "",
  tail = "",
): Uint8Array {
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

export const RPC_MALFORMED: ((g: Gen) => unknown)[] = [
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
