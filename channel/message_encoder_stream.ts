import type { Codec } from "../codecs/codec.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import type { Message } from "./_message.ts";

/**
 * Encodes `[type, id, content]` messages into frame payloads with a codec.
 *
 * @example
 * ```ts
 * import { MessageEncoderStream } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const payloads = ReadableStream.from<[0, number, string]>([[0, 0, "ohai"]])
 *   .pipeThrough(new MessageEncoderStream());
 * const [payload] = await Array.fromAsync(payloads);
 * assert.equal(new TextDecoder().decode(payload), '[0,0,"ohai"]');
 * ```
 */
export class MessageEncoderStream extends TransformStream<Message, Uint8Array> {
  /**
   * Creates the stage.
   *
   * @param codec The codec (default: a new {@linkcode JsonCodec}).
   * @throws {SerializationError} (erroring the stream) for a message that
   *   cannot be encoded.
   */
  constructor(codec: Codec = new JsonCodec()) {
    super({
      async transform(message, controller) {
        controller.enqueue(await codec.encode(message));
      },
    });
  }
}
