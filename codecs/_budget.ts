// The cost model of maxDecodedSize, shared by every codec. Units are about
// bytes of V8 heap on 64-bit Deno, measured for JSON.parse and the MsgPack
// reader: a slot (array element, key or value) holds 8; an empty object
// takes 64 with its slot, an empty array 40 (56 once it has elements), a
// Map 192 up to 4 entries and up to 56 per entry beyond, a Uint8Array about
// 208 plus its ArrayBuffer outside the heap, a one-byte string 16 plus its
// characters, a number that is no small integer 16 (boxed), a bigint 24
// plus 8 per 64 bits beyond the first.
import { DEFAULT_MAX_DECODED_SIZE } from "./codec.ts";

/** Every value: its slot in the parent (or the root). */
export const SLOT = 8;
/** An array, with its slot. */
export const ARRAY = 56;
/** A plain object (or a MsgPack map, until it turns out to be a `Map`), with its slot. */
export const OBJECT = 64;
/** What a `Map` of up to {@linkcode MAP_SMALL} entries costs beyond {@linkcode OBJECT}. */
export const MAP_EXTRA = 128;
/** Entries a `Map`'s smallest table holds. */
export const MAP_SMALL = 4;
/**
 * What each entry beyond {@linkcode MAP_SMALL} adds to a `Map` beyond its
 * key's and value's slots: its table holds three slots per entry and a
 * bucket per two, and doubles when full (so is at least half used).
 */
export const MAP_ENTRY_EXTRA = 40;
/**
 * A number that is no small integer (a float, an integer beyond 31 bits
 * and a sign), with its slot: V8 boxes it in 16 bytes, in arrays too once
 * the reader's arrays have held anything but numbers (the RPC envelope).
 */
export const NUMBER = 24;
/** A bigint of up to 64 bits (MsgPack decodes one beyond ±2^53), with its slot. */
export const BIGINT = 32;
/** Decimal digits that always fit in one 64-bit digit of a bigint. */
const DIGITS_PER_WORD = 19;

/** A string, with its slot, before its bytes. */
export const STRING = 24;
/** A `Uint8Array`, with its slot, before its bytes. */
export const BYTES = 256;

/** What a `Map` of `size` entries costs beyond an object with as many. */
export function mapExtra(size: number): number {
  return size <= MAP_SMALL
    ? MAP_EXTRA
    : MAP_EXTRA + MAP_ENTRY_EXTRA * (size - MAP_SMALL);
}

/** The most an integer of `digits` decimal digits costs, as a bigint. */
export function bigintCost(digits: number): number {
  return BIGINT + 8 * (Math.ceil(digits / DIGITS_PER_WORD) - 1);
}

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
