import type { Codec, CodecClass } from "../codecs/codec.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import type { SerializerSpec } from "../codecs/serializer_registry.ts";

/** The codec of one session: a new `codecClass` with `serializers` registered in order. */
export function sessionCodec(
  codecClass: CodecClass = JsonCodec,
  serializers: readonly SerializerSpec[] = [],
): Codec {
  const codec = new codecClass();
  for (const [type, toWire, fromWire] of serializers) {
    codec.addSerializer(type, toWire, fromWire);
  }
  return codec;
}
