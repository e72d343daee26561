import { MAX_DELAY } from "../channel/_channel_options.ts";
import { runCallback } from "./_run_callback.ts";
import type { Clock, SleepOptions, TimerHandle } from "./clock.ts";

interface Timer extends TimerHandle {
  /** Rejects a sleep that is cancelled; calls have none. */
  abandon?: (reason: unknown) => void;
}

/**
 * Real time: `time()` is monotonic seconds (from `performance.now()`),
 * `utcnow()` the system date. Targets in the past are a `RangeError`.
 *
 * Any delay works: one beyond `setTimeout`'s range (about 24.8 days) is
 * waited in steps, and `Infinity` never ends.
 *
 * A delay of 0 is allowed, as with aiomas's `AsyncioClock`: `sleep(0)`
 * resolves and `callIn(0, fn)` runs after the current task.
 * {@linkcode ExternalClock} refuses 0 (as aiomas's does), so code that may
 * run under either clock should not wait 0 seconds.
 *
 * @example
 * ```ts
 * import { RealtimeClock } from "@aiomas/aiomas/agent";
 * import assert from "node:assert/strict";
 *
 * const clock = new RealtimeClock();
 * const start = clock.time();
 * await clock.sleep(0.01);
 * assert.ok(clock.time() - start >= 0.009);
 * await clock.sleep(0); // an ExternalClock would throw
 * ```
 */
export class RealtimeClock implements Clock {
  #timers = new Set<Timer>();

  /**
   * Monotonic seconds.
   *
   * @returns `performance.now() / 1000`.
   */
  time(): number {
    return performance.now() / 1000;
  }

  /**
   * The system date.
   *
   * @returns `new Date()`.
   */
  utcnow(): Date {
    return new Date();
  }

  /**
   * Waits `dt` seconds.
   *
   * @param dt Seconds, at least 0 (unlike {@linkcode ExternalClock.sleep},
   *   which needs more than 0).
   * @param options `signal` to cancel.
   * @returns A promise that resolves after `dt` seconds.
   * @throws {RangeError} If `dt` is negative or NaN.
   * @throws {TypeError} If `dt` is not a number.
   */
  sleep(dt: number, options?: SleepOptions): Promise<void> {
    return this.#sleep(checkDelay(dt), options?.signal);
  }

  /**
   * Waits until monotonic time `t` or a date.
   *
   * @param t Seconds on this clock, or a `Date`.
   * @param options `signal` to cancel.
   * @returns A promise that resolves at `t`.
   * @throws {RangeError} If `t` is in the past, or not a time (NaN, an
   *   invalid Date).
   * @throws {TypeError} If `t` is neither a number nor a `Date`.
   */
  sleepUntil(t: number | Date, options?: SleepOptions): Promise<void> {
    return this.#sleep(this.#until(t), options?.signal);
  }

  /**
   * Calls `fn(...args)` in `dt` seconds.
   *
   * @param dt Seconds, at least 0 (unlike {@linkcode ExternalClock.callIn},
   *   which needs more than 0).
   * @param fn The function.
   * @param args Its arguments.
   * @returns A handle to cancel the call.
   * @throws {RangeError} If `dt` is negative or NaN.
   * @throws {TypeError} If `dt` is not a number.
   */
  callIn<A extends unknown[]>(
    dt: number,
    fn: (...args: A) => unknown,
    ...args: A
  ): TimerHandle {
    return this.#schedule(checkDelay(dt), () => runCallback(() => fn(...args)));
  }

  /**
   * Calls `fn(...args)` at monotonic time `t` or a date.
   *
   * @param t Seconds on this clock, or a `Date`.
   * @param fn The function.
   * @param args Its arguments.
   * @returns A handle to cancel the call.
   * @throws {RangeError} If `t` is in the past, or not a time (NaN, an
   *   invalid Date).
   * @throws {TypeError} If `t` is neither a number nor a `Date`.
   */
  callAt<A extends unknown[]>(
    t: number | Date,
    fn: (...args: A) => unknown,
    ...args: A
  ): TimerHandle {
    return this.#schedule(this.#until(t), () => runCallback(() => fn(...args)));
  }

  /** Cancels every pending call and sleep; sleeps reject with an `AbortError`. */
  cancelAll(): void {
    for (const timer of [...this.#timers]) {
      timer.cancel();
      timer.abandon?.(
        new DOMException("The clock cancelled all timers", "AbortError"),
      );
    }
  }

  #until(t: number | Date): number {
    if (!(t instanceof Date) && typeof t !== "number") {
      throw new TypeError(
        `Cannot wait until ${String(t)}: expected seconds or a Date`,
      );
    }
    const dt = t instanceof Date
      ? (t.getTime() - Date.now()) / 1000
      : t - this.time();
    if (Number.isNaN(dt)) {
      throw new RangeError(`Cannot wait until ${String(t)}: not a time`);
    }
    if (!(dt >= 0)) {
      throw new RangeError(`Cannot wait until ${String(t)}: it is in the past`);
    }
    return dt;
  }

  #sleep(dt: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        timer.cancel();
        reject(signal!.reason);
      };
      const timer: Timer = this.#schedule(dt, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      timer.abandon = (reason) => {
        signal?.removeEventListener("abort", onAbort);
        reject(reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #schedule(dt: number, fire: () => void): Timer {
    let cancelled = false;
    const timers = this.#timers;
    let id: ReturnType<typeof setTimeout> | undefined;
    const due = performance.now() + dt * 1000;
    // setTimeout fires a delay beyond MAX_DELAY at once: wait in steps.
    // An infinite one never fires and holds no timer.
    const arm = (ms: number): void => {
      if (ms === Infinity) return;
      id = ms > MAX_DELAY
        ? setTimeout(() => arm(due - performance.now()), MAX_DELAY)
        : setTimeout(() => {
          timers.delete(timer);
          fire();
        }, ms);
    };
    arm(dt * 1000);
    const timer: Timer = {
      get cancelled() {
        return cancelled;
      },
      cancel() {
        if (!timers.delete(timer)) return;
        cancelled = true;
        clearTimeout(id);
      },
    };
    timers.add(timer);
    return timer;
  }
}

function checkDelay(dt: number): number {
  if (typeof dt !== "number") {
    throw new TypeError(`Cannot wait ${String(dt)}: expected seconds`);
  }
  if (!(dt >= 0)) {
    throw new RangeError(
      `Cannot wait ${dt} seconds: the delay must be at least 0`,
    );
  }
  return dt;
}
