// JSON as Python's json module reads it, written straight into bytes: bare
// NaN/Infinity tokens, integers of any size, floats that stay floats. Plain
// ASCII strings and numbers are copied byte by byte; only strings that need
// escaping or are not ASCII go through JSON.stringify and TextEncoder.
import { SerializationError } from "../errors.ts";
import { encodeFailure } from "./_encode_failure.ts";
import { EncodeBuffers } from "./_buffer_pool.ts";
import { EncodeLimitError } from "./_encode_limit.ts";
import { Float64, isWireInteger } from "./float64.ts";
import { MAX_INTEGER_DIGITS } from "./_json.ts";
import type { Constructor, SerializerRegistry } from "./serializer_registry.ts";
import { describe } from "./serializer_registry.ts";

const textEncoder = new TextEncoder();
/** Escaped texts longer than this are encoded in pieces, as room allows. */
const LARGE_TEXT = 16 * 1024;
/** Strings from this length on are searched for escapes natively. */
const LONG_STRING = 1024;
/** What JSON escapes in a string (besides lone surrogates). */
// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /["\\\x00-\x1f]/;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Encodes values as UTF-8 JSON; one instance is not re-entrant. Its buffers
 * are kept and pooled as `MsgPackWriter`'s are (`_buffer_pool.ts`).
 *
 * A call may be given a limit (see `LimitedEncodeView`): it is compared
 * where the buffer grows, with the fewest bytes the write that needs the
 * room will add, and never per byte written. Where the room asked for is
 * more than the write may need (escaped and non-ASCII text), at most
 * twice the limit is asked for before it is passed; a buffer the writer
 * holds, or the pool hands it, may be larger (up to the pool's 8 MiB) and
 * is filled before the check.
 */
export class JsonWriter {
  #buffers = new EncodeBuffers();
  /** The buffer of the current message. */
  #buffer: Uint8Array<ArrayBuffer> = this.#buffers.start();
  #pos = 0;
  /** The current call's limit, in bytes. */
  #limit = Infinity;
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
    this.#buffers.release();
    const buffer = this.#buffers.start();
    if (buffer !== this.#buffer) this.#use(buffer);
  }

  /** Encodes `value` into a new array of exactly its size. */
  encode(value: unknown): Uint8Array {
    const bytes = this.encodeView(value, Infinity).slice();
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
  encodeView(value: unknown, limit: number): Uint8Array {
    const buffer = this.#buffers.start();
    if (buffer !== this.#buffer) this.#use(buffer);
    this.#pos = 0;
    this.#limit = limit;
    try {
      this.#value(value, 0);
    } catch (error) {
      throw encodeFailure(error, "JSON");
    }
    this.#buffers.used = this.#pos;
    return this.#buffer.subarray(0, this.#pos);
  }

  #use(buffer: Uint8Array<ArrayBuffer>): void {
    this.#buffer = buffer;
  }

  /** Room for `bytes` more, all of which will be written (or more). */
  #reserve(bytes: number): void {
    const needed = this.#pos + bytes;
    if (needed > this.#buffer.length) this.#grow(needed, needed);
  }

  /** Room for `bytes` more, of which at least `least` will be written. */
  #reserveUpTo(bytes: number, least: number): void {
    const needed = this.#pos + bytes;
    if (needed > this.#buffer.length) this.#grow(needed, this.#pos + least);
  }

  /**
   * Grows the buffer to `needed` bytes, unless `least`, what the message
   * will be at least once the write that needs them is done, is above the
   * limit.
   */
  #grow(needed: number, least: number): void {
    if (least > this.#limit) this.#refuse();
    this.#use(this.#buffers.grow(this.#pos, needed));
  }

  /** Stops a message that passed the limit; nothing of it is handed out. */
  #refuse(): never {
    this.#buffers.release();
    this.#use(this.#buffers.start());
    throw new EncodeLimitError(this.#limit);
  }

  #byte(value: number): void {
    this.#reserve(1);
    this.#buffer[this.#pos++] = value;
  }

  /** Writes a text known to be ASCII (numbers, literals). */
  #ascii(text: string): void {
    const length = text.length;
    this.#reserve(length);
    const buffer = this.#buffer;
    const at = this.#pos;
    for (let i = 0; i < length; i++) buffer[at + i] = text.charCodeAt(i);
    this.#pos = at + length;
  }

  #bigint(value: bigint): void {
    const text = value.toString();
    const digits = text.length - (value < 0n ? 1 : 0);
    if (digits > MAX_INTEGER_DIGITS) {
      throw new SerializationError(
        `Cannot encode a bigint of ${digits} digits as JSON: more than ${MAX_INTEGER_DIGITS}, which no peer decodes (Python's limit for int)`,
      );
    }
    this.#ascii(text);
  }

  #value(value: unknown, depth: number): void {
    switch (typeof value) {
      case "string":
        return this.#string(value);
      case "number":
        return this.#ascii(numberText(value, false));
      case "boolean":
        return this.#ascii(value ? "true" : "false");
      case "bigint":
        return this.#bigint(value);
      case "undefined":
        return this.#ascii("null");
      case "object":
        if (value === null) return this.#ascii("null");
        return this.#object(value, depth);
      case "function":
        // Only a serializer can send one (e.g. a remote proxy as a reference).
        return this.#value(this.#registry.toWire(value), depth);
      default:
        throw new SerializationError(
          `Cannot encode ${describe(value)} as JSON`,
        );
    }
  }

  #string(value: string): void {
    const length = value.length;
    if (length >= LONG_STRING) return this.#longString(value);
    this.#reserve(length + 2);
    const buffer = this.#buffer;
    const start = this.#pos;
    buffer[start] = QUOTE;
    let i = 0;
    for (; i < length; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x20 || c >= 0x7f || c === QUOTE || c === BACKSLASH) break;
      buffer[start + 1 + i] = c;
    }
    if (i === length) {
      buffer[start + 1 + length] = QUOTE;
      this.#pos = start + 2 + length;
      return;
    }
    // Escapes and UTF-8 as JSON.stringify does (lone surrogates as \u
    // escapes, so the text is well formed).
    const text = JSON.stringify(value);
    if (text.length > LARGE_TEXT) return this.#largeText(text, start);
    // (#pos is still `start`.) At least a byte a unit: lone surrogates
    // are escaped.
    this.#reserveUpTo(text.length * 3, text.length);
    const { written } = textEncoder.encodeInto(
      text,
      this.#buffer.subarray(start),
    );
    this.#pos = start + written;
  }

  /**
   * Writes a long string: one that needs no escapes is encoded straight
   * into the buffer between its quotes (native searches and copies instead
   * of a loop over its characters).
   */
  #longString(value: string): void {
    const start = this.#pos;
    // At least a byte a unit and two quotes: refused before JSON.stringify
    // copies a string that needs escapes (6 bytes a unit for controls).
    if (start + value.length + 2 > this.#limit) this.#refuse();
    if (NEEDS_ESCAPE.test(value) || !value.isWellFormed()) {
      return this.#largeText(JSON.stringify(value), start);
    }
    this.#byte(QUOTE);
    this.#largeText(value, start + 1);
    this.#byte(QUOTE);
  }

  /**
   * Writes a large text straight into the buffer, a piece at a time as the
   * room allows: room for the worst case (3 bytes a unit) would triple it,
   * and encoding it on its own first would copy it twice.
   */
  #largeText(text: string, start: number): void {
    this.#pos = start;
    // An ASCII text needs as many bytes as units: usually one piece.
    this.#reserve(text.length);
    for (let from = 0;;) {
      const { read, written } = textEncoder.encodeInto(
        from === 0 ? text : text.slice(from),
        this.#buffer.subarray(this.#pos),
      );
      this.#pos += written;
      from += read;
      if (from === text.length) return;
      // Room for what is left at 2 bytes a unit, and at least one character
      // (of at least a byte a unit).
      const rest = text.length - from;
      this.#reserveUpTo(Math.max(2 * rest, 4), rest);
    }
  }

  #object(value: object, depth: number): void {
    if (depth >= this.#maxDepth) {
      throw new SerializationError(
        `Cannot encode value: nesting deeper than maxDepth ${this.#maxDepth} (or a cycle)`,
      );
    }
    if (Array.isArray(value)) {
      this.#byte(0x5b);
      for (let i = 0; i < value.length; i++) {
        if (i > 0) this.#byte(0x2c);
        this.#value(value[i], depth + 1);
      }
      return this.#byte(0x5d);
    }
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      this.#byte(0x7b);
      let first = true;
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) continue;
        if (!first) this.#byte(0x2c);
        this.#string(key);
        this.#byte(0x3a);
        this.#value(item, depth + 1);
        first = false;
      }
      return this.#byte(0x7d);
    }
    if (value instanceof Float64) {
      return this.#ascii(numberText(value.value, true));
    }
    if (value instanceof Map) {
      this.#byte(0x7b);
      let first = true;
      for (const [key, item] of value) {
        if (typeof key !== "string" && typeof key !== "number") {
          throw new SerializationError(
            `Cannot encode a Map key that is ${
              describe(key)
            } as JSON (only strings and numbers)`,
          );
        }
        if (!first) this.#byte(0x2c);
        this.#string(String(key));
        this.#byte(0x3a);
        this.#value(item, depth + 1);
        first = false;
      }
      return this.#byte(0x7d);
    }
    // Bytes have no JSON form of their own: only a serializer of their
    // class gives them one (the fallback is for other objects).
    if (
      value instanceof Uint8Array &&
      !this.#registry.has(value.constructor as Constructor<unknown>)
    ) {
      throw new SerializationError(
        "Cannot encode bytes as JSON (use MsgPackCodec, or add a serializer for Uint8Array)",
      );
    }
    // The __type__ map stands where the object stood: the same depth.
    return this.#value(this.#registry.toWire(value), depth);
  }
}

/** A number as Python's json writes it; `asFloat` keeps a float a float. */
function numberText(value: number, asFloat: boolean): string {
  if (!asFloat && isWireInteger(value)) return String(value);
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  if (Object.is(value, -0)) return "-0.0";
  const text = String(value);
  return /[.e]/.test(text) ? text : text + ".0";
}
