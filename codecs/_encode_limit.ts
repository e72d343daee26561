// An internal way for a channel to have its messages encoded within its
// maxFrameSize: the writer stops as soon as the bytes it has written, or
// must write, pass the limit, instead of building the whole encoding
// first (a reply of one string repeated 400 times holds 1 MiB of heap and
// encodes to 400 MiB). The limit is an argument of each call, not an
// option of the codec: one codec may serve channels with different limits.
// Like `partsEncoders` it is kept out of the public Codec interface; a
// codec that is not registered here is encoded whole and checked after.
import { SerializationError } from "../errors.ts";

/**
 * Thrown by a limited encode that stopped: the encoding is longer than
 * `limit` bytes (its exact length is not known). A channel turns it into
 * the error its send rejects with; out of a channel it is still a
 * `SerializationError` that says what happened.
 */
export class EncodeLimitError extends SerializationError {
  /** The limit the encoding passed, in bytes. */
  readonly limit: number;

  constructor(limit: number) {
    super(`Cannot encode value: it is longer than ${limit} bytes`);
    this.limit = limit;
  }
}

/**
 * Encodes as `Codec.encodeView` does (a view valid until the codec's next
 * call), throwing {@linkcode EncodeLimitError} instead of writing more
 * than `limit` bytes. It never throws it for an encoding of `limit` bytes
 * or less, and may return a longer one: the writer checks only where its
 * buffer must grow, so an encoding that fit a buffer it had (up to a pooled
 * 8 MiB, or twice the limit after a doubling) is returned whole. The
 * caller checks the length, as for any codec.
 */
export type LimitedEncodeView = (value: unknown, limit: number) => Uint8Array;

/**
 * The codecs whose `encodeView` can stop at a limit (JsonCodec), unless
 * their class overrides `encode` or `encodeView` (which would be bypassed).
 */
export const viewEncoders: WeakMap<object, LimitedEncodeView> = new WeakMap();

/**
 * Encodes as `Codec.encode` does for a codec that compresses, stopping the
 * encoding before compression at a bound of the codec's own (a promise
 * that rejects with {@linkcode EncodeLimitError}, whose `limit` is that
 * bound).
 */
export type BoundedEncode = (value: unknown) => Promise<Uint8Array>;

/**
 * The codecs that compress and bound what they compress
 * (MsgPackBloscCodec: its `maxDecompressedSize`), unless their class
 * overrides `encode`.
 */
export const boundedEncoders: WeakMap<object, BoundedEncode> = new WeakMap();
