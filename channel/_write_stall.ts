// A peer that stops reading leaves our frames queued for good: the replies
// it asked for, and the memory they hold, stay with us. While the queue is
// above its high-water mark, a watch checks that the transport takes some
// bytes now and then, and gives up on the connection when it takes none.
import { MAX_DELAY } from "./_channel_options.ts";

/** Watches a writer that is behind for progress. */
export class WriteStallWatch {
  #timeout: number;
  #written: () => number;
  #mayCut: () => boolean;
  #onStall: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Bytes written when the watch last saw progress, and when. */
  #mark = 0;
  #since = 0;

  /**
   * @param timeout Milliseconds without a byte written before `onStall`;
   *   `Infinity` never.
   * @param progress `written`: the bytes written so far; `mayCut`: whether
   *   a stall may end the connection now (only while this side owes the
   *   peer replies: a peer busy with our calls may rightly not read).
   * @param onStall Called once the transport took nothing for `timeout`.
   */
  constructor(
    timeout: number,
    progress: { written: () => number; mayCut: () => boolean },
    onStall: () => void,
  ) {
    this.#timeout = timeout;
    this.#written = progress.written;
    this.#mayCut = progress.mayCut;
    this.#onStall = onStall;
  }

  /** The writer fell behind: watch it (nothing if watching already). */
  start(): void {
    if (this.#timer !== undefined || this.#timeout === Infinity) return;
    this.#mark = this.#written();
    this.#since = performance.now();
    this.#arm(this.#timeout / 4);
  }

  /** The writer caught up, or failed: stop watching. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(
      this.#check,
      Math.min(MAX_DELAY, Math.max(1, Math.ceil(ms))),
    );
  }

  // Progress is seen when checked, so checks come four times per timeout:
  // a peer that took its last byte just after one is cut at most a
  // quarter of the timeout late.
  #check = (): void => {
    const now = performance.now();
    const written = this.#written();
    if (written !== this.#mark || !this.#mayCut()) {
      this.#mark = written;
      this.#since = now;
    } else if (now - this.#since >= this.#timeout) {
      this.#timer = undefined;
      return this.#onStall();
    }
    this.#arm(Math.min(this.#timeout / 4, this.#since + this.#timeout - now));
  };
}
