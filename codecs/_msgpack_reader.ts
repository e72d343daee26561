// A strict MsgPack decoder for what aiomas sends. msgpackr cannot be
// configured to be strict (it decodes its own extension types into bigints,
// typed arrays, Sets, records, … and replaces invalid UTF-8), so decoding is
// done here, in one pass: standard types only, UTF-8 checked, every length
// checked against the bytes that are left, nesting limited by maxDepth.
import { SerializationError } from "../errors.ts";
import { mapExtra } from "./_budget.ts";
import { crowdedBucket, MAX_BUCKET_KEYS } from "./_hash_flood.ts";
import { isSparseIndex, setKey, toSparseElements } from "./_set_key.ts";
import type { SerializerRegistry } from "./serializer_registry.ts";

// ignoreBOM: a string that starts with U+FEFF keeps it. The lenient decoder
// is much faster; it marks invalid bytes with U+FFFD, and only a string with
// a U+FFFD in it is decoded again strictly to tell the two apart.
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const EMPTY = new Uint8Array(0);
/** A character V8 keeps in a two-byte string. */
const BEYOND_LATIN1 = /[^\0-\xff]/;

/**
 * Decodes MsgPack documents; one instance is reused for many, and is not
 * re-entrant.
 */
export class MsgPackReader {
  #data: Uint8Array = EMPTY;
  /** Made only for the values that need it (floats, 64-bit integers). */
  #dataView: DataView | null = null;
  #pos = 0;
  /** Character codes of a short string being decoded, reused. */
  #units: number[] = [];
  #registry: SerializerRegistry;
  #maxDepth: number;
  /**
   * What is left of the message's budget after its cost scan, for what the
   * scan cannot know: which maps become a `Map` (their keys are not all
   * strings), which strings V8 keeps at 2 bytes a character.
   */
  #spare = Infinity;
  #budget = Infinity;
  /**
   * What the maps that became a `Map` and the two-byte strings cost
   * beyond their count, in the latest `read` (a cost scan cannot tell
   * them).
   */
  extras = 0;
  /** Bins of at least this many bytes are views of `#data`, not copies. */
  #viewFrom = Infinity;

  constructor(registry: SerializerRegistry, maxDepth: number) {
    this.#registry = registry;
    this.#maxDepth = maxDepth;
  }

  /**
   * Decodes the one MsgPack value that `data` holds: integers beyond ±2^53
   * as bigint, bin as a `Uint8Array`, maps with only string keys as plain
   * objects and other maps as `Map`, `__type__` maps resolved. `spare` is
   * what the message's budget (`budget`) has left after its cost scan;
   * each `Map` is charged against it before it is made. A bin is a copy,
   * unless `owned` (the caller hands `data` over) and it is at least a
   * quarter of `data`: then it is a view of `data`.
   */
  read(
    data: Uint8Array,
    spare: number,
    budget: number,
    owned: boolean,
  ): unknown {
    this.#data = data;
    this.#dataView = null;
    this.#pos = 0;
    this.#spare = spare;
    this.#budget = budget;
    this.extras = 0;
    this.#viewFrom = owned ? Math.ceil(data.length / 4) : Infinity;
    try {
      const value = this.#value(0);
      if (this.#pos !== data.length) {
        this.#fail(`${data.length - this.#pos} bytes after the value`);
      }
      return value;
    } finally {
      // Do not keep the caller's buffer alive.
      this.#data = EMPTY;
      this.#dataView = null;
    }
  }

