import type { Codec } from "../codecs/codec.ts";
import { type ErrorFormat, errorFormatter } from "./_traceback.ts";

/** Options of `Channel`. */
export interface ChannelOptions {
  /** The codec of this connection (each connection needs its own instance). @default {new JsonCodec()} */
  codec?: Codec;
  /** The peer as seen locally, used as `RemoteError.origin`. @default {"peer"} */
  peer?: string;
  /**
   * The largest frame payload accepted from the peer, and sent to it. A
   * larger frame from the peer closes the connection with a
   * `ProtocolError`; a message of this side's above it is refused with a
   * `SerializationError` before anything is sent (`send` rejects, a reply
   * may still be answered with `fail`), as a peer with the same limit would
   * close the connection, failing every other call on it. Decoding a frame
   * blocks the event loop, and a 16 MiB JSON frame takes about 0.4 s: raise
   * it only for peers you trust (e.g. Python aiomas or mosaik, which have
   * no such limit). Above the default, the codecs made for the channel
   * (its default `JsonCodec`, those of `startServer` and `openConnection`)
   * get a `maxDecodedSize` of it plus 1 Mi units, as the default is; a codec
   * instance given in `codec` keeps its own.
   *
   * @default {16777216} (16 MiB)
   */
  maxFrameSize?: number;
  /**
   * How many bytes of outgoing frames may wait for the socket before
   * `send`, `reply` and `fail` wait for it to drain. While it is above
   * that and replies to the peer's requests are still owed, the channel
   * does not read from the peer either: a peer that does not read its
   * replies is not served more, and TCP slows its sending. (A channel that
   * owes no replies keeps reading, so two peers sending each other large
   * requests do not wait for each other forever; two peers that both
   * serve and both stop reading their replies do.) A whole number from 0
   * up; `Infinity` never waits (and so bounds nothing).
   *
   * @default {1048576} (1 MiB)
   */
  highWaterMark?: number;
  /**
   * How many received requests may wait for `recv()` before the channel
   * stops reading from the peer until they are taken: a whole number from
   * 1 up, or `Infinity` for no limit.
   *
   * @default {1024}
   */
  maxQueuedRequests?: number;
  /**
   * How many of the peer's requests may be received and not yet answered
   * (queued, or taken and being handled, synchronously or not); at the
   * limit the channel stops reading from the peer until one is answered,
   * so a flooding peer is slowed down by TCP instead of filling memory.
   *
   * @default {1024}
   */
  maxConcurrentRequests?: number;
  /**
   * How much the peer's requests received and not yet answered (queued or
   * being handled) may hold, in decoded cost units (about bytes of heap,
   * an upper bound): each request is charged what its codec reports it
   * built (`Codec.lastDecodedCost`: for MsgPack the counted cost of a
   * frame of 16 KiB or more, else 128 units per byte; for JSON the counted
   * cost of a text of 16 KiB or more, else 32 per byte),
   * or, for a codec that reports nothing, its payload bytes times
   * {@linkcode UNREPORTED_COST_FACTOR}. At the limit the channel stops
   * reading until handlers answer. The request that crosses it is still
   * received, so one request up to `maxDecodedSize` always is. All
   * channels together are bounded by `setUnansweredBudget` too.
   *
   * @default {67108864} (64 Mi units)
   */
  maxUnansweredSize?: number;
  /**
   * Milliseconds a frame may take to arrive once its first byte has: a
   * peer whose frame stays incomplete longer is cut with a `ProtocolError`
   * (time the channel itself does not read, see `maxConcurrentRequests`,
   * does not count). `Infinity` turns it off.
   *
   * @default {30000}
   */
  frameTimeout?: number;
  /**
   * Milliseconds a connection may go without receiving a byte while
   * nothing is pending either way (no call waiting for a reply, no
   * request unanswered, nothing queued to write); then it is closed with a
   * `ProtocolError`.
   *
   * @default {Infinity} (never)
   */
  idleTimeout?: number;
  /**
   * Milliseconds our frames may wait for a peer that takes none of them:
   * while more than `highWaterMark` bytes are queued and not a byte of
   * them is written for this long, the connection is cut with a
   * `ProtocolError` (a peer that asks and never reads the replies would
   * otherwise hold them, and the connection, for good). Only while this
   * side owes the peer replies: a peer that stops reading our calls and
   * asked nothing may be busy with them (give them a `callTimeout`). A
   * slow reader is not cut: a socket says how much each write took, and
   * with a writeTimeout a write takes at most 256 KiB to a stream (TLS)
   * and 4 MiB to a NATS session, so one that takes that much per
   * `writeTimeout` is not cut. `Infinity` turns it off (and writes chunks whole, which a
   * `MessagePort` transfers).
   *
   * @default {30000}
   */
  writeTimeout?: number;
  /**
   * How many of this side's requests may wait for a reply at once; `send`
   * beyond it rejects with a `RangeError` (nothing is sent). A whole number
   * from 1 up, or `Infinity` for no limit.
   *
   * @default {65536}
   */
  maxPendingRequests?: number;
  /**
   * How error replies are written: `"aiomas"`, a traceback text (aiomas's
   * format), or `"mosaik"`, a list `[name, message, ...traceback lines]`
   * (mosaik's). Error replies in either form are understood.
   *
   * @default {"aiomas"}
   */
  errorFormat?: ErrorFormat;
}

/** Options of `Channel.close` and of the `close`/`shutdown` methods built on it. */
export interface CloseOptions {
  /**
   * How long to wait, in milliseconds, for the requests already received
   * to be answered and for queued frames to be written before the
   * connection is cut.
   *
   * @default {1000}
   */
  timeout?: number;
}

