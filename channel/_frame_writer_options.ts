// What a FrameWriter (channel/_frame_writer.ts) writes to, and its options.

/**
 * Where batches go: a writable stream, or a function that writes some of a
 * chunk and says how much (`Deno.Conn.write`), which skips the stream
 * machinery.
 */
export type FrameSink =
  | WritableStream<Uint8Array>
  | ((chunk: Uint8Array) => Promise<number>);

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
}
