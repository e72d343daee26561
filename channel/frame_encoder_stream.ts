import { describe } from "../codecs/serializer_registry.ts";
import { encodeFrames } from "./_frame_parser.ts";

/**
 * Prefixes each payload with its 4-byte big-endian length, header and
 * payload in one chunk.
 *
 * @example
 * ```ts
 * import { FrameEncoderStream } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const framed = ReadableStream.from([new Uint8Array([104, 105])])
 *   .pipeThrough(new FrameEncoderStream());
 * const [chunk] = await Array.fromAsync(framed);
 * assert.deepEqual(Array.from(chunk), [0, 0, 0, 2, 104, 105]);
 * ```
 */
export class FrameEncoderStream
  extends TransformStream<Uint8Array, Uint8Array> {
  /**
   * Creates the stage.
   *
   * @throws {RangeError} (erroring the stream) for an empty payload or one
   *   longer than 2^32 − 1 bytes.
   * @throws {TypeError} (erroring the stream) for a payload that is not a
   *   `Uint8Array` (a string or an array of numbers would be cut to bytes).
   */
  constructor() {
    super({
      transform(payload, controller) {
        if (!(payload instanceof Uint8Array)) {
          throw new TypeError(
            `Cannot encode frame: the payload is ${
              describe(payload)
            }, not bytes`,
          );
        }
        controller.enqueue(encodeFrames([payload]));
      },
    });
  }
}
