// Seeded randomness for the wire fuzzer: the PRNG, seed mixing, and random
// values and request ids that each codec can encode.

import type { CodecName } from "./_fuzz_codecs.ts";

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
export function randomString(rng: Rng, name: CodecName): string {
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

export function randomNumber(rng: Rng, name: CodecName): number | bigint {
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
export function randomId(rng: Rng, name: CodecName): unknown {
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
