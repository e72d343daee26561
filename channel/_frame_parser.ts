import { ProtocolError } from "../errors.ts";

/** The default largest payload accepted: 64 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;

/**
 * Splits a byte stream into frames (4-byte big-endian length + payload).
 * A frame that lies inside one chunk is returned as a view of it, not a
 * copy; only frames split across chunks are assembled in a new buffer.
 */
export class FrameParser {
  #maxFrameSize: number;
  #header = new Uint8Array(4);
  #headerFilled = 0;
  #body: Uint8Array | null = null;
  #bodyFilled = 0;

  constructor(maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {
    this.#maxFrameSize = maxFrameSize;
  }

  /** Whether a frame has started but not ended. */
  get partial(): boolean {
    return this.#headerFilled > 0 || this.#body !== null;
  }

  /** A description of the unfinished frame, for errors at end of stream. */
  get partialDescription(): string {
    return this.#body !== null
      ? `${this.#bodyFilled} of ${this.#body.length} payload bytes`
      : `${this.#headerFilled} of 4 header bytes`;
  }

  /**
   * Appends the frames completed by the first `end` bytes of `chunk` (all
   * of it by default) to `frames`.
   *
   * @throws {ProtocolError} For an empty frame or one above the maximum.
   */
  push(
    chunk: Uint8Array,
    frames: Uint8Array[],
    end: number = chunk.length,
  ): void {
    let pos = 0;
    while (pos < end) {
      if (this.#body !== null) {
        const body = this.#body;
        const take = Math.min(body.length - this.#bodyFilled, end - pos);
        body.set(chunk.subarray(pos, pos + take), this.#bodyFilled);
        this.#bodyFilled += take;
        pos += take;
        if (this.#bodyFilled === body.length) {
          frames.push(body);
          this.#body = null;
        }
        continue;
      }
      let length: number;
      if (this.#headerFilled === 0 && end - pos >= 4) {
        length =
          ((chunk[pos] << 24) | (chunk[pos + 1] << 16) | (chunk[pos + 2] << 8) |
            chunk[pos + 3]) >>> 0;
        pos += 4;
      } else {
        const take = Math.min(4 - this.#headerFilled, end - pos);
        this.#header.set(chunk.subarray(pos, pos + take), this.#headerFilled);
        this.#headerFilled += take;
        pos += take;
        if (this.#headerFilled < 4) return;
        const h = this.#header;
        length = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
        this.#headerFilled = 0;
      }
      if (length === 0) {
        throw new ProtocolError(
          "Cannot decode frame: length 0 (an empty payload)",
        );
      }
      if (length > this.#maxFrameSize) {
        throw new ProtocolError(
          `Cannot decode frame: length ${length} exceeds maxFrameSize ${this.#maxFrameSize}`,
        );
      }
      if (end - pos >= length) {
        frames.push(chunk.subarray(pos, pos + length));
        pos += length;
      } else {
        this.#body = new Uint8Array(length);
        this.#bodyFilled = 0;
      }
    }
  }
}

/**
 * Writes frames for `payloads` into one new buffer.
 *
 * @throws {RangeError} If a payload is empty or longer than 2^32 − 1 bytes.
 */
export function encodeFrames(payloads: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const payload of payloads) total += 4 + payload.length;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const payload of payloads) {
    const length = payload.length;
    if (length === 0 || length > 0xffffffff) {
      throw new RangeError(
        `Cannot encode frame: payload length ${length} is out of range`,
      );
    }
    out[pos] = length >>> 24;
    out[pos + 1] = length >>> 16;
    out[pos + 2] = length >>> 8;
    out[pos + 3] = length;
    out.set(payload, pos + 4);
    pos += 4 + length;
  }
  return out;
}
