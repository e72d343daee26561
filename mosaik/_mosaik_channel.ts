// How a simulator's connection to mosaik is set up, shared by runSimulator
// and startSimulation: its codec's decode budget and the limit on the
// simulator's own calls.
import { checkTimeout } from "../channel/_channel_options.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../channel/_frame_parser.ts";
import { JsonCodec } from "../codecs/json_codec.ts";

/** The default `maxDecodedSize` per byte of `maxFrameSize` (see `RunSimulatorOptions`). */
const DECODED_PER_FRAME_BYTE = 10;

/**
 * How deep mosaik's data may nest: Python's json module reads and writes
 * up to its recursion limit, about 1000 levels.
 */
const MOSAIK_MAX_DEPTH = 1000;

/**
 * The codec of a connection to mosaik: plain JSON as mosaik's Python side
 * reads it (a `__type__` key is data, as deep as Python nests), with a
 * decode budget that fits mosaik's steps up to `maxFrameSize` (see
 * `RunSimulatorOptions`).
 *
 * @throws {RangeError} If `maxDecodedSize` is not a positive number.
 */
export function mosaikCodec(
  maxFrameSize: number | undefined,
  maxDecodedSize: number | undefined,
): JsonCodec {
  // A bad maxFrameSize is the channel's to refuse, in its own words.
  const frame = maxFrameSize !== undefined && maxFrameSize >= 1
    ? maxFrameSize
    : DEFAULT_MAX_FRAME_SIZE;
  return new JsonCodec({
    maxDecodedSize: maxDecodedSize ?? DECODED_PER_FRAME_BYTE * frame,
    maxDepth: MOSAIK_MAX_DEPTH,
    typeTags: false,
  });
}

/** `callTimeout` if it is undefined or milliseconds above 0 (or Infinity). */
export function checkCallTimeout(
  value: number | undefined,
): number | undefined {
  return value === undefined ? undefined : checkTimeout(value, "callTimeout");
}
