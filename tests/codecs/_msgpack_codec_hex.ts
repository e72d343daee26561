// Shared by the msgpack_codec_*_test.ts files: MsgPackCodec encode and decode
// with the bytes as hex.
import { MsgPackCodec } from "../../codecs/mod.ts";
import { hex, unhex } from "./_vectors.ts";

export const encode = (value: unknown, codec = new MsgPackCodec()): string =>
  hex(codec.encode(value) as Uint8Array);
export const decode = (bytes: string, codec = new MsgPackCodec()): unknown =>
  codec.decode(unhex(bytes));
