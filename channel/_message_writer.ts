import type { Codec } from "../codecs/codec.ts";
import { KEPT_BUFFER } from "../codecs/_buffer_pool.ts";
import {
  type BoundedEncode,
  boundedEncoders,
  type LimitedEncodeView,
  viewEncoders,
} from "../codecs/_encode_limit.ts";
import { type EncodeParts, partsEncoders } from "../codecs/_encode_parts.ts";
import {
  encodeReleasers,
  type ReleaseEncodeBuffer,
} from "../codecs/_encode_release.ts";
import type { ConnectionClosedError } from "../errors.ts";
import { usesEncodeView } from "./_codec_use.ts";
import { FrameWriter, type FrameWriterOptions } from "./_frame_writer.ts";
import { encodeError } from "./_frame_writer_options.ts";
import type { Transport } from "./transport.ts";

/**
 * A channel's encode path: encodes each message with the channel's codec
 * and queues it on the {@linkcode FrameWriter} of its transport, in call
 * order also when the codec is async, and refuses what may no longer be
 * written once the channel closes.
 *
 * The codecs of this library encode within `maxFrameSize`: they stop as
 * soon as a message is sure to be longer, so that a message far above it
 * costs no more memory and time than one of about that size (the
 * internal encoders of `codecs/_encode_parts.ts` and
 * `codecs/_encode_limit.ts`, which take the limit with each call). Other
 * codecs encode the whole message, and it is refused after.
 */
export class MessageWriter {
  /** Where the encoded frames are queued. */
  readonly frames: FrameWriter;
  #codec: Codec;
  /**
   * How to encode into a view of the codec's buffer, if it can: its
   * internal encoder that stops at a limit (JSON), or `codec.encodeView`
   * (see {@linkcode usesEncodeView}), which ignores it.
   */
  #encodeView: LimitedEncodeView | undefined;
  /** The codec's internal encoder into parts, if it has one (MsgPack). */
  #encodeParts: EncodeParts | undefined;
  /**
   * The codec's internal encoder that bounds what it compresses, if it has
   * one (MsgPack+Blosc).
   */
  #encodeBounded: BoundedEncode | undefined;
  /** Gives the codec's encode buffer back early, if it can (see `#copied`). */
  #release: ReleaseEncodeBuffer | undefined;
  #maxFrameSize: number;
  #peer: string;
  /** The frames of an async codec still to be queued, in call order. */
  #sendChain: Promise<void> | null = null;
  #closeReason: ConnectionClosedError | null = null;
  /** Set once nothing may be written any more, replies included. */
  #final = false;

  constructor(codec: Codec, transport: Transport, options: FrameWriterOptions) {
    this.#codec = codec;
    this.#encodeView = viewEncoders.get(codec) ??
      (usesEncodeView(codec) ? (value) => codec.encodeView!(value) : undefined);
    this.#encodeParts = partsEncoders.get(codec);
    this.#encodeBounded = boundedEncoders.get(codec);
    this.#release = encodeReleasers.get(codec);
    this.#maxFrameSize = options.maxFrameSize ?? 0xffffffff;
    this.#peer = options.peer ?? "peer";
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
    const limit = this.#maxFrameSize;
    let encoded: Uint8Array | Promise<Uint8Array>;
    try {
      if (this.#sendChain === null) {
        // Copied into the write batch at once: no buffer per message.
        if (this.#encodeParts !== undefined) {
          // Large byte strings are written from where they are, not copied.
          // The array is the codec's (reused while there is one part).
          const parts = this.#encodeParts(message, limit);
          if (parts.length > 1) {
            return this.#copied(this.frames.writeParts(parts));
          }
          const bytes = parts[0];
          const written = this.frames.write(bytes);
          return bytes.length > KEPT_BUFFER ? this.#copied(written) : written;
        }
        if (this.#encodeView !== undefined) {
          const bytes = this.#encodeView(message, limit);
          const written = this.frames.write(bytes);
          return bytes.length > KEPT_BUFFER ? this.#copied(written) : written;
        }
        encoded = this.#encode(message);
        if (encoded instanceof Uint8Array) {
          return this.frames.write(encoded, true);
        }
      } else {
        encoded = this.#encode(message);
      }
    } catch (error) {
      // An encoding stopped at the limit says so as the frame writer would.
      throw encodeError(error, limit, this.#peer, false);
    }
    // The chain handles a failed async encoding when it gets there; until
    // then it must not count as unhandled.
    if (encoded instanceof Promise) encoded.catch(() => {});
    // An async codec: keep frames in call order.
    const chain = (this.#sendChain ?? Promise.resolve()).then(async () => {
      let bytes: Uint8Array;
      try {
        bytes = await encoded;
      } catch (error) {
        throw encodeError(error, limit, this.#peer, true);
      }
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

  /**
   * After a large message encoded into the codec's buffer was queued (the
   * frame writer copied it): the buffer (up to twice the message) goes
   * back to the process-wide pool now, where the next large message of
   * any connection takes it, rather than stay with a connection that may
   * stay quiet or never read (1 000 of them that sent 600 KB each would
   * keep 1 GiB).
   */
  #copied(
    written: Promise<void> | undefined,
  ): Promise<void> | undefined {
    this.#release?.();
    return written;
  }

  /** Encodes with `codec.encode`, or within the codec's bound if it has one. */
  #encode(message: unknown[]): Uint8Array | Promise<Uint8Array> {
    return this.#encodeBounded !== undefined
      ? this.#encodeBounded(message)
      : this.#codec.encode(message);
  }
}
