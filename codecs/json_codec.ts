import { encodeReleasers } from "./_encode_release.ts";
import { SerializationError } from "../errors.ts";
import { JSON_EXPANSION, maxDecodedSizeOption } from "./_budget.ts";
import { LONG_DIGIT_RUN, parse, type TextSigns } from "./_json.ts";
import { viewEncoders } from "./_encode_limit.ts";
import { jsonCost, type JsonCount } from "./_json_cost.ts";
import { JsonWriter } from "./_json_writer.ts";
import type { Codec, CodecOptions } from "./codec.ts";
import { DEFAULT_MAX_DEPTH } from "./codec.ts";
import type { Constructor, FromWire, ToWire } from "./serializer_registry.ts";
import { SerializerRegistry } from "./serializer_registry.ts";

/** Options of {@linkcode JsonCodec}. */
export interface JsonCodecOptions extends CodecOptions {
  /**
   * Whether a decoded map with a `__type__` key is a serialized object,
   * as aiomas reads it (`{"__type__": [typeid, data]}`), or data like any
   * other map. Turn it off to read plain JSON from peers that are not
   * aiomas (mosaik's simulators are, and their data may hold such a key).
   * A codec without type tags takes no serializers, so neither an
   * `RpcClient` (which adds one for references) nor a container can use
   * it; a plain `Channel` can.
   *
   * @default {true}
   */
  typeTags?: boolean;
}

// The lenient decoder is much faster; it marks invalid bytes with U+FFFD,
// and only a text with a U+FFFD in it is decoded again strictly.
const lenient = new TextDecoder("utf-8");
const strict = new TextDecoder("utf-8", { fatal: true });
/** ASCII texts up to this many bytes are decoded without TextDecoder. */
const SHORT_TEXT = 256;
/**
 * Texts from this many bytes on are counted (their cost, and whether they
 * have long integers) and searched as strings (native, about four times
 * as fast as the byte loop on long strings of bulk data): the count is
 * charged, not the bound.
 */
const LARGE_TEXT = 16 * 1024;
/** A character V8 keeps at 2 bytes, as text or as an escape. */
const BEYOND_LATIN1 = /[^\0-\xff]/;
const WIDE_ESCAPE = /\\u(?!00)/;

/**
 * The default codec: UTF-8 JSON as Python aiomas reads and writes it.
 *
 * Non-finite numbers travel as the bare tokens `NaN`, `Infinity` and
 * `-Infinity` (as Python's `json` does); integers beyond ±2^53 decode to
 * `bigint`, and a `bigint` encodes as an integer (of up to 4300 digits).
 * Integral numbers up to 2^53 are sent as integers; wrap one in `Float64`
 * to send `1.0`. Bytes cannot be encoded (use `MsgPackCodec`) unless a serializer
 * for `Uint8Array` is added.
 *
 * Decoding is charged against {@linkcode CodecOptions.maxDecodedSize}
 * before the text is parsed: every value costs 8 units (its slot), a
 * number that is no integer of up to 9 digits 24 (V8 boxes it), an
 * integer beyond ±2^53 (a bigint) 32 and 8 more per 19 digits beyond 19,
 * an array 56 and an object 64 in all, a string 24 plus its bytes between
 * the quotes (keys too). An integer of more than 4300 digits is refused
 * with a `SerializationError` (Python's limit), both ways. One byte of JSON builds at most 32 units (`{}` is 2
 * bytes), so a text shorter than `maxDecodedSize / 32` bytes is parsed
 * without counting; a longer one is counted in one pass over its bytes
 * first and refused with a `RangeError` if it would build more. (The text
 * itself, as a string of up to twice its bytes, is held while it is
 * parsed; `maxFrameSize` bounds it.)
 *
 * @example
 * ```ts
 * import { JsonCodec } from "@aiomas/aiomas/codecs";
 * import assert from "node:assert/strict";
 *
 * const codec = new JsonCodec();
 * const bytes = codec.encode([0, 1, ["add", [3, 4], {}]]);
 * assert.equal(new TextDecoder().decode(bytes), '[0,1,["add",[3,4],{}]]');
 * assert.deepEqual(codec.decode(new TextEncoder().encode("[1, 0, NaN]")), [1, 0, NaN]);
 * ```
 */
