// What a MsgPack document will build, counted before anything is built: one
// pass over the headers, without recursion or allocation. A container's
// entries are charged (a slot each) as soon as its header is read, so an
// array32 that declares 64 M entries is refused at once. Scanning can be
// resumed as more bytes arrive (blosc decompresses block by block).
import { SerializationError } from "../errors.ts";
import type { Tally } from "./_budget.ts";
import {
  ARRAY,
  BIGINT,
  BYTES,
  MSGPACK_EXPANSION,
  NUMBER,
  OBJECT,
  overBudget,
  SLOT,
  STRING,
} from "./_budget.ts";

/** Bytes of a value with a fixed size, by its first byte; 0 if it has none. */
const FIXED_SIZE = new Uint8Array(256);
for (let byte = 0; byte < 0x80; byte++) FIXED_SIZE[byte] = 1;
for (let byte = 0xe0; byte < 0x100; byte++) FIXED_SIZE[byte] = 1;
for (
  const [byte, size] of [
    [0xc0, 1],
    [0xc2, 1],
    [0xc3, 1],
    [0xcc, 2],
    [0xcd, 3],
    [0xd0, 2],
    [0xd1, 3],
    [0xd2, 5],
  ]
) {
  FIXED_SIZE[byte] = size;
}

/**
 * Counts the cost of the MsgPack value in `data[0, end)` against a budget.
 * Throws a `RangeError` when the cost exceeds it, and a
 * `SerializationError` for bytes that cannot be MsgPack (so that no value
 * after them is built uncounted).
 */
export class MsgPackCostScanner {
  #data: Uint8Array;
  #end: number;
  #budget: number;
  #pos = 0;
  /** Values declared and not yet read; each needs at least a byte. */
  #pending = 1;
  #cost = SLOT;
  #tally: Tally = { values: 1, containers: 0, strings: 0, stringBytes: 0 };

  /**
   * @param data The bytes; only `[0, limit)` of them need to be there when
   *   {@linkcode MsgPackCostScanner.scan} is called with `limit`.
   * @param budget The most the value may cost.
   * @param end Where the value's bytes end.
   */
  constructor(data: Uint8Array, budget: number, end: number = data.length) {
    this.#data = data;
    this.#budget = budget;
    this.#end = end;
    this.#check();
    // A nested decode may have less left than the root's slot.
    if (this.#cost > budget) {
      throw overBudget("MsgPack", budget, this.#cost, 0, end, this.#tally);
    }
  }

  /** The cost counted so far (all of it once the scan reached the end). */
  get cost(): number {
    return this.#cost;
  }

  /** Where the values not yet counted start (their slots are counted). */
  get position(): number {
    return this.#pos;
  }

  /** Whether the scan has counted the whole value. */
  get done(): boolean {
    return this.#pending === 0;
  }

  /**
   * Counts the values whose headers lie before `limit`, at most `headers`
   * of them.
   */
  scan(limit: number, headers: number = Infinity): void {
    const data = this.#data;
    const end = this.#end;
    let pos = this.#pos;
    while (this.#pending > 0) {
      if (pos >= limit || --headers < 0) break;
      const byte = data[pos];
      const fixed = FIXED_SIZE[byte];
      if (fixed !== 0) {
        pos += fixed;
        this.#pending--;
        continue;
      }
      const number = NUMBER_SIZE[byte];
      if (number !== 0) {
        // A number V8 may box, or a bigint: its bytes tell. A float is
        // boxed: no need to look at its bytes.
        if (pos + number > limit) break;
        if (byte === 0xcb || byte === 0xca) {
          if ((this.#cost += NUMBER - SLOT) > this.#budget) {
            this.#pos = pos;
            this.#charge(0, pos + number);
          }
        } else {
          this.#pos = pos;
          this.#charge(numberCost(data, pos) - SLOT, pos + number);
        }
        pos += number;
        this.#pending--;
        continue;
      }
      let header = 1;
      let length: number;
      if (byte < 0x90) length = byte & 0x0f;
      else if (byte < 0xa0) length = byte & 0x0f;
      else if (byte < 0xc0) length = byte & 0x1f;
      else {
        header = HEADER_SIZE[byte];
        if (header === 0) {
          this.#pos = pos;
          this.#fail(
            byte === 0xc1
              ? "0xc1 is not a MsgPack type"
              : `extension types (0x${
                byte.toString(16)
              }) are not standard MsgPack`,
          );
        }
        // The length bytes must have arrived.
        if (pos + header > limit) break;
        length = header === 2
          ? data[pos + 1]
          : header === 3
          ? (data[pos + 1] << 8) | data[pos + 2]
          : data[pos + 1] * 0x1000000 +
            ((data[pos + 2] << 16) | (data[pos + 3] << 8) | data[pos + 4]);
      }
      this.#pos = pos;
      pos += header;
      this.#pending--;
      const tally = this.#tally;
      const kind = KIND[byte];
      if (kind === STR || kind === BIN) {
        if (length > end - pos) this.#fail("the data ends too early");
        pos += length;
        tally.strings++;
        tally.stringBytes += length;
        this.#cost += (kind === STR ? STRING : BYTES) - SLOT + length;
      } else {
        const entries = kind === MAP ? 2 * length : length;
        this.#pending += entries;
        tally.containers++;
        tally.values += entries;
        this.#cost += (kind === MAP ? OBJECT : ARRAY) - SLOT + SLOT * entries;
      }
      this.#pos = pos;
      this.#check();
      this.#charge(0, pos);
    }
    this.#pos = pos;
    // Bytes after a whole value are never read: no need to decompress them.
    if (this.#pending === 0 && pos < end) {
      this.#fail(`${end - pos} bytes after the value`);
    }
  }

  /** Adds `cost`, and throws if the total passes the budget (at byte `at`). */
  #charge(cost: number, at: number): void {
    if ((this.#cost += cost) > this.#budget) {
      throw overBudget(
        "MsgPack",
        this.#budget,
        this.#cost,
        at,
        this.#end,
        this.#tally,
      );
    }
  }

  /** Every value still to be read needs a byte at least. */
  #check(): void {
    if (this.#pending > this.#end - this.#pos) {
      this.#fail(
        `the data ends too early (${this.#pending} values declared, ${
          this.#end - this.#pos
        } bytes left)`,
      );
    }
  }

  #fail(what: string): never {
    throw new SerializationError(
      `Cannot decode MsgPack: ${what} (at byte ${this.#pos})`,
    );
  }
}

