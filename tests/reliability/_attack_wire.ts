// Bytes for `deno task attack`: frames built by hand (4-byte big-endian
// length, then the payload), the expanding payloads, and a frame reader
// over a raw socket. Independent of the channel code under attack; the
// codecs are only used to encode small, well-formed requests.
import Blosc from "npm:numcodecs@^0.3.2/blosc";
import {
  type Codec,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";

/** The codecs a server under attack can be started with. */
export type CodecName = "json" | "msgpack" | "msgpackblosc";

/** A fresh codec of that name, for well-formed requests and replies. */
export function codecOf(name: CodecName): Codec {
  return name === "json"
    ? new JsonCodec()
    : name === "msgpack"
    ? new MsgPackCodec()
    : new MsgPackBloscCodec();
}

/** A frame: 4-byte big-endian length, then `payload`. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** Only a frame header that claims `size` bytes. */
export function header(size: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, size);
  return out;
}

/** The encoded request `[0, id, [method, args, {}]]`, framed. */
export async function requestFrame(
  codec: Codec,
  id: number,
  method: string,
  args: unknown[],
): Promise<Uint8Array> {
  return frame(await codec.encode([0, id, [method, args, {}]]));
}

/**
 * A JSON call of a path that does not exist, `start` then `unit` repeated
 * to about `size` bytes of frame: what the server quotes in its error.
 */
export async function jsonPathFrame(
  start: string,
  unit: string,
  size: number,
): Promise<Uint8Array> {
  const codec = new JsonCodec();
  const empty = await requestFrame(codec, 0, start, []);
  const count = Math.floor((size - empty.length) / JSON.stringify(unit).length);
  return await requestFrame(codec, 0, start + unit.repeat(count), []);
}

/**
 * A JSON text of about `size` bytes (not JSON: a key followed by `}:`
 * pairs) that the count took quadratic time over, looking at the key again
 * at each colon (a session's code of 2026-12-07, found by its review).
 */
export function jsonColonsFrame(size: number): Uint8Array {
  const key = "a".repeat(size / 2);
  const text = `[0,0,["echo",[{"${key}"${"}:".repeat(size / 4)}]]`;
  return frame(new TextEncoder().encode(text));
}

/**
 * A JSON request `[0, 0, ["echo", ["xx…"], {}]]` framed in exactly `size`
 * bytes (header included).
 */
export async function jsonEchoFrame(size: number): Promise<Uint8Array> {
  const codec = new JsonCodec();
  const empty = await requestFrame(codec, 0, "echo", [""]);
  const out = await requestFrame(codec, 0, "echo", [
    "x".repeat(size - empty.length),
  ]);
  if (out.length !== size) throw new Error(`${out.length} bytes, not ${size}`);
  return out;
}

/**
 * A MsgPack request `[0, 0, ["echo", [[{}, {}, …]], {}]]` of exactly
 * `size` bytes: an array32 of empty maps (`0x80`, one byte each, one object
 * each when decoded).
 */
export function msgpackMapsPayload(size: number): Uint8Array {
  const head = [0x93, 0x00, 0x00, 0x93, 0xa4, 0x65, 0x63, 0x68, 0x6f, 0x91];
  // head, array32 marker and count, the maps, and kwargs {} at the end.
  const count = size - head.length - 5 - 1;
  const out = new Uint8Array(size).fill(0x80);
  out.set(head);
  out[head.length] = 0xdd;
  new DataView(out.buffer).setUint32(head.length + 1, count);
  return out;
}

/**
 * A JSON request `[0,0,["echo",[[{},{},…]],{}]]` of about `size` bytes
 * (three bytes per empty object).
 */
export function jsonObjectsPayload(size: number): Uint8Array {
  const head = new TextEncoder().encode('[0,0,["echo",[[');
  const tail = new TextEncoder().encode("]],{}]]");
  const count = Math.floor((size - head.length - tail.length + 1) / 3);
  const out = new Uint8Array(head.length + 3 * count - 1 + tail.length);
  out.set(head);
  let at = head.length;
  for (let i = 0; i < count; i++) {
    if (i > 0) out[at++] = 0x2c; // ","
    out[at++] = 0x7b; // "{"
    out[at++] = 0x7d; // "}"
  }
  out.set(tail, at);
  return out;
}