/** The default of {@linkcode ChannelOptions.frameTimeout}. */
export const DEFAULT_FRAME_TIMEOUT = 30_000;

/** The default of {@linkcode ChannelOptions.writeTimeout}. */
export const DEFAULT_WRITE_TIMEOUT = 30_000;

/** The default of {@linkcode ChannelOptions.maxUnansweredSize}: 64 Mi cost units. */
export const DEFAULT_MAX_UNANSWERED_SIZE = 64 * 1024 * 1024;

/**
 * Cost units per payload byte charged for a request decoded by a codec that
 * does not report `lastDecodedCost` (JSON's worst expansion).
 */
export const UNREPORTED_COST_FACTOR = 32;

/** The default of {@linkcode CloseOptions.timeout}. */
export const DEFAULT_CLOSE_TIMEOUT = 1000;

/** A snapshot of a channel's counters (`Channel.stats`). */
export interface ChannelStats {
  /** Bytes read from the transport, frame headers included. */
  readonly bytesReceived: number;
  /** Bytes written to the transport, frame headers included. */
  readonly bytesSent: number;
  /** The peer's requests received and not yet taken by `recv`. */
  readonly requestsQueued: number;
  /** The peer's requests received and not yet answered (queued ones too). */
  readonly requestsUnanswered: number;
}

/** Options of `Channel.send`. */
export interface SendOptions {
  /** Rejects the call when aborted (the reply, if it comes, is dropped). */
  signal?: AbortSignal;
  /**
   * Rejects the call with a `TimeoutError` after this many milliseconds
   * (`Infinity`, or more than about 24.8 days: never; 0: at once, and
   * nothing is sent).
   */
  timeout?: number;
  /**
   * The call's trace context (`traceparent`, `tracestate`), sent beside the
   * request where the transport can carry it (see `Transport.traceContext`)
   * and dropped where it cannot: the aiomas bytes never carry it.
   */
  traceContext?: Readonly<Record<string, string>>;
}

/** Options of `Channel.recv`. */
export interface RecvOptions {
  /**
   * Stops waiting when aborted: the promise rejects with the signal's
   * reason, and the next request stays for the next `recv` (racing `recv`
   * against a timer instead would let the abandoned one take it).
   */
  signal?: AbortSignal;
}

type CheckedOption =
  | "maxFrameSize"
  | "maxConcurrentRequests"
  | "maxUnansweredSize"
  | "maxQueuedRequests"
  | "maxPendingRequests"
  | "highWaterMark"
  | "frameTimeout"
  | "idleTimeout"
  | "writeTimeout"
  | "errorFormat";

/**
 * Checks the options a `Channel` takes, so that a server fails at start
 * rather than at its first connection, and a client before it connects.
 *
 * @throws {RangeError} For a value out of range.
 * @throws {TypeError} For an unknown `errorFormat`.
 */
export function checkChannelOptions(
  options: Pick<ChannelOptions, CheckedOption>,
): void {
  for (
    const name of [
      "maxFrameSize",
      "maxConcurrentRequests",
      "maxUnansweredSize",
    ] as const
  ) {
    const value = options[name];
    if (value !== undefined) checkCount(value, name);
  }
  // These take Infinity for no limit, as they always did.
  for (const name of ["maxQueuedRequests", "maxPendingRequests"] as const) {
    const value = options[name];
    if (value !== undefined && value !== Infinity) checkCount(value, name);
  }
  const { highWaterMark } = options;
  // 0 is allowed: every write then waits until the previous one is out.
  if (
    highWaterMark !== undefined && highWaterMark !== Infinity &&
    (!Number.isInteger(highWaterMark) || highWaterMark < 0)
  ) {
    throw new RangeError(
      `Cannot use highWaterMark ${highWaterMark}: expected a whole number of bytes from 0 up, or Infinity`,
    );
  }
  for (
    const name of ["frameTimeout", "idleTimeout", "writeTimeout"] as const
  ) {
    const value = options[name];
    if (value !== undefined) checkTimeout(value, name);
  }
  if (options.errorFormat !== undefined) errorFormatter(options.errorFormat);
}

/** `value` if it is a whole number from 1 up. */
export function checkCount(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot use ${name} ${value}: expected a whole number from 1 up`,
    );
  }
  return value;
}

/**
 * The longest delay `setTimeout` keeps (2^31 − 1 ms, about 24.8 days):
 * a longer one fires at once, so a timeout beyond it starts no timer.
 */
export const MAX_DELAY = 2 ** 31 - 1;

/**
 * `setTimeout(fire, ms)` for a deadline, or no timer at all for one beyond
 * {@linkcode MAX_DELAY}: a deadline that far (or `Infinity`) is none, and
 * `setTimeout` would fire it at once.
 */
export function deadlineTimer(
  ms: number,
  fire: () => void,
): ReturnType<typeof setTimeout> | undefined {
  return ms > MAX_DELAY ? undefined : setTimeout(fire, ms);
}

/** `value` if it is a number of milliseconds above 0 (Infinity for none). */
export function checkTimeout(value: number, name: string): number {
  if (typeof value !== "number" || !(value > 0)) {
    throw new RangeError(
      `Cannot use ${name} ${value}: expected milliseconds above 0 (or Infinity)`,
    );
  }
  return value;
}

/**
 * Throws a `RangeError` unless `value` is undefined or a number of
 * milliseconds (0 or more, `Infinity` for none).
 */
export function checkMilliseconds(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !(value >= 0)) {
    throw new RangeError(
      `Invalid ${name} ${
        typeof value === "string" ? JSON.stringify(value) : String(value)
      }: expected milliseconds, 0 or more`,
    );
  }
}
