// An internal way for a channel to have a codec give back the large buffer
// it encoded a message into (see `EncodeBuffers`) once the frame writer has
// copied the message: a connection that goes quiet, or whose peer never
// reads, would keep it (twice its largest message) for as long as it
// stays. Kept out of the public Codec interface.
import type { Codec } from "./codec.ts";

/**
 * Gives the buffer a codec's last `encodeView` (or internal encode into
 * parts) used back to the process-wide pool; its view must not be used
 * any more.
 */
export type ReleaseEncodeBuffer = () => void;

/** The codecs that can give their encode buffer back early, and how. */
export const encodeReleasers: WeakMap<Codec, ReleaseEncodeBuffer> =
  new WeakMap();
