// What a FrameWriter (channel/_frame_writer.ts) writes to, its options, the
// sizes it writes in, and the frames it refuses.
import { EncodeLimitError } from "../codecs/_encode_limit.ts";
import { SerializationError } from "../errors.ts";

/**
 * Where batches go: a writable stream, or a function that writes some of a
 * chunk and says how much (`Deno.Conn.write`), which skips the stream
 * machinery.
 */
export type FrameSink =
  | WritableStream<Uint8Array>
  | ((chunk: Uint8Array) => Promise<number>);

/**
 * The most one write to a stream takes while a writeTimeout watches: a
 * stream (TLS) tells nothing until a write is done, so a slow reader's
 * progress shows only per piece; 256 KiB in 30 s is 9 KB/s.
 */
export const STREAM_PIECE = 256 * 1024;
/**
 * The same for a write function: a socket's says how much it took, but
 * NATS's returns once all is sent (140 KB/s in 30 s). Four messages of
 * NATS's default room (1 MiB of `max_payload` less a 5-byte header), so
 * that no piece ends in a message of a few bytes; a frame of up to 4 MiB
 * stays one write.
 */
export const WRITE_PIECE = 4 * (1024 * 1024 - 5);

/**
 * Payloads up to this size are copied into the batch; larger ones are
 * written on their own (past their first {@linkcode LEAD} bytes). One
 * write of header and payload together measured faster for 64 KiB than two
 * without the copy (echo at 1 in flight: 0.42–0.49 against 0.33–0.38 ×
 * raw), and no faster for 1 MiB.
 */
export const COPY_LIMIT = 128 * 1024;
/**
 * How many of a large payload's first bytes are copied after its header,
 * when written with a write function (a socket): alone, the header would
 * leave as a packet of a few bytes, and the peer's read would wake for it
 * before the payload comes (at 1 MiB and 1 in flight, 6 reads per echo
 * instead of 4 and 0.49–0.52 × raw instead of 0.60–0.61). Not when the
 * batch holds 192 KiB already (the header does not leave alone then, and
 * the lead would take a buffer of another size), nor for a stream.
 */
export const LEAD = 64 * 1024;

/** Options of `FrameWriter`. */
export interface FrameWriterOptions {
  /** Bytes queued above which `write` returns a promise to wait on. */
  highWaterMark: number;
  /** Called once when writing fails. */
  onError: (error: unknown) => void;
  /**
   * Whether more frames are about to come (e.g. replies to requests just
   * received): while it says so, a flush waits for the next turn of the
   * event loop, or for `FrameWriter.nudge`, to take them along.
   */
  holding?: () => boolean;
  /**
   * The largest payload written; a larger one is refused with a
   * `SerializationError` and nothing is queued. @default {2^32 − 1}
   */
  maxFrameSize?: number;
  /** The peer, for that error's message. @default {"peer"} */
  peer?: string;
  /**
   * Milliseconds the queue may stay above the high-water mark without a
   * byte written; then writing fails with a `ProtocolError` (and
   * `onError`). @default {Infinity}
   */
  writeTimeout?: number;
  /**
   * Whether a stall may cut now; while it says no, the wait starts again.
   * @default {() => true}
   */
  mayCut?: () => boolean;
}

/**
 * A message refused for its size: a `SerializationError` to its sender,
 * told apart where an error reply may be sent again without its text.
 */
export class FrameSizeError extends SerializationError {}

/**
 * @throws {RangeError} If a payload of `length` bytes cannot be framed.
 * @throws {SerializationError} If it is above `maxFrameSize`.
 */
export function checkFrameLength(
  length: number,
  maxFrameSize: number,
  peer: string,
): void {
  if (length === 0 || length > 0xffffffff) {
    throw new RangeError(
      `Cannot encode frame: payload length ${length} is out of range`,
    );
  }
  if (length > maxFrameSize) {
    throw frameSizeError(`${length}`, maxFrameSize, peer);
  }
}

/**
 * What a channel's send rejects with when its encoding failed: for an
 * encoding stopped at a limit (`EncodeLimitError`), a
 * {@linkcode FrameSizeError} that says so; any other error as it is.
 *
 * @param error What the encode threw.
 * @param compressed Whether the codec compresses: it stopped at its own
 *   limit of the bytes before compression, not at `maxFrameSize`.
 */
export function encodeError(
  error: unknown,
  maxFrameSize: number,
  peer: string,
  compressed: boolean,
): unknown {
  if (!(error instanceof EncodeLimitError)) return error;
  if (!compressed) {
    return frameSizeError(`more than ${maxFrameSize}`, maxFrameSize, peer);
  }
  // A peer with the same limit refuses the frame before decompressing it.
  return new FrameSizeError(
    `Cannot send a message of more than ${error.limit} bytes before compression to ${peer}: it is above its codec's maxDecompressedSize (${error.limit} bytes), the most a peer with the same limit decompresses`,
    { cause: error },
  );
}

/** `size`: the message's length in bytes, or "more than …". */
function frameSizeError(
  size: string,
  maxFrameSize: number,
  peer: string,
): FrameSizeError {
  // The peer's limit is not known; with this side's, it would close the
  // connection, failing every other call on it.
  return new FrameSizeError(
    `Cannot send a message of ${size} bytes to ${peer}: it is above maxFrameSize (${maxFrameSize} bytes), the largest frame a peer with the same limit reads`,
  );
}
