import type { Constructor, FromWire, ToWire } from "./serializer_registry.ts";

/**
 * Turns messages into bytes and back, the way an aiomas codec does.
 *
 * Native values: `null` (and `undefined`, sent as null), booleans, numbers,
 * `bigint`, strings, arrays and plain objects with string keys; MsgPack also
 * carries `Uint8Array` (bin) and `Map` (maps with other keys). Every other
 * object needs a serializer ({@linkcode Codec.addSerializer}).
 */
export interface Codec {
  /** The codec's name: `"json"`, `"msgpack"` or `"msgpackblosc"`. */
  readonly name: string;
  /**
   * Encodes a value.
   *
   * @param value The value.
   * @returns The bytes, or a promise of them for codecs that compress.
   * @throws {SerializationError} If the value cannot be encoded.
   */
  encode(value: unknown): Uint8Array | Promise<Uint8Array>;
  /**
   * Optional, for synchronous codecs: encodes a value into a buffer the
   * codec reuses. The bytes are only valid until the codec's next call; a
   * channel copies them into its write batch at once, which saves an
   * allocation per message.
   *
   * @param value The value.
   * @returns A view of the bytes, valid until the next call.
   * @throws {SerializationError} If the value cannot be encoded.
   */
  encodeView?(value: unknown): Uint8Array;
  /**
   * Decodes bytes. Codecs that decompress return a promise of the value.
   * Unless `options.owned` says otherwise, `data` may be a view of a
   * buffer that is reused after the call (a channel's read buffer): the
   * value keeps copies of what it needs, never views of `data`.
   *
   * @param data The bytes.
   * @param options Whether the caller hands `data` over; see
   *   {@linkcode DecodeOptions}. A codec may ignore it (and copy).
   * @returns The value (or a promise of it).
   * @throws {SerializationError} If the bytes do not decode.
   * @throws {RangeError} If the value would build more than
   *   {@linkcode CodecOptions.maxDecodedSize} (checked before building it).
   */
  decode(data: Uint8Array, options?: DecodeOptions): unknown;
  /**
   * Optional: an upper bound, in `maxDecodedSize` cost units (about bytes
   * of heap), of what the latest call of `decode` builds, set before
   * `decode` returns (before its promise, for codecs that return one). The
   * codecs here count what a message that might build more than
   * `maxDecodedSize` (and a JSON text of 16 KiB or more) builds before they
   * decode it, and report that count; for another they report its length
   * times their worst expansion (128 per byte for MsgPack, of the
   * decompressed bytes for Blosc; 32 for JSON). A channel charges
   * each unanswered request this much (see `ChannelOptions.maxUnansweredSize`);
   * for a codec without it, its payload bytes times 32.
   */
  readonly lastDecodedCost?: number;
  /**
   * Registers a serializer for a class; see `SerializerRegistry.add`.
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
  ): number;
}

/**
 * What the caller of {@linkcode Codec.decode} promises about the bytes.
 *
 * Ownership: without `owned`, the codec owns nothing of `data` after the
 * call (byte strings in the value are copies). With `owned: true` the
 * caller hands `data` over: it neither changes nor reuses those bytes
 * afterwards, and the decoded value may keep views of them, which then
 * belong to whoever receives the value (a handler may keep or change them).
 * A view keeps the whole buffer of `data` alive and its `buffer` property
 * shows all of it: use `byteOffset` and `byteLength` (or `slice()` it to
 * keep a small part of a large frame).
 */
export interface DecodeOptions {
  /**
   * Whether `data` is handed over (see {@linkcode DecodeOptions}). The
   * MsgPack codecs then decode a byte string (`bin`) of at least a quarter
   * of `data` as a view of it instead of a copy, so that a kept value pins
   * at most four times its size. (`MsgPackBloscCodec` does so whenever its
   * output is freshly decompressed, whatever `owned` says.)
   *
   * @default {false}
   */
  owned?: boolean;
}

/** Options that every codec in this module takes. */
export interface CodecOptions {
  /**
   * The deepest nesting of arrays and maps that is encoded or decoded;
   * deeper values (and cycles) fail with a `SerializationError`.
   *
   * @default {128}
   */
  maxDepth?: number;
  /**
   * The most one decoded message may build, in cost units of about a byte
   * of JavaScript heap each (the cost model is in the codec docs and
   * `docs/limits-codecs.md`): every value costs 8, a number V8 boxes (a
   * float, an integer beyond 31 bits) 24, a bigint 32 and more, an array
   * 56, an object 64 and a `Map` 192 and more in all, a string 24 and a
   * `Uint8Array` 256 plus their length in bytes. The cost is counted before the values are
   * built, so a frame that would build more is refused with a
   * `RangeError` that says how much it builds, without building it.
   * Frames too short to reach the budget even at the worst expansion per
   * byte are not counted at all. `Infinity` turns the limit off.
   *
   * The default is the default `maxFrameSize` (16 MiB) plus 1 Mi units:
   * a frame that is one string or byte string up to that size decodes, a
   * frame of many small objects is cut at about 270 000 of them. Raise
   * both together.
   *
   * @default {17825792}
   */
  maxDecodedSize?: number;
}

/** A codec class, as the connection functions take it: each connection makes its own. */
export type CodecClass = new (options?: CodecOptions) => Codec;

/** The default of {@linkcode CodecOptions.maxDepth}. */
export const DEFAULT_MAX_DEPTH = 128;

/**
 * The default of {@linkcode CodecOptions.maxDecodedSize}: 17 Mi cost units,
 * 16 MiB (the default `maxFrameSize`) and 1 Mi for the message around it.
 */
export const DEFAULT_MAX_DECODED_SIZE: number = 17 * 1024 * 1024;