/** Bytes of the numbers that may not be small integers, by first byte. */
const NUMBER_SIZE = new Uint8Array(256);
NUMBER_SIZE[0xca] = 5;
NUMBER_SIZE[0xcb] = 9;
NUMBER_SIZE[0xce] = 5;
NUMBER_SIZE[0xcf] = 9;
NUMBER_SIZE[0xd3] = 9;

/**
 * The cost of the float32/64, uint32 or 64-bit integer at `pos`: a slot if
 * it is a small integer (31 bits and a sign), a bigint beyond ±2^53 (as the
 * reader decodes it), else a number V8 boxes.
 */
function numberCost(data: Uint8Array, pos: number): number {
  const byte = data[pos];
  if (byte === 0xca || byte === 0xcb) return NUMBER;
  if (byte === 0xce) return data[pos + 1] < 0x80 ? SLOT : NUMBER;
  const high = (data[pos + 1] << 24) | (data[pos + 2] << 16) |
    (data[pos + 3] << 8) | data[pos + 4];
  const low = (data[pos + 5] << 24) | (data[pos + 6] << 16) |
    (data[pos + 7] << 8) | data[pos + 8];
  if (byte === 0xd3 && high < 0) {
    if (high === -1 && low < 0) return SLOT;
    return high < -0x200000 ? BIGINT : NUMBER;
  }
  if (high === 0 && low >= 0) return SLOT;
  // The high word unsigned: 2^53 is 0x00200000 00000000.
  return high >>> 0 > 0x200000 || (high === 0x200000 && low !== 0)
    ? BIGINT
    : NUMBER;
}

const STR = 1;
const BIN = 2;
const ARR = 3;
const MAP = 4;

/** The kind of each variable-size type, by its first byte. */
const KIND = new Uint8Array(256);
/** Header bytes of types with a length field; 0 for what is not MsgPack. */
const HEADER_SIZE = new Uint8Array(256);
for (let byte = 0x80; byte < 0x90; byte++) KIND[byte] = MAP;
for (let byte = 0x90; byte < 0xa0; byte++) KIND[byte] = ARR;
for (let byte = 0xa0; byte < 0xc0; byte++) KIND[byte] = STR;
for (
  const [byte, kind, header] of [
    [0xc4, BIN, 2],
    [0xc5, BIN, 3],
    [0xc6, BIN, 5],
    [0xd9, STR, 2],
    [0xda, STR, 3],
    [0xdb, STR, 5],
    [0xdc, ARR, 3],
    [0xdd, ARR, 5],
    [0xde, MAP, 3],
    [0xdf, MAP, 5],
  ]
) {
  KIND[byte] = kind;
  HEADER_SIZE[byte] = header;
}

/**
 * The cost of the MsgPack value in `data`, refused beyond `budget`.
 *
 * @throws {RangeError} If it costs more than `budget`.
 * @throws {SerializationError} If the headers cannot be MsgPack.
 */
export function msgpackCost(data: Uint8Array, budget: number): number {
  const scanner = new MsgPackCostScanner(data, budget);
  scanner.scan(data.length);
  return scanner.cost;
}

/**
 * An upper bound of the cost of the MsgPack value in `data`, which cannot
 * pass `budget` (it is shorter than `budget / MSGPACK_EXPANSION`): its
 * first `headers` values are counted, and each byte after them is charged
 * `MSGPACK_EXPANSION` units, the most a byte builds (besides the maps that
 * become a `Map`: see `MsgPackReader.extras`).
 *
 * @throws {SerializationError} If the headers counted cannot be MsgPack.
 */
export function msgpackCostBound(
  data: Uint8Array,
  budget: number,
  headers: number,
): number {
  const scanner = new MsgPackCostScanner(data, budget);
  scanner.scan(data.length, headers);
  // The slots of the values not counted are in both terms: never more
  // than the bound per byte of the whole frame.
  return scanner.done ? scanner.cost : Math.min(
    scanner.cost + (data.length - scanner.position) * MSGPACK_EXPANSION,
    data.length * MSGPACK_EXPANSION,
  );
}
