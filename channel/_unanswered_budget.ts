// The process-wide budget for what unanswered requests hold, across all
// channels: the decoded cost (see `Codec.lastDecodedCost`) of every request
// received and not answered yet.

/** The default of {@linkcode setUnansweredBudget}: 512 Mi cost units. */
export const DEFAULT_UNANSWERED_BUDGET = 512 * 1024 * 1024;

/** The process-wide budget for unanswered requests and how much of it is in use. */
export interface UnansweredBudget {
  /** Cost units allowed across all channels. */
  readonly limit: number;
  /** Cost units held now. */
  readonly held: number;
  /**
   * Times a channel stopped reading because the process was at this budget,
   * since the process started.
   */
  readonly pauses: number;
}

let limit = DEFAULT_UNANSWERED_BUDGET;
let held = 0;
let pauses = 0;
/** Channels that stopped reading for this budget: woken when it frees. */
const waiting = new Set<() => void>();

/**
 * Sets how many decoded cost units (about bytes of heap, an upper bound:
 * see `ChannelOptions.maxUnansweredSize`) the requests received by all
 * channels of this process and not yet answered may hold together. At it,
 * every channel stops reading until replies (or closed channels) bring the
 * total below it; the request that crosses it is still received. A channel
 * that does not read does not read the replies to its own calls either: a
 * handler that waits for such a call while the process is at its budget
 * waits until other requests are answered.
 *
 * @param units The budget in cost units (default 512 Mi).
 * @returns The previous budget.
 * @throws {RangeError} If `units` is not a number from 1 up.
 *
 * @example
 * ```ts
 * import { setUnansweredBudget, unansweredBudget } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const previous = setUnansweredBudget(256 * 1024 * 1024);
 * assert.equal(unansweredBudget().limit, 256 * 1024 * 1024);
 * setUnansweredBudget(previous);
 * ```
 */
export function setUnansweredBudget(units: number): number {
  if (typeof units !== "number" || !(units >= 1)) {
    throw new RangeError(
      `Cannot set the unanswered request budget to ${units}: expected cost units from 1 up`,
    );
  }
  const previous = limit;
  limit = units;
  wakeAll();
  return previous;
}

/**
 * The process-wide budget for unanswered requests and how much of it is in
 * use (see {@linkcode setUnansweredBudget}).
 *
 * @returns A snapshot: `limit` and `held`, in cost units, and the `pauses`
 * so far.
 *
 * @example
 * ```ts
 * import { unansweredBudget } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const { held, pauses } = unansweredBudget();
 * assert.ok(held >= 0 && pauses >= 0);
 * ```
 */
export function unansweredBudget(): UnansweredBudget {
  return { limit, held, pauses };
}

/** Charges `units` (a request received). */
export function chargeUnanswered(units: number): void {
  held += units;
}

/** Releases `units` (a request answered, or its channel closed). */
export function releaseUnanswered(units: number): void {
  held -= units;
  if (waiting.size !== 0 && held < limit) wakeAll();
}

/** Whether the process is at its budget. */
export function atUnansweredBudget(): boolean {
  return held >= limit;
}

/** Calls `wake` once when the budget frees (or changes). */
export function waitUnanswered(wake: () => void): void {
  // A channel asks again while it waits: one pause until it is woken.
  if (waiting.has(wake)) return;
  waiting.add(wake);
  pauses++;
}

/** Forgets a waiter (its channel closed). */
export function stopWaitingUnanswered(wake: () => void): void {
  waiting.delete(wake);
}

function wakeAll(): void {
  const woken = [...waiting];
  waiting.clear();
  for (const wake of woken) wake();
}
