// A request frame as a raw peer writes it, for tests that play a peer by
// hand (one that asks and never reads, for example). Its payload comes
// from the MsgPack codec, so it is not in `_frames.ts`.
import { MsgPackCodec } from "../codecs/mod.ts";
import { frame } from "./_frames.ts";

/** The MsgPack frame of the request `[0, id, content]`, header included. */
export function requestFrame(id: number, content: unknown): Uint8Array {
  return frame(new MsgPackCodec().encode([0, id, content]));
}
