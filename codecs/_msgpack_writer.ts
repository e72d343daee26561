// A MsgPack encoder with aiomas's number rules. msgpackr's encoder cannot be
// configured to follow them (it writes integers beyond 32 bits as float64
// and -0.0 as the integer 0), so encoding is done here, in one pass into a
// reused buffer; decoding is in _msgpack_reader.ts.
import { SerializationError } from "../errors.ts";
import { changed, encodeFailure } from "./_encode_failure.ts";
import { EncodeBuffers } from "./_buffer_pool.ts";
import { EncodeLimitError } from "./_encode_limit.ts";
import { writeBigInt, writeInteger } from "./_msgpack_integers.ts";
import { Float64, isWireInteger } from "./float64.ts";
import type { SerializerRegistry } from "./serializer_registry.ts";
import { describe } from "./serializer_registry.ts";

const textEncoder = new TextEncoder();
/** Bins from this size on are left out of the buffer by `encodeParts`. */
export const LARGE_PART = 64 * 1024;
const EMPTY_PART = new Uint8Array(0);
/**
 * How far past the limit the room for a string may reach: enough that a
 * string that does not fit shows the limit is passed even after its header
 * shrinks (by 2 bytes at most).
 */
const TEXT_SLACK = 8;
// "__type__" as a fixstr, the key of every serializer map.
const TYPE_KEY = new Uint8Array([0xa8, ...textEncoder.encode("__type__")]);

/**
 * Encodes values as standard MsgPack; one instance is not re-entrant.
 *
 * It writes into a buffer of its own that grows (doubling) up to 64 KiB
 * and is kept; a message that needs more is written into a buffer from the
 * process-wide pool, kept for messages of about its size and otherwise
 * given back at the start of the next call (`EncodeBuffers`).
 *
 * A call may be given a limit (see `LimitedEncodeView`): it is compared
 * where the buffer grows, with the fewest bytes the write that needs the
 * room will add (and the bins `encodeParts` leaves out), never per byte
 * written. The room asked for a string (3 bytes a unit) is cut at the
 * limit, so at most twice the limit is asked for before it is passed; a
 * buffer the writer holds, or the pool hands it, may be larger (up to the
 * pool's 8 MiB) and is filled before the check.
 */
export class MsgPackWriter {
  #buffers = new EncodeBuffers();
  /** The buffer of the current message. */
  #buffer: Uint8Array<ArrayBuffer> = this.#buffers.start();
  #view = new DataView(this.#buffer.buffer);
  #pos = 0;
  /** The current call's limit, in bytes. */
  #limit = Infinity;
  /** That limit less the bins `encodeParts` left out so far. */
  #room = Infinity;
  /** While `encodeParts` runs: where each large bin left out would start. */
  #cuts: number[] | null = null;
  /** The bins left out. */
  #bins: Uint8Array[] = [];
  /** Where `encodeParts` notes its cuts, reused. */
  #partCuts: number[] = [];
  /** `encodeParts`'s result without large bins, reused. */
  #single: Uint8Array[] = [EMPTY_PART];
  #registry: SerializerRegistry;
  #maxDepth: number;

  constructor(registry: SerializerRegistry, maxDepth: number) {
    this.#registry = registry;
    this.#maxDepth = maxDepth;
  }