/**
 * A MsgPack+Blosc payload that decompresses into
 * {@linkcode msgpackMapsPayload}`(size)`, compressed as aiomas does
 * (blosclz, level 9, byte shuffle): 64 MiB become about 270 KB.
 */
export async function bloscMapsPayload(size: number): Promise<Uint8Array> {
  const compressor = Blosc.fromConfig({
    id: "blosc",
    clevel: 9,
    cname: "blosclz",
    shuffle: 1,
    blocksize: 0,
  });
  return new Uint8Array(await compressor.encode(msgpackMapsPayload(size)));
}

/** Writes all of `bytes`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/**
 * Reads frames from a socket. Payloads up to `keepLimit` bytes are kept;
 * larger ones are only counted, so a huge reply costs the attacker nothing.
 */
export class FrameReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #keepLimit: number;

  constructor(conn: Deno.Conn, keepLimit = 64 * 1024) {
    this.#conn = conn;
    this.#keepLimit = keepLimit;
  }

  /** At least `n` (≤ buffer size) bytes buffered, or false at end of stream. */
  async #fill(n: number): Promise<boolean> {
    while (this.#end - this.#start < n) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const got = await this.#conn.read(this.#buf.subarray(this.#end));
      if (got === null) return false;
      this.#end += got;
    }
    return true;
  }

  /**
   * The next frame: its size and, if small enough, its payload; `null` at
   * the end of the stream. Rejects when the socket fails.
   */
  async read(): Promise<{ size: number; payload?: Uint8Array } | null> {
    if (!await this.#fill(4)) return null;
    const size = new DataView(this.#buf.buffer).getUint32(this.#start);
    this.#start += 4;
    if (size <= this.#keepLimit) {
      const payload = new Uint8Array(size);
      let at = 0;
      while (at < size) {
        if (this.#start === this.#end && !await this.#fill(1)) return null;
        const n = Math.min(size - at, this.#end - this.#start);
        payload.set(this.#buf.subarray(this.#start, this.#start + n), at);
        this.#start += n;
        at += n;
      }
      return { size, payload };
    }
    let left = size;
    while (left > 0) {
      if (this.#start === this.#end && !await this.#fill(1)) return null;
      const n = Math.min(left, this.#end - this.#start);
      this.#start += n;
      left -= n;
    }
    return { size };
  }
}

/**
 * Checks, at a small size, that the expanding payloads are the requests
 * they claim to be: each decodes (with the library's codecs) into
 * `[0, 0, ["echo", [[{}, {}, …]], {}]]` of the expected length and size.
 */
export async function checkPayloads(): Promise<void> {
  const check = (value: unknown, count: number, what: string) => {
    const request = value as [number, number, [string, [object[]], object]];
    const maps = request?.[2]?.[1]?.[0];
    const ok = request[0] === 0 && request[1] === 0 &&
      request[2][0] === "echo" && Array.isArray(maps) &&
      maps.length === count &&
      maps.every((m) => Object.keys(m).length === 0) &&
      Object.keys(request[2][2]).length === 0;
    if (!ok) {
      throw new Error(`the ${what} payload is not the request it claims`);
    }
  };
  const size = 4096;
  const msgpack = msgpackMapsPayload(size);
  if (msgpack.length !== size) throw new Error("msgpack payload size");
  check(await new MsgPackCodec().decode(msgpack), size - 16, "MsgPack");
  const json = jsonObjectsPayload(size);
  if (json.length > size || json.length < size - 3) {
    throw new Error("JSON payload size");
  }
  check(await new JsonCodec().decode(json), (json.length - 21) / 3, "JSON");
  check(
    await new MsgPackBloscCodec().decode(await bloscMapsPayload(size)),
    size - 16,
    "blosc",
  );
}
