import { ProtocolError } from "../errors.ts";
import type { Codec } from "../codecs/codec.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import { checkMessage, type Message } from "./_message.ts";

/**
 * Decodes frame payloads into `[type, id, content]` messages with a codec.
 *
 * @example
 * ```ts
 * import { MessageDecoderStream } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const messages = ReadableStream.from([new TextEncoder().encode('[0, 0, "ohai"]')])
 *   .pipeThrough(new MessageDecoderStream());
 * assert.deepEqual(await Array.fromAsync(messages), [[0, 0, "ohai"]]);
 * ```
 */
export class MessageDecoderStream extends TransformStream<Uint8Array, Message> {
  /**
   * Creates the stage.
   *
   * @param codec The codec (default: a new {@linkcode JsonCodec}).
   * @throws {ProtocolError} (erroring the stream) for a payload that does
   *   not decode or is not a message.
   */
  constructor(codec: Codec = new JsonCodec()) {
    super({
      async transform(payload, controller) {
        let value: unknown;
        try {
          value = await codec.decode(payload);
        } catch (error) {
          throw new ProtocolError(
            `Cannot decode message: ${messageOf(error)}`,
            { cause: error },
          );
        }
        controller.enqueue(checkMessage(value));
      },
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
