import type { Codec } from "../codecs/codec.ts";
import { type EncodeParts, partsEncoders } from "../codecs/_encode_parts.ts";
import type { ConnectionClosedError } from "../errors.ts";
import { usesEncodeView } from "./_codec_use.ts";
import { FrameWriter, type FrameWriterOptions } from "./_frame_writer.ts";
import type { Transport } from "./transport.ts";

/**
 * A channel's encode path: encodes each message with the channel's codec
 * and queues it on the {@linkcode FrameWriter} of its transport, in call
 * order also when the codec is async, and refuses what may no longer be
 * written once the channel closes.
 */
export class MessageWriter {
  /** Where the encoded frames are queued. */
  readonly frames: FrameWriter;
  #codec: Codec;
  /** Whether to encode with `codec.encodeView` (see {@linkcode usesEncodeView}). */
  #encodeView: boolean;
  /** The codec's internal encoder into parts, if it has one (MsgPack). */
  #encodeParts: EncodeParts | undefined;
  /** The frames of an async codec still to be queued, in call order. */
  #sendChain: Promise<void> | null = null;
  #closeReason: ConnectionClosedError | null = null;
  /** Set once nothing may be written any more, replies included. */
  #final = false;

  constructor(codec: Codec, transport: Transport, options: FrameWriterOptions) {
    this.#codec = codec;
    this.#encodeView = usesEncodeView(codec);
    this.#encodeParts = partsEncoders.get(codec);
    // A transport's own read/write (a Deno.Conn's) skip the stream
    // machinery, which costs more than everything else per small message.
    // Only `close` can end a stuck `write` or tell the peer we are done:
    // without it, use the streams.
    const canClose = typeof transport.close === "function";
    const write = transport.write;
    this.frames = new FrameWriter(
      typeof write === "function" && canClose
        ? write.bind(transport)
        : transport.writable,
      options,
    );
  }

  /**
   * Settles once the frames an async codec was still encoding are queued;
   * null when there are none.
   */
  get sendChain(): Promise<void> | null {
    return this.#sendChain;
  }

  /** The channel is closing: requests are refused with `reason` from now on. */
  close(reason: ConnectionClosedError): void {
    this.#closeReason = reason;
  }

  /** Nothing may be written any more, replies included (after `close`). */
  finish(): void {
    this.#final = true;
  }

  /**
   * Encodes and queues one message; throws synchronously if encoding fails.
   * Replies may still be written while the channel is closing.
   */
  write(message: unknown[], reply: boolean): Promise<void> | undefined {
    if (this.#final || (!reply && this.#closeReason !== null)) {
      throw this.#closeReason;
    }
    const codec = this.#codec;
    let encoded: Uint8Array | Promise<Uint8Array>;
    if (this.#sendChain === null) {
      // Copied into the write batch at once: no buffer per message.
      if (this.#encodeParts !== undefined) {
        // Large byte strings are written from where they are, not copied.
        // The array is the codec's (reused while there is one part).
        const parts = this.#encodeParts(message);
        return parts.length === 1
          ? this.frames.write(parts[0])
          : this.frames.writeParts(parts);
      }
      if (this.#encodeView) {
        return this.frames.write(codec.encodeView!(message));
      }
      encoded = codec.encode(message);
      if (encoded instanceof Uint8Array) {
        return this.frames.write(encoded, true);
      }
    } else {
      encoded = codec.encode(message);
    }
    // The chain handles a failed async encoding when it gets there; until
    // then it must not count as unhandled.
    if (encoded instanceof Promise) encoded.catch(() => {});
    // An async codec: keep frames in call order.
    const chain = (this.#sendChain ?? Promise.resolve()).then(async () => {
      const bytes = await encoded;
      // Written even if close() came meanwhile: close() waits for this chain
      // so that frames queued before it (replies included) still go out. After
      // a failure the writer throws its error instead.
      await this.frames.write(bytes, true);
    });
    const tail = chain.catch(() => {}).then(() => {
      if (this.#sendChain === tail) this.#sendChain = null;
    });
    this.#sendChain = tail;
    return chain;
  }
}
