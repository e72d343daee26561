import { ProtocolError } from "../errors.ts";
import { MAX_DELAY } from "./_channel_options.ts";

/** What {@linkcode ReadDeadlines} needs of its read loop and channel. */
export interface ReadDeadlinesOptions {
  peer: string;
  /** Milliseconds a frame may stay partial; Infinity for no limit. */
  frameTimeout: number;
  /** Milliseconds without bytes and without pending work; Infinity for none. */
  idleTimeout: number;
  /** Whether the channel is closing: deadlines no longer matter. */
  closing(): boolean;
  /** Whether anything is pending or unanswered (the connection is not idle). */
  busy(): boolean;
  /** Closes the channel for a passed deadline. */
  fail(error: ProtocolError): void;
  /** What the partial frame holds, for the error. */
  partial(): string;
}

/**
 * A read loop's two deadlines (`frameTimeout`, `idleTimeout`), watched by
 * one timer that compares timestamps when it fires rather than being
 * re-armed per chunk. Neither runs while reading waits for the channel.
 */
export class ReadDeadlines {
  /** Whether reading waits for the channel: deadlines do not run. */
  paused = false;
  #options: ReadDeadlinesOptions;
  #frameTimeout: number;
  #idleTimeout: number;
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** When the armed timer fires. */
  #due = Infinity;
  /** When the current partial frame started (or reading resumed), or -1. */
  #partialSince = -1;
  /** When bytes were last read (kept only with an idleTimeout). */
  #lastRead = 0;
  #stopped = false;

  constructor(options: ReadDeadlinesOptions) {
    this.#options = options;
    this.#frameTimeout = options.frameTimeout;
    this.#idleTimeout = options.idleTimeout;
    if (this.#idleTimeout !== Infinity) {
      this.#lastRead = performance.now();
      this.#arm(this.#idleTimeout);
    }
  }

  /** Bytes were read. */
  read(): void {
    if (this.#idleTimeout !== Infinity) this.#lastRead = performance.now();
  }

  /** Whether a frame is partial after the bytes just read. */
  partial(partial: boolean): void {
    if (!partial) {
      this.#partialSince = -1;
    } else if (this.#partialSince < 0) {
      this.#partialSince = performance.now();
      if (this.#frameTimeout !== Infinity) this.#arm(this.#frameTimeout);
    }
  }

  /** Reading goes on after a wait: the clocks start again (the wait was ours, not the peer's). */
  resume(): void {
    this.paused = false;
    if (this.#partialSince >= 0) this.#partialSince = performance.now();
    if (this.#idleTimeout !== Infinity) this.#lastRead = performance.now();
  }

  /** Stops the timer for good (on close). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Arms the timer for `ms` from now, unless it fires by then already. */
  #arm(ms: number): void {
    if (this.#stopped) return;
    const due = performance.now() + ms;
    if (this.#timer !== undefined) {
      if (this.#due <= due) return;
      clearTimeout(this.#timer);
    }
    this.#due = due;
    // One beyond setTimeout's range checks again when it ends.
    this.#timer = setTimeout(
      this.#check,
      Math.min(MAX_DELAY, Math.max(1, Math.ceil(ms))),
    );
  }

  /** The timer: closes on a passed deadline, or re-arms for the next one. */
  #check = (): void => {
    this.#timer = undefined;
    const options = this.#options;
    if (this.#stopped || options.closing()) return;
    const now = performance.now();
    let next = Infinity;
    if (this.paused || options.busy()) this.#lastRead = now;
    if (this.#partialSince >= 0 && this.#frameTimeout !== Infinity) {
      if (this.paused) this.#partialSince = now;
      const due = this.#partialSince + this.#frameTimeout;
      if (now >= due) {
        return options.fail(
          new ProtocolError(
            `Frame from ${options.peer} incomplete after ${this.#frameTimeout} ms (got ${options.partial()}; frameTimeout)`,
          ),
        );
      }
      next = due;
    }
    if (this.#idleTimeout !== Infinity) {
      const due = this.#lastRead + this.#idleTimeout;
      if (now >= due) {
        return options.fail(
          new ProtocolError(
            `Connection to ${options.peer} idle: no bytes received and nothing pending for ${this.#idleTimeout} ms (idleTimeout)`,
          ),
        );
      }
      next = Math.min(next, due);
    }
    if (next !== Infinity) this.#arm(next - now);
  };
}
