import { ProtocolError } from "../errors.ts";
import { type BudgetHolder, charge, release } from "./_frame_budget.ts";
import { STAGE_SIZE, stages } from "./_stage_pool.ts";

/** The default largest payload accepted: 16 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

/** The first size of a split frame's buffer, unless more has arrived. */
const INITIAL_BODY = 4 * 1024;
/** Payload still to come from which it is read straight into the frame's buffer. */
const DIRECT_READ = 16 * 1024;
/** How much a buffer read into directly grows at least (unless the frame ends sooner). */
const DIRECT_GROW = 64 * 1024;

/** Options of {@linkcode FrameParser}. */
export interface FrameParserOptions {
  /** The peer, for error messages. @default {"peer"} */
  label?: string;
  /**
   * Called when the process-wide partial frame budget cuts this parser
   * while another one grows; it has dropped its frame and throws `error`
   * from then on.
   */
  onCut?: (error: ProtocolError) => void;
}

/**
 * Splits a byte stream into frames (4-byte big-endian length + payload).
 * A frame that lies inside one chunk is returned as a view of it, not a
 * copy; only frames split across chunks are assembled in a buffer of their
 * own, which grows with the bytes received (to at most 4 times what has
 * arrived or 64 KiB more, whichever is more, or the whole frame if less
 * than 16 KiB of it would be left, never beyond the declared length) and
 * is charged to the process-wide budget (`_frame_budget.ts`): a header
 * alone reserves nothing unless it ended a read that filled its buffer
 * (more is streaming in: see {@linkcode FrameParser.bodyTarget}). Past
 * its first 4 KiB and until it is the frame's own, that buffer is a view
 * of a pooled staging buffer where one is free (`_stage_pool.ts`), so
 * growing costs no fresh memory. An assembled frame's buffer is its own
 * (`frame.buffer` is not the chunk's) and is never reused: a decoder may
 * keep views of it.
 */
export class FrameParser implements BudgetHolder {
  /** Bytes charged to the budget (this frame's buffer). */
  held = 0;
  readonly label: string;
  #maxFrameSize: number;
  #onCut: ((error: ProtocolError) => void) | undefined;
  #header = new Uint8Array(4);
  #headerFilled = 0;
  /** The declared length of the frame being assembled, or 0 between frames. */
  #length = 0;
  #body: Uint8Array | null = null;
  #bodyFilled = 0;
  /** The staging buffer `#body` is a view of, or null. */
  #stage: Uint8Array<ArrayBuffer> | null = null;
  /** Whether a read into the staging buffer may be pending (see `bodyTarget`). */
  #lent = false;
  /** Whether `release` was called: no more bytes are taken. */
  #released = false;
  #cutError: ProtocolError | null = null;

  /**
   * @param maxFrameSize The largest payload accepted.
   * @param options See {@linkcode FrameParserOptions}.
   */
  constructor(
    maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE,
    options: FrameParserOptions = {},
  ) {
    this.#maxFrameSize = maxFrameSize;
    this.label = options.label ?? "peer";
    this.#onCut = options.onCut;
  }

  /** Whether a frame has started but not ended. */
  get partial(): boolean {
    return this.#headerFilled > 0 || this.#length > 0;
  }

  /** The size of the buffer held for the frame being assembled. */
  get bufferSize(): number {
    return this.#body?.length ?? 0;
  }

  /** A description of the unfinished frame, for errors. */
  get partialDescription(): string {
    return this.#length > 0
      ? `${this.#bodyFilled} of ${this.#length} payload bytes`
      : `${this.#headerFilled} of 4 header bytes`;
  }

