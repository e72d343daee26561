// Shared by the transcripts_*_test.ts files, which replay the conversations
// recorded between two Python aiomas 2.0.1 endpoints
// (tests/fixtures/transcripts.json) over real TCP sockets: the transcript
// format, raw framed sockets, and comparing our frames with recorded ones.
//
// Values are compared decoded, not as bytes. Error replies are compared by
// their last non-empty line, as the recording keeps only that line.
// `{"__type__": …}` maps are compared as plain data: the decoding codec
// turns each tag back into that map.
import assert from "node:assert/strict";
import {
  type Codec,
  type CodecClass,
  JsonCodec,
  MsgPackBloscCodec,
  MsgPackCodec,
} from "../../codecs/mod.ts";

export interface Frame {
  from: "a" | "b";
  frame_hex: string;
  value: unknown;
  traceback_last_line_only?: boolean;
}

export interface Transcript {
  name: string;
  codec: "json" | "msgpack" | "msgpackblosc";
  roles: { a: string; b: string };
  notes: string;
  frames: Frame[];
}

export const CODECS: Record<Transcript["codec"], CodecClass> = {
  json: JsonCodec,
  msgpack: MsgPackCodec,
  msgpackblosc: MsgPackBloscCodec,
};

export const transcripts: Transcript[] = JSON.parse(
  await Deno.readTextFile(
    new URL("../fixtures/transcripts.json", import.meta.url),
  ),
);

// --- Raw frames over a socket ---

/** One end of a TCP connection read and written frame by frame, by hand. */
export class RawConn {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Writes bytes as they are. */
  async write(bytes: Uint8Array): Promise<void> {
    for (let n = 0; n < bytes.length;) {
      n += await this.#conn.write(bytes.subarray(n));
    }
  }

  /** Reads one frame; returns its payload. */
  async readFrame(): Promise<Uint8Array> {
    const frame = await this.readFrameOrEnd();
    if (frame === null) {
      throw new Error("Connection ended while a frame was expected");
    }
    return frame;
  }

  /** Reads one frame's payload, or null at a clean EOF. */
  async readFrameOrEnd(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#buffer.length >= 4) {
        const length = new DataView(
          this.#buffer.buffer,
          this.#buffer.byteOffset,
        ).getUint32(0);
        if (this.#buffer.length >= 4 + length) {
          const payload = this.#buffer.slice(4, 4 + length);
          this.#buffer = this.#buffer.slice(4 + length);
          return payload;
        }
      }
      if (!await this.#fill()) {
        if (this.#buffer.length === 0) return null;
        throw new Error(
          `Connection ended inside a frame (${this.#buffer.length} bytes buffered)`,
        );
      }
    }
  }

  /** Reads more bytes; false at EOF. */
  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) return false;
    const grown = new Uint8Array(this.#buffer.length + n);
    grown.set(this.#buffer);
    grown.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = grown;
    return true;
  }
}

// --- Values ---

export function unhex(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

/** The value notation of the vectors (README) as decoded JS values. */
function fromNotation(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromNotation);
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1) {
    const inner = record[keys[0]];
    switch (keys[0]) {
      case "$int":
        return BigInt(inner as string);
      case "$float":
        return Number(inner as string);
      case "$bytes":
        return unhex(inner as string);
      case "$map":
        return new Map(
          (inner as [unknown, unknown][]).map((
            [k, v],
          ) => [fromNotation(k), fromNotation(v)]),
        );
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = fromNotation(record[key]);
  return out;
}

/** The highest typeid of a `__type__` map in a notation value, or -1. */
function maxTypeid(value: unknown): number {
  if (Array.isArray(value)) return Math.max(-1, ...value.map(maxTypeid));
  if (typeof value !== "object" || value === null) return -1;
  const record = value as Record<string, unknown>;
  let max = Array.isArray(record.__type__) ? record.__type__[0] as number : -1;
  for (const item of Object.values(record)) {
    max = Math.max(max, maxTypeid(item));
  }
  return max;
}

/**
 * A codec of the transcript's kind that decodes every `__type__` map the
 * transcript uses back into the plain `{"__type__": [typeid, data]}` map.
 */
export function plainCodec(transcript: Transcript): Codec {
  const codec = new CODECS[transcript.codec]();
  const count = 1 +
    Math.max(...transcript.frames.map((f) => maxTypeid(f.value)));
  for (let typeid = 0; typeid < count; typeid++) {
    codec.addSerializer(class TagEcho {}, () => null, (data) => ({
      __type__: [typeid, data],
    }));
  }
  return codec;
}

/**
 * Fails with `message` if `promise` has not settled within 10 s, so that a
 * frame that never comes fails the test (naming the transcript) instead of
 * hanging it. Nothing waits on the timer otherwise; it is always cleared.
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  message: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${message}: no answer within 10 s`)),
      10_000,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function lastLine(text: string): string {
  return text.split("\n").filter((line) => line.trim() !== "").at(-1) ?? "";
}

/** Compares a frame we produced (decoded) with the recorded one. */
export function assertFrame(
  actual: unknown,
  frame: Frame,
  where: string,
): void {
  const expected = fromNotation(frame.value) as unknown[];
  if (!frame.traceback_last_line_only) {
    assert.deepEqual(actual, expected, where);
    return;
  }
  assert.ok(Array.isArray(actual) && actual.length === 3, where);
  assert.deepEqual(actual.slice(0, 2), expected.slice(0, 2), where);
  const text = actual[2];
  assert.equal(typeof text, "string", `${where}: error text`);
  assert.equal(lastLine(text as string), expected[2], `${where}: last line`);
  assert.ok(
    (text as string).endsWith("\n"),
    `${where}: the error text ends with a newline`,
  );
}