  /**
   * Gives a pooled buffer back now rather than at the next call: the view
   * the last call returned must not be used any more.
   */
  release(): void {
    this.#single[0] = EMPTY_PART;
    this.#buffers.release();
    const buffer = this.#buffers.start();
    if (buffer !== this.#buffer) this.#use(buffer);
  }

  /** Encodes `value` into a new array of exactly its size. */
  encode(value: unknown, limit: number = Infinity): Uint8Array {
    const bytes = this.encodeView(value, limit).slice();
    // Nobody holds a view of a pooled buffer now: give it back at once.
    this.#buffers.release();
    return bytes;
  }

  /**
   * Encodes `value` into this writer's buffer: valid until the next call,
   * which may give that buffer to another writer. Throws
   * `EncodeLimitError` once the encoding is sure to be longer than `limit`
   * bytes (see `LimitedEncodeView`).
   */
  encodeView(value: unknown, limit: number = Infinity): Uint8Array {
    const buffer = this.#buffers.start();
    if (buffer !== this.#buffer) this.#use(buffer);
    this.#pos = 0;
    this.#limit = limit;
    this.#room = limit;
    try {
      this.#value(value, 0);
    } catch (error) {
      throw encodeFailure(error, "MsgPack");
    }
    this.#buffers.used = this.#pos;
    return this.#buffer.subarray(0, this.#pos);
  }

  /**
   * Encodes `value` as {@linkcode encodeView} does, but without copying its
   * bins of {@linkcode LARGE_PART} bytes and more: the encoding is the
   * concatenation of the parts returned, which alternate between this
   * writer's buffer (even indices, possibly empty, valid until the next
   * call) and those bins themselves (odd indices, the caller's arrays).
   * Without such bins the array returned holds one view and is reused by
   * the next call (no allocation per message): it must not be changed.
   * The bins left out count towards `limit` (see `encodeView`).
   */
  encodeParts(value: unknown, limit: number = Infinity): Uint8Array[] {
    const cuts = this.#partCuts;
    const bins = this.#bins;
    this.#cuts = cuts;
    let view: Uint8Array;
    try {
      view = this.encodeView(value, limit);
    } catch (error) {
      // Keep none of the caller's arrays alive.
      cuts.length = 0;
      bins.length = 0;
      throw error;
    } finally {
      this.#cuts = null;
    }
    if (cuts.length === 0) {
      this.#single[0] = view;
      return this.#single;
    }
    const parts: Uint8Array[] = [];
    let from = 0;
    for (let i = 0; i < cuts.length; i++) {
      parts.push(view.subarray(from, cuts[i]), bins[i]);
      from = cuts[i];
    }
    parts.push(view.subarray(from));
    // Keep none of the caller's arrays alive but in `parts`.
    cuts.length = 0;
    bins.length = 0;
    return parts;
  }

  #use(buffer: Uint8Array<ArrayBuffer>): void {
    this.#buffer = buffer;
    this.#view = new DataView(buffer.buffer);
  }

  /** Room for `bytes` more, of which at least one will be written. */
  #reserve(bytes: number): void {
    const needed = this.#pos + bytes;
    if (needed > this.#buffer.length) this.#grow(needed, this.#pos + 1);
  }

  /**
   * Grows the buffer to `needed` bytes, unless `least`, what the message
   * will be at least once the write that needs them is done, is above the
   * limit.
   */
  #grow(needed: number, least: number): void {
    if (least > this.#room) this.#refuse();
    this.#use(this.#buffers.grow(this.#pos, needed));
  }

  /** Stops a message that passed the limit; nothing of it is handed out. */
  #refuse(): never {
    this.#buffers.release();
    this.#use(this.#buffers.start());
    throw new EncodeLimitError(this.#limit);
  }

  #byte(value: number): void {
    this.#buffer[this.#pos++] = value;
  }

