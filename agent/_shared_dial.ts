// A dial to another container that several connects share
// (agent/_connections.ts): each waits for it within its own deadline, and
// it stops once every one of them has given up.

/** A dial in progress and how many connects wait for it. */
export interface Dial {
  waiters: number;
  /** Aborted when every connect waiting for it has given up. */
  controller: AbortController;
  /** Whether it retries refused attempts (the `retry` of the connect that began it). */
  retrying: boolean;
  /**
   * Rejects at its next refused attempt (then a new one takes its place):
   * connects without `retry` fail then.
   */
  refused: PromiseWithResolvers<never>;
}

/** How a connect leaves the dial it waits for, set while it waits. */
export interface Waiting {
  leave?: () => void;
  /**
   * While a connect asks for its agent over a shared connection it did not
   * dial: stops handing that connection out (it timed out there).
   */
  suspect?: () => void;
}

/**
 * Waits for a dial in progress, as one of the connects it serves; with
 * `once` (no `retry`), only until its first refused attempt;
 * `dialingStill` says whether the dial is still in progress (then the last
 * connect to leave stops it).
 */
export async function join<T>(
  dialing: Promise<T>,
  dial: Dial,
  waiting: Waiting,
  once: boolean,
  dialingStill: () => boolean,
): Promise<T> {
  dial.waiters++;
  let left = false;
  waiting.leave = () => {
    if (left) return;
    left = true;
    if (--dial.waiters === 0 && dialingStill()) {
      dial.controller.abort(
        new DOMException("Every connect waiting gave up", "AbortError"),
      );
    }
  };
  try {
    return await (once && dial.retrying
      ? Promise.race([dialing, dial.refused.promise])
      : dialing);
  } finally {
    // Settled: leaving no longer stops anything.
    waiting.leave();
    waiting.leave = undefined;
  }
}

/** The promise a dial's next refused attempt rejects. */
export function nextRefusal(): PromiseWithResolvers<never> {
  const refused = Promise.withResolvers<never>();
  refused.promise.catch(() => {});
  return refused;
}
