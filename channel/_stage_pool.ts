// The staging buffers of FrameParser (channel/_frame_parser.ts), pooled per
// process.
import { BufferPool } from "./_buffer_pool.ts";

/**
 * The size of a staging buffer: a split frame's buffer past its first
 * 4 KiB is a view of one while it is smaller than the frame and at most
 * this size.
 */
export const STAGE_SIZE = 512 * 1024;
/** How many staging buffers exist at most, process-wide (held or pooled): 2 MiB. */
const MAX_STAGES = 4;

/**
 * The staging buffers. A large frame grows through buffers of 4 KiB,
 * 64 KiB and 256 KiB before its own (see `FrameParser`); fresh memory for
 * each costs page faults and zeroing on every frame, so the steps past
 * 4 KiB are views of one reused buffer instead, and only the first 4 KiB
 * (all that a peer sending a few bytes gets, unless they filled a read:
 * see `FrameParser.bodyTarget`) and the frame's own buffer are fresh. A
 * parser that finds none grows into fresh memory.
 */
export const stages: BufferPool = new BufferPool(STAGE_SIZE, MAX_STAGES);

/** How many staging buffers exist, and how many of them are pooled (for tests). */
export function stagingBuffers(): { existing: number; pooled: number } {
  return stages.counts();
}
