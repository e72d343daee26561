import { formatPeerValue } from "../channel/_message.ts";
import { runCallback } from "./_run_callback.ts";
import { type HeapEntry, TimerHeap } from "./_timer_heap.ts";
import type { Clock, SleepOptions, TimerHandle } from "./clock.ts";

interface Entry extends HeapEntry {
  fired?: boolean;
  fire(): void;
  abandon?(reason: unknown): void;
}

/**
 * Time set from outside, for co-simulation (aiomas `ExternalClock`).
 * `time()` is the last value given to {@linkcode ExternalClock.setTime};
 * `utcnow()` is the start date plus that many seconds. Nothing wakes up on
 * its own: `setTime(t)` wakes every sleeper and runs every call whose
 * deadline is at or before `t`, in (deadline, insertion) order, so runs
 * are fully deterministic. {@linkcode ExternalClock.nextActivity} tells a
 * master the next time anything is due.
 *
 * As in aiomas, waits must end in the future: `sleep(0)`, `callIn(0)` and a
 * target of `time()` or earlier are a `RangeError`, since only the next
 * `setTime` could end them. {@linkcode RealtimeClock} takes a delay of 0 (it
 * ends after the current task), so code that may run under either clock
 * should not wait 0 seconds.
 *
 * @example
 * ```ts
 * import { ExternalClock } from "@aiomas/aiomas/agent";
 * import assert from "node:assert/strict";
 *
 * const clock = new ExternalClock("2016-01-01T00:00:00+00:00");
 * const seen: string[] = [];
 * clock.callIn(2, () => seen.push("b"));
 * clock.callIn(1, () => seen.push("a"));
 * assert.equal(clock.nextActivity(), 1);
 * clock.setTime(5);
 * assert.deepEqual(seen, ["a", "b"]);
 * assert.equal(clock.utcnow().toISOString(), "2016-01-01T00:00:05.000Z");
 * assert.throws(() => clock.sleep(0), RangeError); // as in aiomas
 * ```
 */
export class ExternalClock implements Clock {
  #start: number;
  #time: number;
  #seq = 0;
  #heap = new TimerHeap<Entry>();

