import { Unpackr } from "msgpackr/unpack";
import { SerializationError } from "../errors.ts";
import { MsgPackWriter } from "./_msgpack_writer.ts";
import type { Codec, CodecOptions } from "./codec.ts";
import { DEFAULT_MAX_DEPTH } from "./codec.ts";
import type { Constructor, FromWire, ToWire } from "./serializer_registry.ts";
import { SerializerRegistry } from "./serializer_registry.ts";

// Maps come out as Map so that integer keys survive; string-keyed ones are
// turned into plain objects afterwards. 64-bit integers beyond 2^53 are bigint.
// ("auto": numbers up to 2^53, bigint beyond; msgpackr's typings lack it.)
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: false,
  int64AsType: "auto",
  copyBuffers: true,
} as unknown as ConstructorParameters<typeof Unpackr>[0]);

/**
 * MsgPack as Python aiomas packs it (`use_bin_type=True`): strings as str,
 * `Uint8Array` as bin, non-integral numbers as float64, integers in the
 * smallest format (`bigint` up to 64 bits), `Map` for maps whose keys are
 * not all strings. Only standard MsgPack goes on the wire (no extension
 * types); extension types received are an error.
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

  /**
   * Creates a MsgPack codec.
   *
   * @param options Limits; see {@linkcode CodecOptions}.
   */
  constructor(options: CodecOptions = {}) {
    this.#maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.#writer = new MsgPackWriter(this.#registry, this.#maxDepth);
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
    if (this.#writing) return new MsgPackWriter(this.#registry, this.#maxDepth).encode(value);
    this.#writing = true;
    try {
      return this.#writer.encode(value);
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
   *   value of standard types, nest too deep, or name an unknown `__type__`.
   */
  decode(data: Uint8Array): unknown {
    let value: unknown;
    try {
      value = unpackr.unpack(data);
    } catch (error) {
      throw new SerializationError(
        `Cannot decode MsgPack: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return normalize(value, this.#registry, this.#maxDepth, 0);
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
  addSerializer<T>(type: Constructor<T>, toWire: ToWire<T>, fromWire: FromWire<T>): number {
    return this.#registry.add(type, toWire, fromWire);
  }
}

/**
 * Turns string-keyed Maps into plain objects, resolves `__type__` maps
 * bottom-up, enforces the depth limit and rejects what is not standard
 * MsgPack (msgpackr decodes its extension types into Sets, Dates, …).
 */
function normalize(
  value: unknown,
  registry: SerializerRegistry,
  maxDepth: number,
  depth: number,
): unknown {
  if (typeof value !== "object" || value === null) {
    if (value === undefined) throw notStandard("an extension type");
    return value;
  }
  if (depth >= maxDepth) {
    throw new SerializationError(`Cannot decode value: nesting deeper than maxDepth ${maxDepth}`);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item !== "number" && typeof item !== "string") {
        value[i] = normalize(item, registry, maxDepth, depth + 1);
      }
    }
    return value;
  }
  if (value instanceof Map) {
    let stringKeys = true;
    for (const key of value.keys()) {
      if (typeof key !== "string") {
        stringKeys = false;
        break;
      }
    }
    if (!stringKeys) {
      const map = new Map();
      for (const [key, item] of value) {
        map.set(
          normalize(key, registry, maxDepth, depth + 1),
          normalize(item, registry, maxDepth, depth + 1),
        );
      }
      return map;
    }
    const record: Record<string, unknown> = {};
    for (const [key, item] of value) {
      const normal = normalize(item, registry, maxDepth, depth + 1);
      // A "__proto__" key must stay data.
      if (key === "__proto__") {
        Object.defineProperty(record, key, {
          value: normal,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        record[key] = normal;
      }
    }
    return value.has("__type__") ? registry.fromWire(record.__type__) : record;
  }
  if (value.constructor === Uint8Array) return value;
  throw notStandard(`a ${value.constructor?.name ?? "value"}`);
}

function notStandard(what: string): SerializationError {
  return new SerializationError(
    `Cannot decode MsgPack: ${what} is not a standard MsgPack type`,
  );
}
