import type { Codec, CodecClass } from "../codecs/codec.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";

/**
 * Makes the codec of one connection: a new instance of `codecClass` with
 * `serializers` registered in order.
 *
 * @throws {TypeError} If a class appears twice in `serializers`.
 */
export function createCodec(
  codecClass: CodecClass = JsonCodec,
  serializers: readonly SerializerSpec[] = [],
): Codec {
  const codec = new codecClass();
  for (const [type, toWire, fromWire] of serializers) {
    codec.addSerializer(type, toWire, fromWire);
  }
  return codec;
}
