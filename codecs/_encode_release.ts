// An internal way for a channel to have a codec give back the large buffer
// it encoded into (see `EncodeBuffers`) when it will not encode again soon:
// its socket is behind, so the next message waits for the peer to read,
// and one that never reads would keep the buffer (twice the largest
// message) for as long as it stays. Kept out of the public Codec interface.
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