  /**
   * Drops the frame being assembled and releases its budget (on close);
   * bytes pushed from then on are ignored.
   */
  release(): void {
    this.#released = true;
    // A read into the staging buffer may still be pending (a cut, or a
    // close during a read): then it is never reused.
    const stage = this.#stage;
    if (stage !== null) {
      if (this.#lent) stages.drop();
      else stages.give(stage);
    }
    this.#stage = null;
    this.#lent = false;
    this.#body = null;
    this.#length = 0;
    this.#bodyFilled = 0;
    this.#headerFilled = 0;
    release(this);
  }

  /** Cut by the budget: see {@linkcode FrameParserOptions.onCut}. */
  cut(error: ProtocolError): void {
    this.release();
    this.#cutError = error;
    this.#onCut?.(error);
  }

  /**
   * Where the next bytes of the frame being assembled may be read straight
   * into, saving the copy out of a read buffer: a view of its buffer past
   * the bytes received, once at least 16 KiB of its payload are still to
   * come; otherwise null. A full buffer grows first (charged to the
   * budget): to 4 times the bytes received or 64 KiB more, whichever is
   * more, at most the frame; the whole frame if less than 16 KiB of it
   * would be left. When `streaming`, so does a buffer with room for less
   * than 16 KiB (e.g. the 4 KiB a split frame starts in), or the read
   * would take just that little, and a frame with no buffer yet gets one;
   * otherwise such a frame's next bytes go through the read buffer,
   * so a peer that sent a header or a few bytes and stopped holds at most
   * 4 KiB (fresh memory, never a staging buffer). Pass what was read to
   * {@linkcode FrameParser.advance}; until then the view's memory is not
   * reused.
   *
   * @param streaming Whether the last read filled its buffer: more bytes
   *   are waiting.
   * @throws {ProtocolError} If the process-wide budget does not allow the
   *   buffer to grow.
   */
  bodyTarget(streaming = false): Uint8Array | null {
    const length = this.#length;
    if (this.#cutError !== null) throw this.#cutError;
    const filled = this.#bodyFilled;
    if (length - filled < DIRECT_READ) return null;
    let body = this.#body;
    if (body === null && !streaming) return null;
    if (
      body === null || filled === body.length ||
      (streaming && body.length - filled < DIRECT_READ)
    ) {
      let want = Math.max(filled * 4, filled + DIRECT_GROW);
      // What would be left is less than a direct read: it would come
      // through the read buffer and cost a copy of the whole frame.
      if (length - want < DIRECT_READ) want = length;
      body = this.#grow(want);
    }
    this.#lent = this.#stage !== null;
    return body.subarray(filled);
  }

  /**
   * Takes `n` bytes read into the view {@linkcode FrameParser.bodyTarget}
   * gave, and appends the frame to `frames` if they complete it.
   *
   * @throws {ProtocolError} If the frame was cut (at the budget) while
   *   the bytes were being read: its buffer is no longer ours to fill.
   */
  advance(n: number, frames: Uint8Array[]): void {
    if (this.#cutError !== null) throw this.#cutError;
    this.#lent = false;
    if (this.#released) return;
    const filled = this.#bodyFilled + n;
    this.#bodyFilled = filled;
    if (filled === this.#length) {
      frames.push(this.#body!);
      this.#body = null;
      this.#length = 0;
      release(this);
    }
  }

  /**
   * Appends the frames completed by the first `end` bytes of `chunk` (all
   * of it by default) to `frames`.
   *
   * @throws {ProtocolError} For an empty frame, one above the maximum, or
   *   a buffer that the process-wide budget does not allow.
   */
  push(
    chunk: Uint8Array,
    frames: Uint8Array[],
    end: number = chunk.length,
  ): void {
    if (this.#cutError !== null) throw this.#cutError;
    // These bytes were read into the read buffer: no read into ours is pending.
    this.#lent = false;
    if (this.#released) return;
    let pos = 0;
    while (pos < end) {
      if (this.#length > 0) {
        const take = Math.min(this.#length - this.#bodyFilled, end - pos);
        const filled = this.#bodyFilled + take;
        let body = this.#body;
        if (body === null || filled > body.length) body = this.#grow(filled);
        body.set(chunk.subarray(pos, pos + take), this.#bodyFilled);
        this.#bodyFilled = filled;
        pos += take;
        if (filled === this.#length) {
          frames.push(body);
          this.#body = null;
          this.#length = 0;
          release(this);
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
          `Cannot decode frame from ${this.label}: length 0 (an empty payload)`,
        );
      }
      if (length > this.#maxFrameSize) {
        throw new ProtocolError(
          `Cannot decode frame from ${this.label}: length ${length} exceeds maxFrameSize ${this.#maxFrameSize}${
            headerHint(length)
          }`,
        );
      }
      if (end - pos >= length) {
        frames.push(chunk.subarray(pos, pos + length));
        pos += length;
      } else {
        // Nothing is allocated until the payload's bytes arrive.
        this.#length = length;
        this.#bodyFilled = 0;
      }
    }
  }

  /**
   * A buffer for at least `needed` bytes: double, at most the frame; the
   * whole frame once that is at most 4 times what has arrived, saving the
   * last copies. One smaller than the frame is a view of a staging buffer
   * where it fits one (its bytes stay where they are); the frame's own is
   * fresh, and the staging buffer goes back to the pool (no read is
   * pending into it: the read loop grows only between reads).
   */
  #grow(needed: number): Uint8Array {
    const old = this.#body;
    const length = this.#length;
    let size = Math.max(needed, old === null ? INITIAL_BODY : old.length * 2);
    if (size >= length || this.#bodyFilled * 4 >= length) size = length;
    charge(this, size - (old?.length ?? 0));
    let stage = this.#stage;
    if (size > INITIAL_BODY && size < length && size <= STAGE_SIZE) {
      if (stage === null && (stage = stages.take()) !== null && old !== null) {
        stage.set(old.subarray(0, this.#bodyFilled));
      }
      if (stage !== null) {
        this.#stage = stage;
        return this.#body = stage.subarray(0, size);
      }
    }
    const body = new Uint8Array(size);
    if (old !== null) body.set(old.subarray(0, this.#bodyFilled));
    if (stage !== null) stages.give(stage);
    this.#stage = null;
    this.#body = body;
    return body;
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

/**
 * What a frame header far too long may really be: the start of a TLS
 * record (one side speaks TLS, the other not) or text (another protocol).
 */
function headerHint(header: number): string {
  const bytes = [
    header >>> 24,
    (header >>> 16) & 0xff,
    (header >>> 8) & 0xff,
    header & 0xff,
  ];
  if (bytes[0] >= 0x14 && bytes[0] <= 0x17 && bytes[1] === 0x03) {
    return " (the bytes start a TLS record: is the peer using TLS and this side not?)";
  }
  if (bytes.every((byte) => byte >= 0x20 && byte < 0x7f)) {
    return ` (the bytes are the text ${
      JSON.stringify(String.fromCharCode(...bytes))
    }: is the peer speaking another protocol?)`;
  }
  return "";
}