export class JsonCodec implements Codec {
  /** Always `"json"`. */
  readonly name: string = "json";
  #registry = new SerializerRegistry();
  /** The registry `__type__` maps are resolved with; null: they stay maps. */
  #tags: SerializerRegistry | null;
  #maxDepth: number;
  /** Character codes of a short text being decoded, reused. */
  #units: number[] = [];
  #writer: JsonWriter;
  #writing = false;
  #maxDecodedSize: number;
  /**
   * The budget left while a message is decoded: a serializer that decodes
   * with this codec again gets what is left, and what it decodes is
   * charged.
   */
  #left: number;
  /**
   * Texts longer than this may reach what is left, or are long enough to
   * be charged what they build: they are counted.
   */
  #countFrom: number;
  /** What the count of the latest counted text found. */
  #count: JsonCount = {
    longIntegers: false,
    stringBytes: 0,
  };
  /**
   * What the latest text's bytes showed, reused: `parse` reads it before
   * anything it calls (a serializer) can decode again.
   */
  #signs: TextSigns = { longDigits: false, typed: false, escapes: false };
  /** Set for the one call of `decode` that decodes a counted text. */
  #counted = false;
  /** An outermost decode runs (a serializer's decodes are nested in it). */
  #decoding = false;
  /** See {@linkcode JsonCodec.lastDecodedCost}. */
  #lastCost = 0;

  /**
   * Creates a JSON codec.
   *
   * @param options Limits and type tags; see {@linkcode JsonCodecOptions}.
   * @throws {RangeError} If `maxDecodedSize` is not a positive number.
   */
  constructor(options: JsonCodecOptions = {}) {
    this.#tags = options.typeTags === false ? null : this.#registry;
    this.#maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.#maxDecodedSize = maxDecodedSizeOption(options.maxDecodedSize);
    this.#left = this.#maxDecodedSize;
    this.#countFrom = countFrom(this.#left);
    this.#writer = new JsonWriter(this.#registry, this.#maxDepth);
    if (
      this.encode === JsonCodec.prototype.encode &&
      this.encodeView === JsonCodec.prototype.encodeView
    ) {
      viewEncoders.set(this, (value, limit) => this.#encode(value, limit));
      encodeReleasers.set(this, () => {
        if (!this.#writing) this.#writer.release();
      });
    }
  }

  /**
   * Encodes a value as UTF-8 JSON.
   *
   * @param value The value.
   * @returns The bytes.
   * @throws {SerializationError} For bytes, symbols, functions, objects
   *   without a serializer, and nesting beyond `maxDepth`.
   */
  encode(value: unknown): Uint8Array {
    return this.#encode(value, -1);
  }

  /**
   * Encodes a value as UTF-8 JSON into a buffer this codec reuses (see
   * {@linkcode Codec.encodeView}).
   *
   * @param value The value.
   * @returns A view of the bytes, valid until the codec's next call.
   * @throws {SerializationError} Like {@linkcode JsonCodec.encode}.
   */
  encodeView(value: unknown): Uint8Array {
    return this.#encode(value, Infinity);
  }

  /**
   * Encodes into a copy (`limit` -1) or a view of the writer's buffer, of
   * at most about `limit` bytes (see `LimitedEncodeView`).
   */
  #encode(value: unknown, limit: number): Uint8Array {
    // A serializer may encode with this codec again: give it its own writer
    // (and no limit: what it returns counts where it is written).
    if (this.#writing) {
      return new JsonWriter(this.#registry, this.#maxDepth).encode(value);
    }
    this.#writing = true;
    try {
      return limit < 0
        ? this.#writer.encode(value)
        : this.#writer.encodeView(value, limit);
    } finally {
      this.#writing = false;
    }
  }

  /**
   * Decodes UTF-8 JSON.
   *
   * @param data The bytes; nothing of them is kept (the value holds only
   *   strings), whatever `DecodeOptions.owned` says.
   * @returns The value.
   * @throws {SerializationError} If the bytes are not JSON, or a
   *   `__type__` map has no serializer.
   * @throws {RangeError} If the text would build more than
   *   `maxDecodedSize` (checked before it is parsed).
   */
  decode(data: Uint8Array): unknown {
    if (this.#decoding) return this.#decode(data);
    this.#decoding = true;
    try {
      const value = this.#decode(data);
      // What the text was charged (its count, or its bound if it was too
      // short to count) and what its serializers decoded.
      this.#lastCost = this.#maxDecodedSize - this.#left;
      return value;
    } finally {
      this.#decoding = false;
      this.#left = this.#maxDecodedSize;
      this.#countFrom = countFrom(this.#left);
      this.#counted = false;
    }
  }

  /**
   * An upper bound, in cost units, of what the latest `decode` built: the
   * counted cost of a text of 16 KiB or more (or one that might build more
   * than `maxDecodedSize`), else the bytes decoded times 32 (see
   * {@linkcode Codec.lastDecodedCost}).
   *
   * @returns Cost units (0 before the first decode).
   *
   * @example
   * ```ts
   * import { JsonCodec } from "@aiomas/aiomas/codecs";
   * import assert from "node:assert/strict";
   *
   * const codec = new JsonCodec();
   * codec.decode(new TextEncoder().encode("[1,2,3]"));
   * assert.equal(codec.lastDecodedCost, 7 * 32);
   * ```
   */
  get lastDecodedCost(): number {
    return this.#lastCost;
  }

  #decode(data: Uint8Array): unknown {
    const counted = data.length > this.#countFrom;
    if (counted) {
      if (!this.#counted) return this.#decodeCounted(data);
      // This is that text, counted: what a serializer decodes again is not.
      this.#counted = false;
    } else {
      // A text this short cannot reach what is left: not counted, charged
      // its bound, so that what its serializers decode gets the rest.
      this.#left -= data.length * JSON_EXPANSION;
    }
    this.#countFrom = countFrom(this.#left);
    if (data.length >= LARGE_TEXT) return this.#decodeLarge(data);
    // One pass over the bytes tells whether the text can hold a U+FFFD (a
    // sign of bad UTF-8), whether it has an integer too long for the fast
    // parser, and whether it can hold a "__type__" key (an underscore, or
    // an escape that makes one); a message is usually none of these. A
    // short text's character codes are kept on the way.
    const units = data.length <= SHORT_TEXT ? this.#units : null;
    if (units !== null) units.length = data.length;
    let ascii = true;
    let longDigits = false;
    let typed = false;
    let escapes = false;
    // May hold a character beyond U+00FF: a UTF-8 lead byte of one, or an
    // escape `\uXXXX` not of `\u00XX`.
    let wide = false;
    let run = 0;
    for (let i = 0; i < data.length; i++) {
      const byte = data[i];
      if (units !== null) units[i] = byte;
      if (byte >= 0x30 && byte <= 0x39) {
        if (++run === LONG_DIGIT_RUN) longDigits = true;
      } else {
        run = 0;
        if (byte >= 0x80) {
          ascii = false;
          if (byte >= 0xc4) wide = true;
        } else if (byte === 0x5c) {
          typed = escapes = true;
          if (data[i + 1] === 0x75 && (data[i + 2] | data[i + 3]) !== 0x30) {
            wide = true;
          }
        } else if (byte === 0x5f) typed = true;
      }
    }
    if (counted && wide) this.#twoByte();
    let text: string;
    const flat = ascii && units !== null;
    if (flat) {
      // One flat string from the character codes, without TextDecoder's
      // many layers (slow when the process wakes with cold caches).
      text = String.fromCharCode.apply(null, units);
    } else {
      text = lenient.decode(data);
      if (!ascii && text.includes("\uFFFD")) text = strictText(data);
    }
    const signs = this.#signs;
    signs.longDigits = longDigits;
    signs.typed = typed || !flat;
    signs.escapes = escapes;
    return parse(text, this.#tags, this.#maxDepth, signs);
  }

  /**
   * Decodes a large text, counted just before: the checks of the byte
   * loop, as a string search and what the count found.
   */
  #decodeLarge(data: Uint8Array): unknown {
    let text = lenient.decode(data);
    if (text.includes("\uFFFD")) text = strictText(data);
    // Fewer characters than bytes: some are not ASCII (so may be wide).
    if (
      (text.length !== data.length && BEYOND_LATIN1.test(text)) ||
      (text.includes("\\u") && WIDE_ESCAPE.test(text))
    ) this.#twoByte();
    const count = this.#count;
    const signs = this.#signs;
    signs.longDigits = count.longIntegers;
    signs.typed = true;
    signs.escapes = text.includes("\\");
    return parse(text, this.#tags, this.#maxDepth, signs);
  }

  /**
   * Charges a counted text's strings their bytes once more: it has a
   * character beyond U+00FF (as text or escaped), and V8 keeps a string
   * that has one at 2 bytes a character, where the count charged 1 a byte
   * as sent.
   *
   * @throws {RangeError} If that is more than is left of the budget.
   */
  #twoByte(): void {
    const extra = this.#count.stringBytes;
    if ((this.#left -= extra) >= 0) return;
    throw new RangeError(
      `Cannot decode JSON: the message builds more than maxDecodedSize (${this.#maxDecodedSize} units): its strings of ${extra} bytes may hold characters beyond U+00FF, which V8 keeps at 2 bytes a character, ${-this
        .#left} units too many`,
    );
  }

  #decodeCounted(data: Uint8Array): unknown {
    // Kept once it returns: a serializer's decodes share one running total
    // with their message, siblings too.
    this.#left -= jsonCost(data, this.#left, this.#count);
    // Makes the next call take the branch that clears #counted.
    this.#countFrom = -1;
    this.#counted = true;
    return this.#decode(data);
  }

  /**
   * Registers a serializer; see {@linkcode SerializerRegistry.add}.
   *
   * @param type The exact class, or `Object` for the fallback.
   * @param toWire Turns an instance into encodable data.
   * @param fromWire Turns that data back into an instance.
   * @returns The serializer's typeid.
   * @throws {TypeError} If the class has a serializer already, or the
   *   codec has no type tags (`JsonCodecOptions.typeTags` false).
   */
  addSerializer<T>(
    type: Constructor<T>,
    toWire: ToWire<T>,
    fromWire: FromWire<T>,
  ): number {
    if (this.#tags === null) {
      throw new TypeError(
        "Cannot add a serializer to a JsonCodec without type tags (typeTags: false)",
      );
    }
    return this.#registry.add(type, toWire, fromWire);
  }
}

/** Decodes UTF-8 strictly (the lenient decoder found a U+FFFD). */
function strictText(data: Uint8Array): string {
  try {
    return strict.decode(data);
  } catch {
    throw new SerializationError("Cannot decode JSON: the bytes are not UTF-8");
  }
}

/**
 * The length beyond which a text is counted: it may reach what is left of
 * the budget, or it is large (see `JsonCodec.#decodeLarge`).
 */
function countFrom(left: number): number {
  const bound = left / JSON_EXPANSION;
  return bound < LARGE_TEXT ? bound : LARGE_TEXT - 1;
}
