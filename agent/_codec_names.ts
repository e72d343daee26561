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
 * The name of the codec of a container that `parent` starts and links to:
 * `codec` if given, which must then be the parent's class (one codec on
 * both ends of the link), else the parent's.
 *
 * @throws {TypeError} If `codec` is not the parent's, or the class is not
 *   built in.
 */
export function childCodecName(
  parent: CodecClass,
  codec: CodecClass | undefined,
): string {
  if (codec !== undefined && codec !== parent) {
    throw new TypeError(
      `Cannot start the container: its codec ${nameOf(codec)} differs from ${
        nameOf(parent)
      } of the container that starts it; both ends of their link must use one codec (leave \`codec\` out to use the container's)`,
    );
  }
  return codecName(parent);
}

/** The name of a built-in codec class. */
function codecName(codec: CodecClass): string {
  const name = Object.keys(CODECS).find((key) => CODECS[key] === codec);
  if (name === undefined) {
    throw new TypeError(
      `Cannot start the container: its codec ${
        nameOf(codec)
      } is not built in; only ${
        Object.values(CODECS).map((c) => c.name).join(", ")
      } can be named to another process or Worker`,
    );
  }
  return name;
}

/** A codec class's name for error messages. */
function nameOf(codec: CodecClass): string {
  return codec.name || "(an anonymous class)";
}