  /**
   * Creates the clock.
   *
   * @param utcStart The date at time 0 (a `Date` or an ISO-8601 string).
   * @param initTime The time to start at, in seconds (a finite number
   *   whose date a `Date` can hold).
   * @throws {TypeError} If `initTime` is not a number.
   * @throws {RangeError} If the date is invalid, or `initTime` is not finite
   *   or beyond the dates a `Date` holds.
   */
  constructor(utcStart: Date | string, initTime = 0) {
    this.#start = new Date(utcStart).getTime();
    if (Number.isNaN(this.#start)) {
      throw new RangeError(`Invalid start date: ${String(utcStart)}`);
    }
    this.#checkTime(initTime, "start at");
    this.#time = initTime;
  }

  /**
   * The time last set.
   *
   * @returns Seconds.
   */
  time(): number {
    return this.#time;
  }

  /**
   * The start date plus `time()` seconds.
   *
   * @returns A `Date`.
   */
  utcnow(): Date {
    return new Date(this.#start + this.#time * 1000);
  }

  /**
   * Advances the time and runs everything due, in (deadline, insertion) order.
   *
   * Calls run synchronously, before `setTime` returns; sleeps are resolved
   * in the same order, but the code after them resumes only once
   * `setTime` has returned. So a call due at 2 runs before the code of a
   * sleeper due at 1 (aiomas runs both from the event loop, after
   * `set_time` returns).
   *
   * @param t The new time: a finite number later than `time()` (and whose
   *   date a `Date` can hold).
   * @throws {TypeError} If `t` is not a number (e.g. a peer's string).
   * @throws {RangeError} If `t` is not finite, beyond the dates a `Date`
   *   holds, or not later than `time()`.
   */
  setTime(t: number): void {
    this.#checkTime(t, "set time to");
    if (!(t > this.#time)) {
      throw new RangeError(
        `Cannot set time to ${t}: it must be later than ${this.#time}`,
      );
    }
    this.#time = t;
    for (
      let entry = this.#heap.peek();
      entry !== undefined && entry.deadline <= t;
      entry = this.#heap.peek()
    ) {
      this.#heap.pop();
      entry.fired = true;
      const fire = entry.fire;
      // A handle kept after its call must not keep the call alive.
      release(entry);
      fire();
    }
  }

  /**
   * The earliest deadline of a pending sleep or call.
   *
   * @returns Seconds, or null if nothing is pending but waits without end
   *   (`sleep(Infinity)`), which no `setTime` reaches.
   */
  nextActivity(): number | null {
    const deadline = this.#heap.peek()?.deadline;
    return deadline === undefined || deadline === Infinity ? null : deadline;
  }

  /**
   * Waits `dt` seconds of clock time.
   *
   * @param dt Seconds, more than 0 (aiomas refuses 0 too; unlike
   *   {@linkcode RealtimeClock.sleep}, which takes 0).
   * @param options `signal` to cancel.
   * @returns A promise that resolves when `setTime` reaches the deadline.
   * @throws {TypeError} If `dt` is not a number.
   * @throws {RangeError} If `dt` is not positive.
   */
  sleep(dt: number, options?: SleepOptions): Promise<void> {
    return this.#sleep(this.#after(dt), options?.signal);
  }

  /**
   * Waits until time `t` or a date.
   *
   * @param t Seconds, or a `Date`; later than `time()`, as in aiomas.
   * @param options `signal` to cancel.
   * @returns A promise that resolves when `setTime` reaches `t`.
   * @throws {TypeError} If `t` is neither a number nor a `Date`.
   * @throws {RangeError} If `t` is not later than `time()`.
   */
  sleepUntil(t: number | Date, options?: SleepOptions): Promise<void> {
    return this.#sleep(this.#deadline(t), options?.signal);
  }

  /**
   * Calls `fn(...args)` in `dt` seconds of clock time.
   *
   * @param dt Seconds, more than 0 (aiomas refuses 0 too; unlike
   *   {@linkcode RealtimeClock.callIn}, which takes 0).
   * @param fn The function.
   * @param args Its arguments.
   * @returns A handle to cancel the call.
   * @throws {TypeError} If `dt` is not a number.
   * @throws {RangeError} If `dt` is not positive.
   */
  callIn<A extends unknown[]>(
    dt: number,
    fn: (...args: A) => unknown,
    ...args: A
  ): TimerHandle {
    return this.#schedule(
      this.#after(dt),
      () => runCallback(() => fn(...args)),
    );
  }

  /**
   * Calls `fn(...args)` at time `t` or a date.
   *
   * @param t Seconds, or a `Date`; later than `time()`, as in aiomas.
   * @param fn The function.
   * @param args Its arguments.
   * @returns A handle to cancel the call.
   * @throws {TypeError} If `t` is neither a number nor a `Date`.
   * @throws {RangeError} If `t` is not later than `time()`.
   */
  callAt<A extends unknown[]>(
    t: number | Date,
    fn: (...args: A) => unknown,
    ...args: A
  ): TimerHandle {
    return this.#schedule(
      this.#deadline(t),
      () => runCallback(() => fn(...args)),
    );
  }

  /** Cancels every pending call and sleep; sleeps reject with an `AbortError`. */
  cancelAll(): void {
    for (const entry of this.#heap.clear()) {
      if (entry.cancelled) continue;
      entry.cancelled = true;
      const abandon = entry.abandon;
      release(entry);
      abandon?.(
        new DOMException("The clock cancelled all timers", "AbortError"),
      );
    }
  }

  #deadline(t: number | Date): number {
    if (!(t instanceof Date) && typeof t !== "number") {
      throw new TypeError(
        `Cannot wait until ${
          formatPeerValue(t)
        } on an ExternalClock: neither a number nor a Date`,
      );
    }
    const deadline = t instanceof Date ? (t.getTime() - this.#start) / 1000 : t;
    if (Number.isNaN(deadline)) {
      throw new RangeError(
        `Cannot wait until ${String(t)} on an ExternalClock: not a time`,
      );
    }
    if (!(deadline > this.#time)) {
      throw new RangeError(
        `Cannot wait until ${String(t)} on an ExternalClock at time ` +
          `${this.#time}: the target must be later, as in aiomas (${ONLY_SET_TIME})`,
      );
    }
    return deadline;
  }

  /**
   * The deadline `dt` seconds from now: at least the next number after
   * now, so that `nextActivity()` is a time `setTime` takes even for a
   * delay below the float's step at this time.
   */
  #after(dt: number): number {
    const deadline = this.#time + checkDelay(dt);
    return deadline > this.#time ? deadline : nextUp(this.#time);
  }

  #sleep(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#cancel(entry);
        reject(signal!.reason);
      };
      const entry: Entry = {
        deadline,
        seq: this.#seq++,
        cancelled: false,
        fire: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        abandon: (reason) => {
          signal?.removeEventListener("abort", onAbort);
          reject(reason);
        },
      };
      this.#heap.push(entry);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #schedule(deadline: number, fire: () => void): TimerHandle {
    const entry: Entry = { deadline, seq: this.#seq++, cancelled: false, fire };
    this.#heap.push(entry);
    return {
      get cancelled() {
        return entry.cancelled && !entry.fired;
      },
      cancel: () => {
        if (!entry.cancelled && !entry.fired) this.#cancel(entry);
      },
    };
  }

