// An internal way for a channel to write a MsgPack message's large byte
// strings without copying them: the codec does not copy them into its
// buffer, and the channel can write each as a chunk of its own. It is kept
// out of the public Codec interface because it changes who owns the
// bytes: the parts reference the caller's Uint8Arrays, which must not
// change until they are written. It takes a channel's maxFrameSize, as the
// encoders of _encode_limit.ts do.

/**
 * Encodes a message into parts whose concatenation is its encoding. Even
 * indices are views of the codec's buffer (possibly empty), valid until
 * the codec's next call, like `Codec.encodeView`'s bytes; odd indices are
 * the message's own `Uint8Array`s of `LARGE_PART` (64 KiB) bytes and more,
 * not copied: they must not change until they are written. Without such
 * bins the array holds one view and is the same array at every call (no
 * allocation per message): it must not be changed. With them it is a new
 * array, and the codec keeps no reference to the caller's arrays.
 *
 * With a `limit`, it throws `EncodeLimitError` (`_encode_limit.ts`) as
 * soon as the parts are sure to be longer than `limit` bytes in all (the
 * bins left out count); it may return parts a little longer than `limit`.
 */
export type EncodeParts = (value: unknown, limit?: number) => Uint8Array[];

/**
 * The codecs that can encode into parts: each MsgPackCodec whose class
 * does not override `encode` or `encodeView` (a subclass that does would
 * be bypassed).
 */
export const partsEncoders: WeakMap<object, EncodeParts> = new WeakMap();
