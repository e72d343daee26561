import {
  type Codec,
  type CodecClass,
  type CodecOptions,
  DEFAULT_MAX_DECODED_SIZE,
} from "../codecs/codec.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "./_frame_parser.ts";

/**
 * Makes the codec of one connection: a new instance of `codecClass` with
 * `serializers` registered in order, and the options
 * {@linkcode codecOptionsFor} `maxFrameSize`.
 *
 * @throws {TypeError} If a class appears twice in `serializers`.
 */
export function createCodec(
  codecClass: CodecClass = JsonCodec,
  serializers: readonly SerializerSpec[] = [],
  maxFrameSize?: number,
): Codec {
  const codec = new codecClass(codecOptionsFor(maxFrameSize));
  for (const [type, toWire, fromWire] of serializers) {
    codec.addSerializer(type, toWire, fromWire);
  }
  return codec;
}

/**
 * The options of a codec made for a channel whose frames may be
 * `maxFrameSize` bytes: above the default, a decoded-size budget that
 * grows with it as the default does (frame plus 1 Mi units), or a larger
 * frame could never be decoded.
 */
export function codecOptionsFor(
  maxFrameSize: number | undefined,
): CodecOptions | undefined {
  return maxFrameSize !== undefined && maxFrameSize > DEFAULT_MAX_FRAME_SIZE
    ? {
      maxDecodedSize: maxFrameSize + DEFAULT_MAX_DECODED_SIZE -
        DEFAULT_MAX_FRAME_SIZE,
    }
    : undefined;
}
