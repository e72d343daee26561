// The cost model of maxDecodedSize, shared by every codec. Units are about
// bytes of V8 heap on 64-bit Deno, measured for JSON.parse and the MsgPack
// reader: a slot (array element, key or value) holds 8; an empty object
// takes 64 with its slot, an empty array 40 (56 once it has elements), a
// Map 192, a Uint8Array about 208 plus its ArrayBuffer outside the heap,
// a one-byte string 16 plus its characters.
import { DEFAULT_MAX_DECODED_SIZE } from "./codec.ts";

/** Every value: its slot in the parent (or the root). */
export const SLOT = 8;
/** An array, with its slot. */
export const ARRAY = 56;
/** A plain object (or a MsgPack map, until it turns out to be a `Map`), with its slot. */
export const OBJECT = 64;
/** What a `Map` costs beyond {@linkcode OBJECT}. */
export const MAP_EXTRA = 128;
/** A string, with its slot, before its bytes. */
export const STRING = 24;
/** A `Uint8Array`, with its slot, before its bytes. */
export const BYTES = 256;

/**
 * The most MsgPack can build per byte of input: an empty bin (2 bytes)
 * costs 256. (An empty map or array costs at most 64 for one byte, a Map
 * with one entry 208 for at least 3 bytes, a string 24 + n for 1 + n.)
 */
export const MSGPACK_EXPANSION = BYTES / 2;
/**
 * The most JSON can build per byte of input: an empty object (`{}`, 2
 * bytes) costs 64. (An empty array costs 56, `""` 24, a number 8 for at
 * least one byte.)
 */
export const JSON_EXPANSION = OBJECT / 2;

/**
 * Reads the `maxDecodedSize` option.
 *
 * @throws {RangeError} If it is not a positive number.
 */
export function maxDecodedSizeOption(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_DECODED_SIZE;
  if (typeof value !== "number" || !(value > 0)) {
    throw new RangeError(
      `Cannot create codec: maxDecodedSize must be a positive number of cost units, not ${
        String(value)
      }`,
    );
  }
  return value;
}

/** What a cost scan has seen so far, for the error message. */
export interface Tally {
  /** Values declared or seen (keys included). */
  values: number;
  /** Arrays, objects and maps. */
  containers: number;
  /** Strings and byte strings. */
  strings: number;
  /** Their bytes. */
  stringBytes: number;
}

/** The error of a message that would build more than `budget`. */
export function overBudget(
  format: string,
  budget: number,
  cost: number,
  at: number,
  length: number,
  tally: Tally,
): RangeError {
  const ratio = cost / budget;
  return new RangeError(
    `Cannot decode ${format}: the message builds more than maxDecodedSize (${budget} units): at least ${cost} units (${
      ratio < 10 ? ratio.toFixed(2) : Math.round(ratio)
    }× the limit) by byte ${at} of ${length}, in ${tally.values} values: ${tally.containers} arrays and maps, ${tally.strings} strings and byte strings of ${tally.stringBytes} bytes`,
  );
}
