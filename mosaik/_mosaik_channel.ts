// How a simulator's connection to mosaik is set up, shared by runSimulator
// and startSimulation: its codec's decode budget and the limit on the
// simulator's own calls.
import {
  type ChannelOptions,
  checkTimeout,
  DEFAULT_MAX_UNANSWERED_SIZE,
  UNREPORTED_COST_FACTOR,
} from "../channel/_channel_options.ts";
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
 * The options of a channel to mosaik: plain JSON as mosaik's Python side
 * reads it (a `__type__` key is data, as deep as Python nests), with a
 * decode budget that fits mosaik's steps up to `maxFrameSize` (see
 * `RunSimulatorOptions`), and room among the unanswered requests for the
 * largest step and the next request. mosaik sends one call at a time; a
 * channel that stopped reading behind one large step would not see the
 * replies to the simulator's own calls, nor a stop.
 *
 * @throws {RangeError} If `maxDecodedSize` is not a positive number.
 */
export function mosaikChannelOptions(
  maxFrameSize: number | undefined,
  maxDecodedSize: number | undefined,
): ChannelOptions {
  // A bad maxFrameSize is the channel's to refuse, in its own words.
  const frame = maxFrameSize !== undefined && maxFrameSize >= 1
    ? maxFrameSize
    : DEFAULT_MAX_FRAME_SIZE;
  const budget = maxDecodedSize ?? DECODED_PER_FRAME_BYTE * frame;
  const codec = new JsonCodec({
    maxDecodedSize: budget,
    maxDepth: MOSAIK_MAX_DEPTH,
    typeTags: false,
  });
  // What the JSON codec charges a request: 32 units a byte, at most its
  // budget.
  const perRequest = Math.min(budget, frame * UNREPORTED_COST_FACTOR);
  return {
    errorFormat: "mosaik",
    codec,
    maxFrameSize,
    maxUnansweredSize: Math.max(
      DEFAULT_MAX_UNANSWERED_SIZE,
      Math.min(Math.ceil(2 * perRequest) + 1, Number.MAX_SAFE_INTEGER),
    ),
  };
}

/** `callTimeout` if it is undefined or milliseconds above 0 (or Infinity). */
export function checkCallTimeout(
  value: number | undefined,
): number | undefined {
  return value === undefined ? undefined : checkTimeout(value, "callTimeout");
}
