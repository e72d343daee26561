// The `recv()` calls and `for await` loops of a channel waiting for a
// request, oldest first. A `recv` whose signal aborts stops waiting and
// takes nothing: it stays in the queue, skipped, until the queue is
// compacted (a quiet channel polled with timeouts would keep them all).
import { Queue } from "./_queue.ts";
import type { Request } from "./request.ts";

/** A `recv()` or `for await` waiting for a request. */
export interface Waiter {
  resolve(request: Request): void;
  reject(reason: unknown): void;
  /** Set when its `recv` stopped waiting (aborted): skipped. */
  gone?: boolean;
}

/** The waiters of a channel's requests. */
export class RecvWaiters {
  #queue = new Queue<Waiter>();
  /** How many of `#queue` stopped waiting. */
  #gone = 0;

  /** Adds a waiter. */
  push(waiter: Waiter): void {
    this.#queue.push(waiter);
  }

  /**
   * A waiting `recv`'s promise: settled by the request given to its
   * waiter, rejected with the reason when `signal` aborts (then it takes
   * nothing).
   */
  wait(signal: AbortSignal): Promise<Request> {
    const { promise, resolve, reject } = Promise.withResolvers<Request>();
    const onAbort = () => {
      waiter.gone = true;
      reject(signal.reason);
      if (++this.#gone > 16 && 2 * this.#gone > this.#queue.length) {
        this.#compact();
      }
    };
    const waiter: Waiter = {
      resolve: (request) => {
        signal.removeEventListener("abort", onAbort);
        resolve(request);
      },
      reject: (reason) => {
        signal.removeEventListener("abort", onAbort);
        reject(reason);
      },
    };
    signal.addEventListener("abort", onAbort, { once: true });
    this.#queue.push(waiter);
    return promise;
  }

  /** The oldest waiter still waiting, taken from the queue. */
  shift(): Waiter | undefined {
    let waiter = this.#queue.shift();
    while (waiter?.gone) {
      this.#gone--;
      waiter = this.#queue.shift();
    }
    return waiter;
  }

  /** Rejects every waiter with `reason` and empties the queue. */
  rejectAll(reason: unknown): void {
    for (let waiter = this.shift(); waiter; waiter = this.shift()) {
      waiter.reject(reason);
    }
  }

  #compact(): void {
    const queue = this.#queue;
    this.#queue = new Queue<Waiter>();
    for (let waiter = queue.shift(); waiter; waiter = queue.shift()) {
      if (!waiter.gone) this.#queue.push(waiter);
    }
    this.#gone = 0;
  }
}
