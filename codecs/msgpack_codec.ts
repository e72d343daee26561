import { encodeReleasers } from "./_encode_release.ts";
import { partsEncoders } from "./_encode_parts.ts";
import { MsgPackCore } from "./_msgpack_core.ts";
import type { Codec, CodecOptions, DecodeOptions } from "./codec.ts";
import type { Constructor, FromWire, ToWire } from "./serializer_registry.ts";

/**
 * MsgPack as Python aiomas packs it (`use_bin_type=True`): strings as str,
 * `Uint8Array` as bin, non-integral numbers as float64, integers in the
 * smallest format (`bigint` up to 64 bits), `Map` for maps whose keys are
 * not all strings. Only standard MsgPack goes on the wire (no extension
 * types); extension types and strings that are not UTF-8 received are an
 * error.
 *
 * Decoding is charged against {@linkcode CodecOptions.maxDecodedSize}
 * before anything is built: every value costs 8 units (its slot), a float
 * or an integer beyond 31 bits and a sign 24 (V8 boxes it), a bigint (an
 * integer beyond ±2^53) 32, an array 56 and a map 64 in all (a `Map`, for
 * keys that are not all strings, 192, and 40 more per entry beyond 4), a
 * string 24 and a bin 256 plus their length (a string with a character
 * beyond U+00FF: 2 a character, as V8 keeps it). One byte of MsgPack
 * builds at most 128 units (an empty bin is 2 bytes), so a frame shorter
 * than `maxDecodedSize / 128` bytes cannot pass the budget; a longer one
 * is scanned first, header by header, and refused with a `RangeError` as
 * soon as its count passes the budget (an `array32` declaring 64 M
 * entries at once, at 8 units an entry). {@linkcode MsgPackCodec.lastDecodedCost}
 * reports the count (and what `Map`s and two-byte strings cost beyond it); a frame under 16 KiB
 * is not counted and reports 128 units per byte, one of 16 KiB or more has
 * its first headers counted (one per 8 bytes) and the rest charged 128
 * units per byte, so a bulk payload (bins, strings, floats) is charged
 * about its size.
 *
 * @example
 * ```ts
 * import { MsgPackCodec } from "@aiomas/aiomas/codecs";
 * import assert from "node:assert/strict";
 *
 * const codec = new MsgPackCodec();
 * const bytes = codec.encode([1, 0, new Map([[1, "a"]])]);
 * assert.deepEqual(Array.from(bytes), [0x93, 0x01, 0x00, 0x81, 0x01, 0xa1, 0x61]);
 * assert.deepEqual(codec.decode(bytes), [1, 0, new Map([[1, "a"]])]);
 * ```
 *
 * @example A frame that builds more than its budget
 * ```ts
 * import { MsgPackCodec } from "@aiomas/aiomas/codecs";
 * import assert from "node:assert/strict";
 *
 * // An array (56 units) of 1000 empty maps (64 units each) costs 64056.
 * const frame = new Uint8Array(1003).fill(0x80);
 * frame.set([0xdc, 0x03, 0xe8]);
 * assert.equal((new MsgPackCodec({ maxDecodedSize: 64056 }).decode(frame) as unknown[]).length, 1000);
 * assert.throws(() => new MsgPackCodec({ maxDecodedSize: 64055 }).decode(frame), RangeError);
 * ```
 */
export class MsgPackCodec implements Codec {
  /** Always `"msgpack"`. */
  readonly name: string = "msgpack";
  #core: MsgPackCore;

  /**
   * Creates a MsgPack codec.
   *
   * @param options Limits; see {@linkcode CodecOptions}.
   * @throws {RangeError} If `maxDecodedSize` is not a positive number.
   */
  constructor(options: CodecOptions = {}) {
    const core = new MsgPackCore(options);
    this.#core = core;
    if (
      this.encode === MsgPackCodec.prototype.encode &&
      this.encodeView === MsgPackCodec.prototype.encodeView
    ) {
      partsEncoders.set(this, (value, limit) => core.encodeParts(value, limit));
      encodeReleasers.set(this, () => core.release());
    }
  }
  /**
   * An upper bound, in cost units, of what the latest `decode` built: the
   * counted cost, or the bytes decoded times 128 for a frame under 16 KiB
   * (see {@linkcode Codec.lastDecodedCost}).
   *
   * @returns Cost units (0 before the first decode).
   *
   * @example
   * ```ts
   * import { MsgPackCodec } from "@aiomas/aiomas/codecs";
   * import assert from "node:assert/strict";
   *
   * const codec = new MsgPackCodec();
   * await codec.decode(await codec.encode([1, 2, 3]));
   * assert.ok(codec.lastDecodedCost > 0);
   * ```
   */
  get lastDecodedCost(): number {
    return this.#core.lastCost;
  }

  /**
   * Encodes a value as MsgPack.
   *
   * @param value The value.
   * @returns The bytes.
   * @throws {SerializationError} For symbols, functions, objects without a
   *   serializer, integers beyond 64 bits and nesting beyond `maxDepth`.
   */
  encode(value: unknown): Uint8Array {
    return this.#core.encode(value);
  }

  /**
   * Encodes a value as MsgPack into a buffer this codec reuses (see
   * {@linkcode Codec.encodeView}).
   *
   * @param value The value.
   * @returns A view of the bytes, valid until the codec's next call.
   * @throws {SerializationError} Like {@linkcode MsgPackCodec.encode}.
   */
  encodeView(value: unknown): Uint8Array {
    return this.#core.encodeView(value);
  }

  /**
   * Decodes MsgPack. Byte strings are copies, unless `options.owned`
   * hands `data` over: then those of at least a quarter of `data` are
   * views of it (see {@linkcode DecodeOptions}).
   *
   * @example A byte string as a view of bytes handed over
   * ```ts
   * import { MsgPackCodec } from "@aiomas/aiomas/codecs";
   * import assert from "node:assert/strict";
   *
   * const codec = new MsgPackCodec();
   * const frame = codec.encode([1, 0, new Uint8Array(1000).fill(7)]);
   * const copied = codec.decode(frame) as [number, number, Uint8Array];
   * assert.notEqual(copied[2].buffer, frame.buffer);
   * const viewed = codec.decode(frame, { owned: true }) as [number, number, Uint8Array];
   * assert.equal(viewed[2].buffer, frame.buffer);
   * assert.deepEqual(viewed, copied);
   * ```
   *
   * @param data The bytes.
   * @param options Whether `data` is handed over; see {@linkcode DecodeOptions}.
   * @returns The value.
   * @throws {SerializationError} If the bytes are not one complete MsgPack
   *   value of standard types, hold a string that is not UTF-8, nest too
   *   deep, or name an unknown `__type__`.
   * @throws {RangeError} If the message would build more than
   *   `maxDecodedSize` (checked before it is built).
   */
  decode(data: Uint8Array, options?: DecodeOptions): unknown {
    return this.#core.decode(data, options?.owned === true);
  }

  /**
   * Registers a serializer; see {@linkcode SerializerRegistry.add}.
   *
   * @param type The exact class, or `Object` for the fallback.
   * @param toWire Turns an instance into encodable data.
   * @param fromWire Turns that data back into an instance.
   * @returns The serializer's typeid.
   * @throws {TypeError} If the class has a serializer already.
   */
  addSerializer<T>(
    type: Constructor<T>,
    toWire: ToWire<T>,
    fromWire: FromWire<T>,
  ): number {
    return this.#core.registry.add(type, toWire, fromWire);
  }
}
