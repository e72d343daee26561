// Helpers shared by the codec tests: hex, the aiomas vectors and their value
// notation (see tests/fixtures/codec.json and aiomas-vectors/README.md).
import { Float64 } from "../../codecs/mod.ts";
import type { Codec } from "../../codecs/mod.ts";

/** One case of `codec.json`. */
export interface Vector {
  name: string;
  codec: "json" | "msgpack" | "msgpackblosc";
  payload_hex: string;
  value: unknown;
  notes?: string;
  blosc?: { flags: string; nbytes: number; typesize: number; cbytes: number };
}

/** Reads every case of `tests/fixtures/codec.json`. */
export async function loadVectors(): Promise<Vector[]> {
  const text = await Deno.readTextFile(
    new URL("../fixtures/codec.json", import.meta.url),
  );
  return JSON.parse(text) as Vector[];
}

/** Bytes from lowercase or uppercase hex (spaces are ignored). */
export function unhex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

/** Lowercase hex of bytes. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Converts the value notation to the JS value a decoder returns. With
 * `forEncode`, integral `$float` values (and -0.0) become `Float64` so that
 * encoders send them as floats.
 */
export function fromNotation(value: unknown, forEncode = false): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => fromNotation(item, forEncode));
  }
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1) {
    const [key] = keys;
    const inner = record[key];
    if (key === "$int") return BigInt(inner as string);
    if (key === "$float") {
      const number = Number(inner as string);
      const integral = Number.isInteger(number) || Object.is(number, -0);
      return forEncode && integral ? new Float64(number) : number;
    }
    if (key === "$bytes") return unhex(inner as string);
    if (key === "$map") {
      return new Map(
        (inner as [unknown, unknown][]).map((
          [k, v],
        ) => [fromNotation(k, forEncode), fromNotation(v, forEncode)]),
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    Object.defineProperty(out, key, {
      value: fromNotation(record[key], forEncode),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** The highest typeid of a `__type__` map in a notation value, or -1. */
export function maxTypeid(value: unknown): number {
  if (Array.isArray(value)) return Math.max(-1, ...value.map(maxTypeid));
  if (typeof value !== "object" || value === null) return -1;
  const record = value as Record<string, unknown>;
  let max = -1;
  if (Array.isArray(record.__type__)) max = record.__type__[0] as number;
  for (const item of Object.values(record)) {
    max = Math.max(max, maxTypeid(item));
  }
  return max;
}

/**
 * Registers `count` dummy serializers whose `fromWire` gives back the plain
 * `{"__type__": [typeid, data]}` map, as the vectors show tags.
 */
export function addTagEchoes(codec: Codec, count: number): void {
  for (let typeid = 0; typeid < count; typeid++) {
    const Dummy = class {};
    const id = codec.addSerializer(
      Dummy,
      () => null,
      (data) => ({ __type__: [typeid, data] }),
    );
    if (id !== typeid) throw new Error(`expected typeid ${typeid}, got ${id}`);
  }
}

/** Every non-finite float in a decoded value. */
export function nonFinite(value: unknown, out: number[] = []): number[] {
  if (typeof value === "number" && !Number.isFinite(value)) out.push(value);
  else if (value instanceof Float64) nonFinite(value.value, out);
  else if (Array.isArray(value)) {
    for (const item of value) nonFinite(item, out);
  } else if (value instanceof Map) {
    for (const item of value.values()) nonFinite(item, out);
  } else if (
    typeof value === "object" && value !== null &&
    !(value instanceof Uint8Array)
  ) {
    for (const item of Object.values(value)) nonFinite(item, out);
  }
  return out;
}

/** `depth` nested arrays around 0: `nested(2)` is `[[0]]`. */
export function nested(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}
