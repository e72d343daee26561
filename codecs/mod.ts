/**
 * Codecs: turn `[type, id, content]` messages into bytes and back, wire
 * compatible with Python aiomas 2.0.1. {@linkcode JsonCodec} is the default;
 * {@linkcode MsgPackCodec} and {@linkcode MsgPackBloscCodec} are faster and
 * smaller. Extra types travel through serializers
 * ({@linkcode SerializerRegistry}, {@linkcode serializable}).
 *
 * @example
 * ```ts
 * import { MsgPackCodec, serializable } from "@aiomas/aiomas/codecs";
 * import assert from "node:assert/strict";
 *
 * class Point { constructor(public x: number, public y: number) {} }
 * const codec = new MsgPackCodec();
 * codec.addSerializer(...serializable(Point, ["x", "y"]));
 * const bytes = codec.encode([1, 0, new Point(1, 2)]);
 * assert.deepEqual(codec.decode(bytes), [1, 0, new Point(1, 2)]);
 * ```
 *
 * @module
 */
export type {
  Codec,
  CodecClass,
  CodecOptions,
  DecodeOptions,
} from "./codec.ts";
export { DEFAULT_MAX_DECODED_SIZE, DEFAULT_MAX_DEPTH } from "./codec.ts";
export { Float64 } from "./float64.ts";
export { JsonCodec, type JsonCodecOptions } from "./json_codec.ts";
export { MsgPackCodec } from "./msgpack_codec.ts";
export { MsgPackBloscCodec } from "./msgpack_blosc_codec.ts";
export type { MsgPackBloscCodecOptions } from "./msgpack_blosc_codec.ts";
export { serializable, SerializerRegistry } from "./serializer_registry.ts";
export type {
  Constructor,
  FromWire,
  SerializerSpec,
  ToWire,
} from "./serializer_registry.ts";
