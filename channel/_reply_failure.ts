// What a reply that could not be sent means for its request and its
// connection (IncomingRequests decides what to release and whom to fail).
import type { Codec } from "../codecs/codec.ts";
import { ProtocolError, SerializationError } from "../errors.ts";
import { codecName } from "./_codec_use.ts";
import { FrameSizeError } from "./_frame_writer_options.ts";
import { ERROR, formatPeerValue } from "./_message.ts";
import { isTextless } from "./_traceback.ts";

/**
 * `"retry"`: the reply was not sent and the request stays open (it may be
 * answered again; `fail` sends an error too large without its text). A
 * `ProtocolError`: the connection must close with it, since the peer would
 * wait for this reply in silence. `"closed"`: the connection is closing,
 * and its reason is what the reply rejects with.
 */
export type ReplyFailure = "retry" | "closed" | ProtocolError;

/**
 * Classifies `error`, which sending a reply of `type` to request `id`
 * (with `content`) threw, on a connection to `peer` that is `closing`.
 */
export function replyFailure(
  type: 1 | 2,
  id: unknown,
  content: unknown,
  error: unknown,
  where: { peer: string; codec: Codec; closing: boolean },
): ReplyFailure {
  if (error instanceof SerializationError) {
    if (
      type !== ERROR ||
      (error instanceof FrameSizeError && !isTextless(content))
    ) return "retry";
    // An error text always encodes, and a textless one is small: it is
    // the id that cannot be sent back.
    return new ProtocolError(
      `Cannot answer request ${
        formatPeerValue(id)
      } from ${where.peer}: its id cannot be sent back (${error.message})`,
      { cause: error },
    );
  }
  // A reply waiting for the transport to drain gets the raw write error
  // (e.g. BrokenPipe) when the connection fails: report the close instead.
  if (where.closing) return "closed";
  // The codec failed otherwise (e.g. its module did not load).
  return new ProtocolError(
    `Cannot encode reply to ${where.peer} with ${codecName(where.codec)}: ${
      error instanceof Error ? error.message : String(error)
    }`,
    { cause: error },
  );
}
