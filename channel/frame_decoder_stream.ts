import { ProtocolError } from "../errors.ts";
import { checkCount } from "./_channel_options.ts";
import { DEFAULT_MAX_FRAME_SIZE, FrameParser } from "./_frame_parser.ts";

/** Options of {@linkcode FrameDecoderStream}. */
export interface FrameDecoderStreamOptions {
  /**
   * The largest payload accepted, checked on the header before anything is
   * allocated.
   *
   * @default {16777216} (16 MiB)
   */
  maxFrameSize?: number;
}

/**
 * Splits a byte stream into frame payloads (4-byte big-endian length +
 * payload). Chunks may split frames at any byte or hold many frames; frames
 * inside one chunk are passed on as views, not copies, all at once: a
 * chunk of tiny frames becomes as many views (a 16 MiB chunk of 1-byte
 * frames, 3.4 M of them). Sockets read at most a few hundred KiB; cut the
 * chunks of a source whose messages a peer sizes (as a channel's
 * transports do, 256 KiB at most).
 *
 * @example
 * ```ts
 * import { FrameDecoderStream } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const frames = ReadableStream.from([
 *   new Uint8Array([0, 0, 0, 2, 104, 105, 0, 0]),
 *   new Uint8Array([0, 1, 33]),
 * ]).pipeThrough(new FrameDecoderStream());
 * const payloads = await Array.fromAsync(frames);
 * assert.deepEqual(payloads.map((p) => new TextDecoder().decode(p)), ["hi", "!"]);
 * ```
 */
export class FrameDecoderStream
  extends TransformStream<Uint8Array, Uint8Array> {
  /**
   * Creates the stage.
   *
   * @param options See {@linkcode FrameDecoderStreamOptions}.
   * @throws {RangeError} If `maxFrameSize` is not a whole number from 1 up.
   * @throws {ProtocolError} (erroring the stream) for an empty frame, a
   *   header above `maxFrameSize`, or a stream that ends inside a frame.
   */
  constructor(options: FrameDecoderStreamOptions = {}) {
    let stream: TransformStreamDefaultController<Uint8Array> | undefined;
    // Split frames are charged to the process-wide partial frame budget;
    // cut by it, the stream errors.
    const parser = new FrameParser(
      checkCount(
        options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
        "maxFrameSize",
      ),
      { onCut: (error) => stream?.error(error) },
    );
    const frames: Uint8Array[] = [];
    super({
      start(controller) {
        stream = controller;
      },
      cancel() {
        parser.release();
      },
      transform(chunk, controller) {
        try {
          parser.push(chunk, frames);
        } catch (error) {
          parser.release();
          // The stream errors: what it has queued is dropped, so the
          // frames of this chunk before the bad header are too.
          frames.length = 0;
          throw error;
        }
        for (const frame of frames) controller.enqueue(frame);
        frames.length = 0;
      },
      flush() {
        if (parser.partial) {
          const description = parser.partialDescription;
          parser.release();
          throw new ProtocolError(
            `Cannot decode frame: the stream ended inside a frame (${description})`,
          );
        }
      },
    });
  }
}