  get #view(): DataView {
    const data = this.#data;
    return this.#dataView ??= new DataView(
      data.buffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  #fail(what: string): never {
    throw new SerializationError(
      `Cannot decode MsgPack: ${what} (at byte ${this.#pos})`,
    );
  }

  /** Checks that `size` more bytes are there. */
  #need(size: number): void {
    if (size > this.#data.length - this.#pos) {
      this.#fail("the data ends too early");
    }
  }

  #value(depth: number): unknown {
    this.#need(1);
    const byte = this.#data[this.#pos++];
    if (byte < 0x80) return byte;
    if (byte >= 0xe0) return byte - 0x100;
    if (byte < 0x90) return this.#map(byte & 0x0f, depth);
    if (byte < 0xa0) return this.#array(byte & 0x0f, depth);
    if (byte < 0xc0) return this.#string(byte & 0x1f);
    switch (byte) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.#bytes(this.#uint(1));
      case 0xc5:
        return this.#bytes(this.#uint(2));
      case 0xc6:
        return this.#bytes(this.#uint(4));
      case 0xca:
        return this.#float(4);
      case 0xcb:
        return this.#float(8);
      case 0xcc:
        return this.#uint(1);
      case 0xcd:
        return this.#uint(2);
      case 0xce:
        return this.#uint(4);
      case 0xcf:
        return this.#int64(false);
      case 0xd0:
        return this.#int(1);
      case 0xd1:
        return this.#int(2);
      case 0xd2:
        return this.#int(4);
      case 0xd3:
        return this.#int64(true);
      case 0xd9:
        return this.#string(this.#uint(1));
      case 0xda:
        return this.#string(this.#uint(2));
      case 0xdb:
        return this.#string(this.#uint(4));
      case 0xdc:
        return this.#array(this.#uint(2), depth);
      case 0xdd:
        return this.#array(this.#uint(4), depth);
      case 0xde:
        return this.#map(this.#uint(2), depth);
      case 0xdf:
        return this.#map(this.#uint(4), depth);
    }
    this.#pos--;
    // 0xc1 is never used; 0xc7-0xc9 and 0xd4-0xd8 are extension types.
    return this.#fail(
      byte === 0xc1
        ? "0xc1 is not a MsgPack type"
        : `extension types (0x${byte.toString(16)}) are not standard MsgPack`,
    );
  }

  #uint(size: 1 | 2 | 4): number {
    this.#need(size);
    const data = this.#data;
    const pos = this.#pos;
    this.#pos += size;
    if (size === 1) return data[pos];
    if (size === 2) return (data[pos] << 8) | data[pos + 1];
    return data[pos] * 0x1000000 +
      ((data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3]);
  }

  #int(size: 1 | 2 | 4): number {
    this.#need(size);
    const data = this.#data;
    const pos = this.#pos;
    this.#pos += size;
    if (size === 1) return (data[pos] << 24) >> 24;
    if (size === 2) return (((data[pos] << 8) | data[pos + 1]) << 16) >> 16;
    return (data[pos] << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) |
      data[pos + 3];
  }

  #int64(signed: boolean): number | bigint {
    this.#need(8);
    const pos = this.#pos;
    this.#pos += 8;
    const value = signed
      ? this.#view.getBigInt64(pos)
      : this.#view.getBigUint64(pos);
    return value >= -(2n ** 53n) && value <= 2n ** 53n ? Number(value) : value;
  }

  #float(size: 4 | 8): number {
    this.#need(size);
    const pos = this.#pos;
    this.#pos += size;
    return size === 4 ? this.#view.getFloat32(pos) : this.#view.getFloat64(pos);
  }

  #bytes(length: number): Uint8Array {
    this.#need(length);
    const start = this.#pos;
    this.#pos += length;
    return length >= this.#viewFrom
      ? this.#data.subarray(start, this.#pos)
      : this.#data.slice(start, this.#pos);
  }

  #string(length: number): string {
    this.#need(length);
    const data = this.#data;
    const start = this.#pos;
    const end = start + length;
    this.#pos = end;
    // Short ASCII strings (most keys) are cheaper to build by hand.
    if (length < 16) {
      let text = "";
      for (let i = start; i < end; i++) {
        const c = data[i];
        if (c >= 0x80) return this.#utf8(start, end);
        text += String.fromCharCode(c);
      }
      return text;
    }
    // Up to 64 bytes: one flat string from the character codes, without
    // TextDecoder's many layers (slow when the process wakes with cold caches).
    if (length <= 64) {
      const units = this.#units;
      units.length = length;
      for (let i = 0; i < length; i++) {
        const c = data[start + i];
        if (c >= 0x80) return this.#utf8(start, end);
        units[i] = c;
      }
      return String.fromCharCode.apply(null, units);
    }
    return this.#utf8(start, end);
  }

  #utf8(start: number, end: number): string {
    const bytes = this.#data.subarray(start, end);
    let text = lenient.decode(bytes);
    if (text.includes("\ufffd")) {
      try {
        text = strict.decode(bytes);
      } catch {
        this.#pos = start;
        return this.#fail("a string is not valid UTF-8");
      }
    }
    // Charged its bytes, but V8 keeps a string with a character beyond
    // U+00FF at 2 bytes a character: mostly ASCII, it takes twice that.
    const extra = 2 * text.length - bytes.length;
    if (extra > 0 && BEYOND_LATIN1.test(text)) {
      this.#charge(
        extra,
        `a string with a character beyond U+00FF takes 2 bytes a character, ${extra} units more than its bytes`,
      );
    }
    return text;
  }

  /**
   * Charges `extra` units a cost scan could not see against what is left
   * of the budget (see `extras`).
   *
   * @throws {RangeError} If that is more than is left.
   */
  #charge(extra: number, what: string): void {
    this.extras += extra;
    if ((this.#spare -= extra) < 0) {
      throw new RangeError(
        `Cannot decode MsgPack: the message builds more than maxDecodedSize (${this.#budget} units): ${what}, ${-this
          .#spare} units too many (at byte ${this.#pos})`,
      );
    }
  }

  /** Checks the depth, and that `count` items of at least a byte each fit. */
  #enter(depth: number, count: number): void {
    if (depth >= this.#maxDepth) {
      this.#fail(`nesting deeper than maxDepth ${this.#maxDepth}`);
    }
    this.#need(count);
  }

  #array(length: number, depth: number): unknown[] {
    this.#enter(depth, length);
    const array = new Array(length);
    for (let i = 0; i < length; i++) array[i] = this.#value(depth + 1);
    return array;
  }

  #map(size: number, depth: number): unknown {
    this.#enter(depth, 2 * size);
    // Empty maps are common (no keyword arguments).
    if (size === 0) return {};
    // Read every entry first: whether this is an object or a Map depends
    // on all the keys, and a Map must keep the wire order.
    const entries = new Array<unknown>(2 * size);
    let stringKeys = true;
    for (let i = 0; i < entries.length; i += 2) {
      const key = this.#value(depth + 1);
      if (typeof key !== "string") stringKeys = false;
      entries[i] = key;
      entries[i + 1] = this.#value(depth + 1);
    }
    if (!stringKeys) {
      const extra = mapExtra(size);
      this.#charge(
        extra,
        `a map with keys that are not strings becomes a Map, which costs ${extra} units more for ${size} entries`,
      );
      const crowded = crowdedBucket(entries);
      if (crowded > 0) {
        throw new RangeError(
          `Cannot decode MsgPack: a map of ${size} entries has ${crowded} keys in one bucket of V8's hash table, where at most ${MAX_BUCKET_KEYS} are allowed (keys chosen to collide make building the Map take quadratic time; at byte ${this.#pos})`,
        );
      }
      const map = new Map<unknown, unknown>();
      for (let i = 0; i < entries.length; i += 2) {
        map.set(entries[i], entries[i + 1]);
      }
      // Python's object_hook sees every map, whatever its other keys are.
      return map.has("__type__")
        ? this.#registry.fromWire(map.get("__type__"))
        : map;
    }
    const record: Record<string, unknown> = {};
    let sparse = false;
    for (let i = 0; i < entries.length; i += 2) {
      const key = entries[i] as string;
      if (!sparse && isSparseIndex(key, size)) {
        toSparseElements(record);
        sparse = true;
      }
      setKey(record, key, entries[i + 1]);
    }
    return Object.hasOwn(record, "__type__")
      ? this.#registry.fromWire(record.__type__)
      : record;
  }
}
