import { decompressBlosc } from "./_blosc.ts";
import type { Codec, CodecOptions } from "./codec.ts";
import { MsgPackCodec } from "./msgpack_codec.ts";
import type { Constructor, FromWire, ToWire } from "./serializer_registry.ts";

interface Compressor {
  encode(data: Uint8Array): Promise<Uint8Array>;
}

let compressor: Promise<Compressor> | undefined;

// numcodecs' Blosc is WebAssembly: load it when the codec first encodes.
// (Its decompression does not report errors, so frames are read by
// decompressBlosc.)
function loadCompressor(): Promise<Compressor> {
  compressor ??= import("numcodecs/blosc").then(({ default: Blosc }) =>
    Blosc.fromConfig({
      id: "blosc",
      clevel: 9,
      cname: "blosclz",
      shuffle: 1,
      blocksize: 0,
    })
  ) as Promise<Compressor>;
  return compressor;
}

/** Options of {@linkcode MsgPackBloscCodec}. */
export interface MsgPackBloscCodecOptions extends CodecOptions {
  /**
   * The largest uncompressed size accepted in a blosc header, checked before
   * decompressing (a guard against decompression bombs).
   *
   * @default {67108864} (64 MiB)
   */
  maxDecompressedSize?: number;
}

/**
 * MsgPack inside a c-blosc 1.x frame (blosclz, level 9, byte shuffle), as
 * aiomas's `MsgPackBlosc` codec sends it. Frames are compressed by real
 * c-blosc (numcodecs, WebAssembly, loaded when first used) and read by a
 * strict blosc 1.x reader that checks every size and offset; `encode` and
 * `decode` return promises. numcodecs compresses with typesize 4 where
 * aiomas uses 8; the header says which, and aiomas reads both.
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
  #msgpack: MsgPackCodec;
  #maxDecompressedSize: number;

  /**
   * Creates the codec.
   *
   * @param options Limits; see {@linkcode MsgPackBloscCodecOptions}.
   */
  constructor(options: MsgPackBloscCodecOptions = {}) {
    this.#msgpack = new MsgPackCodec(options);
    this.#maxDecompressedSize = options.maxDecompressedSize ?? 64 * 1024 * 1024;
  }

  /**
   * Encodes a value as MsgPack and compresses it.
   *
   * @param value The value.
   * @returns A promise of the blosc frame.
   * @throws {SerializationError} As {@linkcode MsgPackCodec.encode} does.
   */
  async encode(value: unknown): Promise<Uint8Array> {
    const packed = this.#msgpack.encode(value);
    return await (await loadCompressor()).encode(packed);
  }

  /**
   * Decompresses a blosc frame and decodes the MsgPack inside.
   *
   * @param data The blosc frame.
   * @returns A promise of the value.
   * @throws {SerializationError} If the frame is not a valid blosc frame,
   *   claims more than `maxDecompressedSize` bytes, or does not decode.
   */
  decode(data: Uint8Array): Promise<unknown> {
    // The work is synchronous; a throw in the executor rejects the promise.
    return new Promise((resolve) =>
      resolve(
        this.#msgpack.decode(decompressBlosc(data, this.#maxDecompressedSize)),
      )
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
    return this.#msgpack.addSerializer(type, toWire, fromWire);
  }
}
