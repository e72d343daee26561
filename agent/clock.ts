/** A scheduled call or sleep that can be cancelled. */
export interface TimerHandle {
  /** Cancels the call; a no-op once it ran or was cancelled. */
  cancel(): void;
  /** Whether `cancel()` was called before it ran. */
  readonly cancelled: boolean;
}

/** Options of the sleeping methods of a {@linkcode Clock}. */
export interface SleepOptions {
  /** Rejects the sleep with the signal's reason when aborted. */
  signal?: AbortSignal;
}

/**
 * Time for agents: real time ({@linkcode RealtimeClock}) or set from
 * outside for co-simulation ({@linkcode ExternalClock}). Time is in
 * seconds. Clocks are local: time never travels on the wire (except
 * through a manager's `set_time`).
 */
export interface Clock {
  /**
   * The current time in seconds.
   *
   * @returns Seconds.
   */
  time(): number;
  /**
   * The current date and time.
   *
   * @returns A `Date`.
   */
  utcnow(): Date;
  /**
   * Waits `dt` seconds.
   *
   * @param dt Seconds.
   * @param options `signal` to cancel.
   * @returns A promise that resolves when the time has come.
   */
  sleep(dt: number, options?: SleepOptions): Promise<void>;
  /**
   * Waits until time `t` (seconds) or a date.
   *
   * @param t The target.
   * @param options `signal` to cancel.
   * @returns A promise that resolves when the time has come.
   */
  sleepUntil(t: number | Date, options?: SleepOptions): Promise<void>;
  /**
   * Calls `fn(...args)` in `dt` seconds.
   *
   * @param dt Seconds.
   * @param fn The function.
   * @param args Its arguments.
   * @returns A handle to cancel the call.
   */
  callIn<A extends unknown[]>(
    dt: number,
    fn: (...args: A) => unknown,
    ...args: A
  ): TimerHandle;
  /**
   * Calls `fn(...args)` at time `t` (seconds) or a date.
   *
   * @param t The target.
   * @param fn The function.
   * @param args Its arguments.
   * @returns A handle to cancel the call.
   */
  callAt<A extends unknown[]>(
    t: number | Date,
    fn: (...args: A) => unknown,
    ...args: A
  ): TimerHandle;
  /**
   * Cancels every pending call and sleep (sleeps reject). The clock can be
   * used again afterwards.
   */
  cancelAll(): void;
}
