import { MsgPackReader } from "./_msgpack_reader.ts";
import { MsgPackWriter } from "./_msgpack_writer.ts";
import type { Codec, CodecOptions } from "./codec.ts";
import { DEFAULT_MAX_DEPTH } from "./codec.ts";
import type { Constructor, FromWire, ToWire } from "./serializer_registry.ts";
import { SerializerRegistry } from "./serializer_registry.ts";

/**
 * MsgPack as Python aiomas packs it (`use_bin_type=True`): strings as str,
 * `Uint8Array` as bin, non-integral numbers as float64, integers in the
 * smallest format (`bigint` up to 64 bits), `Map` for maps whose keys are
 * not all strings. Only standard MsgPack goes on the wire (no extension
 * types); extension types and strings that are not UTF-8 received are an
 * error.
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
 */
export class MsgPackCodec implements Codec {
  /** Always `"msgpack"`. */
  readonly name: string = "msgpack";
  #registry = new SerializerRegistry();
  #maxDepth: number;
  #writer: MsgPackWriter;
  #writing = false;
  #reader: MsgPackReader;
  #reading = false;

  /**
   * Creates a MsgPack codec.
   *
   * @param options Limits; see {@linkcode CodecOptions}.
   */
  constructor(options: CodecOptions = {}) {
    this.#maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.#writer = new MsgPackWriter(this.#registry, this.#maxDepth);
    this.#reader = new MsgPackReader(this.#registry, this.#maxDepth);
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
    // A serializer may encode with this codec again: give it its own writer.
    if (this.#writing) {
      return new MsgPackWriter(this.#registry, this.#maxDepth).encode(value);
    }
    this.#writing = true;
    try {
      return this.#writer.encode(value);
    } finally {
      this.#writing = false;
    }
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
    // A serializer may encode with this codec again: give it its own writer.
    if (this.#writing) {
      return new MsgPackWriter(this.#registry, this.#maxDepth).encode(value);
    }
    this.#writing = true;
    try {
      return this.#writer.encodeView(value);
    } finally {
      this.#writing = false;
    }
  }

  /**
   * Decodes MsgPack.
   *
   * @param data The bytes.
   * @returns The value.
   * @throws {SerializationError} If the bytes are not one complete MsgPack
   *   value of standard types, hold a string that is not UTF-8, nest too
   *   deep, or name an unknown `__type__`.
   */
  decode(data: Uint8Array): unknown {
    // A serializer may decode with this codec again: give it its own reader.
    if (this.#reading) {
      return new MsgPackReader(this.#registry, this.#maxDepth).read(data);
    }
    this.#reading = true;
    try {
      return this.#reader.read(data);
    } finally {
      this.#reading = false;
    }
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
    return this.#registry.add(type, toWire, fromWire);
  }
}
