import { ProtocolError } from "../errors.ts";

/** The default of {@linkcode setPartialFrameBudget}: 256 MiB. */
export const DEFAULT_PARTIAL_FRAME_BUDGET = 256 * 1024 * 1024;

/** Something that holds bytes of partially received frames (a frame parser). */
export interface BudgetHolder {
  /** Bytes charged to it now. */
  held: number;
  /** The peer, for the error message. */
  readonly label: string;
  /** Drops its bytes (the budget has released them) and fails with `error`. */
  cut(error: ProtocolError): void;
}

/** The bytes held in partially received frames by this process, and its budget. */
export interface PartialFrameBudget {
  /** Bytes allowed across all connections. */
  readonly limit: number;
  /** Bytes held now. */
  readonly held: number;
  /**
   * Partial frames cut off for this budget since the process started: each
   * closed its connection (or failed its `FrameDecoderStream`) with a
   * `ProtocolError`.
   */
  readonly cuts: number;
}

let limit = DEFAULT_PARTIAL_FRAME_BUDGET;
let held = 0;
let cuts = 0;
/** Holders with bytes charged: only they can be the largest. */
const holders = new Set<BudgetHolder>();

/**
 * Sets how many bytes all connections of this process may hold together in
 * frames that have started to arrive but not ended. Frame buffers grow with
 * the bytes received, so this counts what peers have actually sent, not
 * what their headers claim. When a buffer would grow beyond it, the
 * connection holding the most is closed with a `ProtocolError` that names
 * this limit; the others go on. It applies to buffers grown from then on.
 *
 * @param bytes The budget in bytes (default 256 MiB).
 * @returns The previous budget.
 * @throws {RangeError} If `bytes` is not a number from 0 up.
 *
 * @example
 * ```ts
 * import { partialFrameBudget, setPartialFrameBudget } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const previous = setPartialFrameBudget(64 * 1024 * 1024);
 * assert.equal(partialFrameBudget().limit, 64 * 1024 * 1024);
 * setPartialFrameBudget(previous);
 * ```
 */
export function setPartialFrameBudget(bytes: number): number {
  if (typeof bytes !== "number" || !(bytes >= 0)) {
    throw new RangeError(
      `Cannot set the partial frame budget to ${bytes}: expected bytes from 0 up`,
    );
  }
  const previous = limit;
  limit = bytes;
  return previous;
}

/**
 * The process-wide budget for partially received frames and how much of it
 * is in use (see {@linkcode setPartialFrameBudget}).
 *
 * @returns A snapshot: `limit` and `held`, in bytes, and the `cuts` made
 * so far.
 *
 * @example
 * ```ts
 * import { partialFrameBudget } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const { limit, held, cuts } = partialFrameBudget();
 * assert.ok(held <= limit);
 * assert.ok(cuts >= 0);
 * ```
 */
export function partialFrameBudget(): PartialFrameBudget {
  return { limit, held, cuts };
}

/**
 * Charges `bytes` more to `holder`. Beyond the budget, the largest holder
 * is cut (its bytes released) until the rest fits; when that is `holder`
 * itself, its bytes are released and the error is thrown instead.
 *
 * @throws {ProtocolError} If `holder` is the largest holder over the budget.
 */
export function charge(holder: BudgetHolder, bytes: number): void {
  held += bytes;
  holder.held += bytes;
  holders.add(holder);
  while (held > limit) {
    let largest = holder;
    for (const other of holders) {
      if (other.held > largest.held) largest = other;
    }
    const error = new ProtocolError(
      `Cannot receive frame from ${largest.label}: partial frames would hold ${held} bytes in this process, above its budget of ${limit} (setPartialFrameBudget), and this connection holds the most (${largest.held} bytes)`,
    );
    release(largest);
    cuts++;
    if (largest === holder) throw error;
    largest.cut(error);
  }
}

/** Releases everything charged to `holder`. */
export function release(holder: BudgetHolder): void {
  if (holder.held === 0) return;
  held -= holder.held;
  holder.held = 0;
  holders.delete(holder);
}
