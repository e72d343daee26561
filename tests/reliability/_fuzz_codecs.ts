// The codecs the wire fuzzer covers, the server's limits, the oracle's codec,
// and byte helpers: blosc frames, length-prefixed frames, hex.

import {
  type Codec,
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../mod.ts";

// ---------------------------------------------------------------------------
// Codecs

/** The codecs the fuzzer covers. */
export type CodecName = "json" | "msgpack" | "msgpackblosc";

export const CODEC_NAMES: readonly CodecName[] = [
  "json",
  "msgpack",
  "msgpackblosc",
];

export const CODEC_CLASSES: Record<CodecName, CodecClass> = {
  json: JsonCodec,
  msgpack: MsgPackCodec,
  msgpackblosc: MsgPackBloscCodec,
};

/** The server's limits (defaults of the library). */
export const MAX_FRAME_SIZE = 16 * 1024 * 1024;
export const MAX_DEPTH = 128;

/** What a service reference received from the peer decodes to in the oracle. */
export class RefMarker {
  constructor(readonly path: string) {}
}

/**
 * A codec like the server's: the same class, with the RPC layer's service
 * reference serializer (typeid 0) registered, so that it decodes exactly
 * what the server decodes.
 */
export function oracleCodec(name: CodecName): Codec {
  const codec = new CODEC_CLASSES[name]();
  codec.addSerializer(
    Object,
    () => {
      throw new TypeError("the oracle never encodes references");
    },
    (path: unknown) => {
      if (typeof path !== "string") {
        throw new TypeError("a service reference path must be a string");
      }
      return new RefMarker(path);
    },
  );
  return codec;
}

let compressor:
  | Promise<{ encode(data: Uint8Array): Promise<Uint8Array> }>
  | undefined;

/** Real c-blosc (numcodecs, as the codec uses it) around arbitrary bytes. */
export async function bloscCompress(data: Uint8Array): Promise<Uint8Array> {
  compressor ??= import("npm:numcodecs@^0.3.2/blosc").then((
    { default: Blosc },
  ) =>
    Blosc.fromConfig({
      id: "blosc",
      clevel: 9,
      cname: "blosclz",
      shuffle: 1,
      blocksize: 0,
    })
  ) as Promise<{ encode(data: Uint8Array): Promise<Uint8Array> }>;
  return await (await compressor).encode(data);
}

/** A stored (memcpy) blosc 1.x frame around `data`, built by hand. */
export function bloscStored(
  data: Uint8Array,
  flags = 0x13,
  typesize = 8,
): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  out[0] = 2;
  out[1] = 1;
  out[2] = flags;
  out[3] = typesize;
  view.setUint32(4, data.length, true);
  view.setUint32(8, data.length, true);
  view.setUint32(12, out.length, true);
  out.set(data, 16);
  return out;
}

// ---------------------------------------------------------------------------
// Bytes helpers

export const utf8 = new TextEncoder();

/** A frame: 4-byte big-endian length, then the payload. */
export function frame(
  payload: Uint8Array,
  length = payload.length,
): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, length >>> 0);
  out.set(payload, 4);
  return out;
}

export function hex(bytes: Uint8Array, max = 96): string {
  const shown = Array.from(
    bytes.subarray(0, max),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  return bytes.length > max ? `${shown}… (${bytes.length} bytes)` : shown;
}
