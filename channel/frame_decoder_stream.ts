import { ProtocolError } from "../errors.ts";
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
 * inside one chunk are passed on as views, not copies.
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
   * @throws {ProtocolError} (erroring the stream) for an empty frame, a
   *   header above `maxFrameSize`, or a stream that ends inside a frame.
   */
  constructor(options: FrameDecoderStreamOptions = {}) {
    let stream: TransformStreamDefaultController<Uint8Array> | undefined;
    // Split frames are charged to the process-wide partial frame budget;
    // cut by it, the stream errors.
    const parser = new FrameParser(
      options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
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