  /**
   * Cancels a pending entry: it lets go of what it would have run (the
   * sleeper's promise, the call's function and arguments) at once, and
   * the heap drops it when cancelled entries are more than half of it.
   */
  #cancel(entry: Entry): void {
    release(entry);
    this.#heap.cancel(entry);
  }

  /**
   * Refuses a time `setTime` or the constructor would take that is not a
   * number (a peer's string would be compared and added as text), not
   * finite (Infinity would run every timer), or beyond the dates a `Date`
   * holds (`utcnow()` would be invalid from then on).
   */
  #checkTime(t: unknown, what: string): void {
    if (typeof t !== "number") {
      throw new TypeError(
        `Cannot ${what} ${
          formatPeerValue(t)
        } on an ExternalClock: not a number`,
      );
    }
    if (!(Math.abs(this.#start + t * 1000) <= MAX_DATE)) {
      throw new RangeError(
        `Cannot ${what} ${t} on an ExternalClock: not a finite number of seconds within the dates a Date holds`,
      );
    }
  }
}

/** The largest time value of a `Date`, in ms from the epoch either way. */
const MAX_DATE = 8.64e15;

/** Lets go of what an entry that will not run again would have run. */
function release(entry: Entry): void {
  entry.fire = NOTHING;
  entry.abandon = undefined;
}

function NOTHING(): void {}

/** Why an ExternalClock refuses waits that do not end in the future. */
const ONLY_SET_TIME =
  "its time moves only when setTime is called, so only the next setTime could end the wait";

function checkDelay(dt: number): number {
  if (typeof dt !== "number") {
    throw new TypeError(
      `Cannot wait ${
        formatPeerValue(dt)
      } seconds on an ExternalClock: not a number`,
    );
  }
  if (Number.isNaN(dt)) {
    throw new RangeError("Cannot wait NaN seconds on an ExternalClock");
  }
  if (!(dt > 0)) {
    throw new RangeError(
      `Cannot wait ${dt} seconds on an ExternalClock: the delay must be more than 0, as in aiomas (${ONLY_SET_TIME})`,
    );
  }
  return dt;
}

/** The smallest number above `x` (finite). */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigInt64(0);
  view.setBigInt64(0, x > 0 ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}
