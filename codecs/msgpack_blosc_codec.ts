import { bloscSize, decompressBlosc } from "./_blosc.ts";
import { loadCompressor } from "./_blosc_compressor.ts";
import { MSGPACK_EXPANSION } from "./_budget.ts";
import { boundedEncoders, EncodeLimitError } from "./_encode_limit.ts";
import { MsgPackCore } from "./_msgpack_core.ts";
import { MsgPackCostScanner } from "./_msgpack_cost.ts";
import type { Codec, CodecOptions, DecodeOptions } from "./codec.ts";
import type { Constructor, FromWire, ToWire } from "./serializer_registry.ts";

/** Options of {@linkcode MsgPackBloscCodec}. */
export interface MsgPackBloscCodecOptions extends CodecOptions {
  /**
   * The largest uncompressed size accepted in a blosc header, checked before
   * decompressing. The decompressed bytes are held while they are decoded;
   * what they decode into is charged to `maxDecodedSize`.
   *
   * @default {16777216} (16 MiB)
   */
  maxDecompressedSize?: number;
}

/**
 * MsgPack inside a c-blosc 1.x frame (blosclz, level 9, byte shuffle), as
 * aiomas's `MsgPackBlosc` codec sends it. Frames are compressed by real
 * c-blosc (numcodecs, WebAssembly, imported from
 * `npm:numcodecs@^0.3.2/blosc` when the codec first encodes, so a program
 * that never encodes with it never downloads it) and read by a strict
 * blosc 1.x reader that checks every size and offset; `encode` and
 * `decode` return promises. numcodecs compresses with typesize 4 where
 * aiomas uses 8; the header says which, and aiomas reads both.
 *
 * Decoding is budgeted as {@linkcode MsgPackCodec}'s is, before anything is
 * built: a frame whose header claims more than `maxDecompressedSize` is
 * refused before decompressing, and one whose claimed size could build
 * more than `maxDecodedSize` (more than `maxDecodedSize / 128` bytes) is
 * counted block by block as it decompresses, so that a small frame that
 * expands into many small values is refused after the blocks that reach
 * the budget, not after all of them.
 *
 * @example
 * ```ts
 * import { MsgPackBloscCodec } from "@aiomas/aiomas/codecs";
 * import assert from "node:assert/strict";
 *
 * const codec = new MsgPackBloscCodec();
 * const bytes = await codec.encode([1, 0, "x".repeat(1000)]);
 * assert.ok(bytes.length < 100);
 * assert.deepEqual(await codec.decode(bytes), [1, 0, "x".repeat(1000)]);
 * ```
 */
export class MsgPackBloscCodec implements Codec {
  /** Always `"msgpackblosc"`. */
  readonly name: string = "msgpackblosc";
  #core: MsgPackCore;
  #maxDecompressedSize: number;

  /**
   * Creates the codec.
   *
   * @param options Limits; see {@linkcode MsgPackBloscCodecOptions}.
   * @throws {RangeError} If `maxDecodedSize` is not a positive number.
   */
  constructor(options: MsgPackBloscCodecOptions = {}) {
    this.#core = new MsgPackCore(options);
    this.#maxDecompressedSize = options.maxDecompressedSize ?? 16 * 1024 * 1024;
    // A channel's encodes stop at maxDecompressedSize before compressing:
    // a peer with the same limit would refuse such a frame (closing the
    // connection), and compressing it first would cost the whole encoding
    // and grow numcodecs' WebAssembly memory, which never shrinks.
    if (this.encode === MsgPackBloscCodec.prototype.encode) {
      boundedEncoders.set(
        this,
        (value) => this.#encode(value, this.#maxDecompressedSize),
      );
    }
  }
  /**
   * An upper bound, in cost units, of what the latest `decode` built: the
   * counted cost, or the bytes decoded times 128 (see
   * {@linkcode Codec.lastDecodedCost}).
   *
   * @returns Cost units (0 before the first decode).
   *
   * @example
   * ```ts
   * import { MsgPackBloscCodec } from "@aiomas/aiomas/codecs";
   * import assert from "node:assert/strict";
   *
   * const codec = new MsgPackBloscCodec();
   * await codec.decode(await codec.encode([1, 2, 3]));
   * assert.ok(codec.lastDecodedCost > 0);
   * ```
   */
  get lastDecodedCost(): number {
    return this.#core.lastCost;
  }

  /**
   * Encodes a value as MsgPack and compresses it.
   *
   * @param value The value.
   * @returns A promise of the blosc frame.
   * @throws {SerializationError} As {@linkcode MsgPackCodec.encode} does.
   * @throws {Error} "MsgPackBlosc codec unavailable: cannot load numcodecs
   *   …" if numcodecs cannot be imported.
   */
  encode(value: unknown): Promise<Uint8Array> {
    return this.#encode(value, Infinity);
  }

  async #encode(value: unknown, limit: number): Promise<Uint8Array> {
    const packed = this.#core.encode(value, limit);
    // The writer stops only where its buffer must grow: an encoding that
    // fit a buffer it already had may be longer than the bound.
    if (packed.length > limit) throw new EncodeLimitError(limit);
    return await (await loadCompressor()).encode(packed);
  }

  /**
   * Decompresses a blosc frame and decodes the MsgPack inside. Byte strings
   * of at least a quarter of the decompressed bytes are views of them (a
   * buffer of their own, fresh for each frame); others are copies. A frame
   * stored without compression is read in place: its byte strings are
   * views of `data` only if `options.owned` hands it over (see
   * {@linkcode DecodeOptions}), copies otherwise. `data` is read before
   * this returns.
   *
   * @param data The blosc frame.
   * @param options Whether `data` is handed over; see {@linkcode DecodeOptions}.
   * @returns A promise of the value.
   * @throws {SerializationError} If the frame is not a valid blosc frame,
   *   claims more than `maxDecompressedSize` bytes, or does not decode.
   * @throws {RangeError} If the MsgPack inside would build more than
   *   `maxDecodedSize`.
   */
  decode(data: Uint8Array, options?: DecodeOptions): Promise<unknown> {
    const owned = options?.owned === true;
    // The work is synchronous (`data` is read before this returns); a throw
    // in the executor rejects the promise.
    return new Promise((resolve) => resolve(this.#decode(data, owned)));
  }

  #decode(data: Uint8Array, owned: boolean): unknown {
    // Less, in a serializer's decode: what its message left.
    const budget = this.#core.left;
    const nbytes = bloscSize(data);
    if (nbytes * MSGPACK_EXPANSION <= budget) {
      const out = decompressBlosc(data, this.#maxDecompressedSize);
      return this.#core.decode(out, owned || out.buffer !== data.buffer);
    }
    // (A claim beyond maxDecompressedSize is refused as such below.)
    if (nbytes > budget && nbytes <= this.#maxDecompressedSize) {
      throw new RangeError(
        `Cannot decode MsgPackBlosc: the frame decompresses to ${nbytes} bytes, more than maxDecodedSize (${budget} units)`,
      );
    }
    // Could build more than the budget: count each block as it comes.
    let scanner: MsgPackCostScanner | undefined;
    const out = decompressBlosc(
      data,
      this.#maxDecompressedSize,
      (out, end) => (scanner ??= new MsgPackCostScanner(out, budget)).scan(end),
    );
    return this.#core.decode(
      out,
      owned || out.buffer !== data.buffer,
      scanner?.cost,
    );
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
