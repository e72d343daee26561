import type { CodecClass } from "../codecs/codec.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import { MsgPackBloscCodec } from "../codecs/msgpack_blosc_codec.ts";
import { MsgPackCodec } from "../codecs/msgpack_codec.ts";

/** The built-in codecs by the names the command line and workers use. */
export const CODECS: Readonly<Record<string, CodecClass>> = {
  json: JsonCodec,
  msgpack: MsgPackCodec,
  msgpackblosc: MsgPackBloscCodec,
};

/**
 * The name of a built-in codec class.
 *
 * @throws {TypeError} For any other class: it cannot be named to another process or Worker.
 */
export function codecName(codec: CodecClass | undefined): string {
  const name = Object.keys(CODECS).find((key) =>
    CODECS[key] === (codec ?? JsonCodec)
  );
  if (name === undefined) {
    throw new TypeError(
      "Cannot start the container: only the built-in codecs can be named to another process or Worker",
    );
  }
  return name;
}
