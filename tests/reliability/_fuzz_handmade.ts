// Hand-made hostile payloads per codec: JSON texts, raw MsgPack bytes, and
// damaged blosc frames.

import { concat } from "../_frames.ts";
import {
  bloscCompress,
  bloscStored,
  MAX_FRAME_SIZE,
  utf8,
} from "./_fuzz_codecs.ts";
import { type Gen, validCall } from "./_fuzz_gen.ts";

/** Hand-made JSON texts: Python's tokens, number edge cases, bad syntax. */
export function jsonText(g: Gen): Uint8Array {
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
export function unhex(text: string): number[] {
  const clean = text.replace(/\s+/g, "");
  const out: number[] = [];
  for (let i = 0; i < clean.length; i += 2) {
    out.push(parseInt(clean.slice(i, i + 2), 16));
  }
  return out;
}

/** Hand-made MsgPack bytes of messages: every odd corner of the format. */
export function msgpackBytes(g: Gen): Uint8Array {
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
export async function bloscFrame(g: Gen): Promise<Uint8Array> {
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