  #value(value: unknown, depth: number): void {
    this.#reserve(9);
    switch (typeof value) {
      case "string":
        return this.#string(value);
      case "number":
        if (isWireInteger(value)) return this.#integer(value);
        return this.#float(value);
      case "boolean":
        return this.#byte(value ? 0xc3 : 0xc2);
      case "bigint":
        return this.#bigint(value);
      case "undefined":
        return this.#byte(0xc0);
      case "object":
        if (value === null) return this.#byte(0xc0);
        return this.#object(value, depth);
      case "function":
        // Only a serializer can send one (e.g. a remote proxy as a reference).
        return this.#value(this.#registry.toWire(value), depth);
      default:
        throw new SerializationError(
          `Cannot encode ${describe(value)} as MsgPack`,
        );
    }
  }

  #integer(value: number): void {
    this.#pos = writeInteger(this.#buffer, this.#view, this.#pos, value);
  }

  #bigint(value: bigint): void {
    this.#pos = writeBigInt(this.#buffer, this.#view, this.#pos, value);
  }

  #float(value: number): void {
    this.#buffer[this.#pos++] = 0xcb;
    this.#view.setFloat64(this.#pos, value);
    this.#pos += 8;
  }

  #string(value: string): void {
    const length = value.length;
    // Short ASCII strings are the common case and cheapest to copy by hand.
    if (length < 256) {
      const headerSize = length < 32 ? 1 : 2;
      this.#reserve(headerSize + length);
      const buffer = this.#buffer;
      const start = this.#pos;
      const at = start + headerSize;
      let i = 0;
      for (; i < length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buffer[at + i] = c;
      }
      if (i === length) {
        if (headerSize === 1) {
          buffer[start] = 0xa0 | length;
        } else {
          buffer[start] = 0xd9;
          buffer[start + 1] = length;
        }
        this.#pos = at + length;
        return;
      }
    }
    // TextEncoder would turn a lone surrogate into U+FFFD without a word
    // (and Python refuses such strings): refuse it here.
    if (!value.isWellFormed()) {
      throw new SerializationError(
        "Cannot encode a string with a lone surrogate as MsgPack",
      );
    }
    const maxBytes = length * 3;
    const headerSize = maxBytes < 32
      ? 1
      : maxBytes < 0x100
      ? 2
      : maxBytes < 0x10000
      ? 3
      : 5;
    const start = this.#pos;
    if (start + headerSize + maxBytes > this.#buffer.length) {
      this.#growText(headerSize, length, maxBytes);
    }
    const { read, written } = textEncoder.encodeInto(
      value,
      this.#buffer.subarray(start + headerSize),
    );
    // Only room cut at the limit can be too short (see #growText).
    if (read < length) this.#refuse();
    const needed = written < 32
      ? 1
      : written < 0x100
      ? 2
      : written < 0x10000
      ? 3
      : 5;
    if (needed < headerSize) {
      this.#buffer.copyWithin(
        start + needed,
        start + headerSize,
        start + headerSize + written,
      );
    }
    this.#pos = start;
    if (needed === 1) this.#byte(0xa0 | written);
    else this.#length(written, 0xd9);
    this.#pos += written;
  }

  /**
   * Room for a string of `length` units after a header of `headerSize`
   * bytes: `maxBytes`, but not further than {@linkcode TEXT_SLACK} bytes
   * past the limit. A string that does not fit in room that reaches that
   * far is longer than the limit allows, header shrink and all.
   */
  #growText(headerSize: number, length: number, maxBytes: number): void {
    const at = this.#pos + headerSize;
    // UTF-8 takes at least a byte a unit (lone surrogates are refused), and
    // the header may shrink to what that many bytes need.
    const least = this.#pos + length +
      (length < 32 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5);
    const needed = Math.min(at + maxBytes, this.#room + TEXT_SLACK);
    if (needed > this.#buffer.length) this.#grow(needed, least);
    else if (least > this.#room) this.#refuse();
  }

  /** Writes a str8/16/32 (or bin8/16/32) header: `first` is the 8-bit marker. */
  #length(length: number, first: number): void {
    if (length < 0x100) {
      this.#byte(first);
      this.#byte(length);
    } else if (length < 0x10000) {
      this.#byte(first + 1);
      this.#view.setUint16(this.#pos, length);
      this.#pos += 2;
    } else {
      this.#byte(first + 2);
      this.#view.setUint32(this.#pos, length);
      this.#pos += 4;
    }
  }

  #collection(size: number, fix: number, first16: number): void {
    this.#reserve(5);
    if (size < 16) {
      this.#byte(fix | size);
    } else if (size < 0x10000) {
      this.#byte(first16);
      this.#view.setUint16(this.#pos, size);
      this.#pos += 2;
    } else {
      this.#byte(first16 + 1);
      this.#view.setUint32(this.#pos, size);
      this.#pos += 4;
    }
  }

  #object(value: object, depth: number): void {
    if (depth >= this.#maxDepth) {
      throw new SerializationError(
        `Cannot encode value: nesting deeper than maxDepth ${this.#maxDepth} (or a cycle)`,
      );
    }
    // The header's count is read before the entries are: what changes the
    // entries meanwhile (a getter, a serializer) must not make a frame
    // whose count is not theirs.
    if (Array.isArray(value)) {
      const length = value.length;
      this.#collection(length, 0x90, 0xdc);
      for (let i = 0; i < length; i++) this.#value(value[i], depth + 1);
      return;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      const record = value as Record<string, unknown>;
      let size = 0;
      for (const key in record) if (record[key] !== undefined) size++;
      this.#collection(size, 0x80, 0xde);
      for (const key in record) {
        const item = record[key];
        if (item === undefined) continue;
        if (size-- === 0) changed("an object");
        this.#string(key);
        this.#value(item, depth + 1);
      }
      if (size !== 0) changed("an object");
      return;
    }
    if (value instanceof Uint8Array) {
      if (this.#cuts !== null && value.length >= LARGE_PART) {
        // Only the header (a bin32's): the bin goes out as a part of its own.
        if (this.#pos + 5 + value.length > this.#room) this.#refuse();
        this.#room -= value.length;
        this.#reserve(5);
        this.#length(value.length, 0xc4);
        this.#cuts.push(this.#pos);
        this.#bins.push(value);
        return;
      }
      // A header of at least 2 bytes.
      if (this.#pos + 5 + value.length > this.#buffer.length) {
        this.#grow(this.#pos + 5 + value.length, this.#pos + 2 + value.length);
      }
      this.#length(value.length, 0xc4);
      this.#buffer.set(value, this.#pos);
      this.#pos += value.length;
      return;
    }
    if (value instanceof Map) {
      let size = value.size;
      this.#collection(size, 0x80, 0xde);
      for (const [key, item] of value) {
        if (size-- === 0) changed("a Map");
        this.#value(key, depth + 1);
        this.#value(item, depth + 1);
      }
      if (size !== 0) changed("a Map");
      return;
    }
    if (value instanceof Float64) return this.#float(value.value);
    const tagged = this.#registry.toWire(value);
    this.#reserve(TYPE_KEY.length + 2);
    this.#byte(0x81);
    this.#buffer.set(TYPE_KEY, this.#pos);
    this.#pos += TYPE_KEY.length;
    this.#value(tagged.__type__, depth + 1);
  }
}
