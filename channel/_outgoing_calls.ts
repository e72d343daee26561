import { type ConnectionClosedError, ProtocolError } from "../errors.ts";
import {
  checkMilliseconds,
  deadlineTimer,
  type SendOptions,
} from "./_channel_options.ts";
import type { FrameWriter } from "./_frame_writer.ts";
import { ERROR, formatPeerValue, remoteError, REQUEST } from "./_message.ts";
import type { MessageWriter } from "./_message_writer.ts";
import type { PendingTable } from "./_pending_table.ts";
import type { TraceContextCarrier } from "./transport.ts";

/** A call waiting for its reply. */
export interface PendingCall {
  readonly id: number;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  done: boolean;
  cleanup: (() => void) | undefined;
}

/** A call waiting for the socket before it is sent. */
interface WaitingSend {
  readonly content: unknown;
  readonly options: SendOptions | undefined;
  readonly started: number;
  resolve(value: Promise<unknown>): void;
  reject(reason: unknown): void;
  cleanup: (() => void) | undefined;
}

/** Options of {@linkcode OutgoingCalls}. */
export interface OutgoingCallsOptions {
  peer: string;
  maxPendingRequests: number;
  /** Where trace contexts travel beside requests, if the transport has room. */
  carrier: TraceContextCarrier | undefined;
  /**
   * Told of every call made: reading paused by the process-wide budget
   * must go on, as the call's reply must still be read.
   */
  reading: { called(): void };
}

/**
 * A channel's calls to its peer: sends requests (waiting while the socket
 * is behind), keeps the calls waiting for a reply by id, settles them with
 * the peer's replies, and gives them up on timeout, abort or close.
 */
export class OutgoingCalls {
  #writer: MessageWriter;
  #frames: FrameWriter;
  #pending: PendingTable<PendingCall>;
  /**
   * The calls that wait for the socket before they are sent, oldest first
   * (a Set keeps insertion order, and lets one that gives up go at once).
   */
  #waiting = new Set<WaitingSend>();
  /** Whether {@linkcode OutgoingCalls.#pump} runs. */
  #pumping = false;
  #peer: string;
  #carrier: TraceContextCarrier | undefined;
  #reading: { called(): void };
  #maxPendingRequests: number;
  #nextId = 0;
  #closeReason: ConnectionClosedError | null = null;

  constructor(
    writer: MessageWriter,
    pending: PendingTable<PendingCall>,
    options: OutgoingCallsOptions,
  ) {
    this.#writer = writer;
    this.#frames = writer.frames;
    this.#pending = pending;
    this.#peer = options.peer;
    this.#carrier = options.carrier;
    this.#reading = options.reading;
    this.#maxPendingRequests = options.maxPendingRequests;
  }

  /** How many calls wait for their reply. */
  get size(): number {
    return this.#pending.size;
  }

  /** See `Channel.send`. */
  send(content: unknown, options?: SendOptions): Promise<unknown> {
    if (this.#closeReason !== null) return Promise.reject(this.#closeReason);
    try {
      checkMilliseconds("timeout", options?.timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    // No time at all: nothing is sent (the peer would run it for nobody).
    if (options?.timeout === 0) {
      return Promise.reject(this.#timeoutError(0));
    }
    if (this.#pending.size >= this.#maxPendingRequests) {
      return Promise.reject(this.#tooMany());
    }
    // Backpressure: while the socket is behind, wait before queuing more;
    // behind the calls that wait already.
    if (this.#frames.ready !== undefined || this.#waiting.size > 0) {
      return this.#sendWhenReady(content, options);
    }
    return this.#write(content, options);
  }

  /** Writes the request and registers the call: the socket has room. */
  #write(content: unknown, options: SendOptions | undefined): Promise<unknown> {
    const signal = options?.signal;
    const id = this.#nextId;
    let written: Promise<void> | undefined;
    try {
      written = this.#writer.write([REQUEST, id, content], false);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#nextId++;
    // Before the flush: the frame reaches the transport a microtask later.
    const traceContext = options?.traceContext;
    if (traceContext !== undefined) this.#carrier?.outgoing(id, traceContext);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const pending: PendingCall = {
      id,
      resolve,
      reject,
      done: false,
      cleanup: undefined,
    };
    this.#pending.add(pending);
    // Paused by the process-wide budget: its reply must still be read.
    this.#reading.called();
    written?.catch((error) => this.#giveUp(id, pending, error));
    const timeout = options?.timeout;
    if (signal !== undefined || timeout !== undefined) {
      const onAbort = () => this.#giveUp(id, pending, signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      const timer = timeout === undefined ? undefined : deadlineTimer(
        timeout,
        () => this.#giveUp(id, pending, this.#timeoutError(timeout)),
      );
      pending.cleanup = () => {
        signal?.removeEventListener("abort", onAbort);
        clearTimeout(timer);
      };
    }
    return promise;
  }

  #tooMany(): RangeError {
    return new RangeError(
      `Cannot send: ${this.#pending.size} requests to ${this.#peer} are pending (maxPendingRequests)`,
    );
  }

  #timeoutError(timeout: number): DOMException {
    return new DOMException(
      `Request to ${this.#peer} timed out after ${timeout} ms`,
      "TimeoutError",
    );
  }

  /**
   * `send` once the socket has drained and the calls before it are
   * written; cancellation covers the wait too.
   */
  #sendWhenReady(
    content: unknown,
    options: SendOptions | undefined,
  ): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const waiter: WaitingSend = {
      content,
      options,
      started: performance.now(),
      resolve,
      reject,
      cleanup: undefined,
    };
    const signal = options?.signal;
    const timeout = options?.timeout;
    if (signal !== undefined || timeout !== undefined) {
      const onAbort = () => this.#dropWaiting(waiter, signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      const timer = timeout === undefined ? undefined : deadlineTimer(
        timeout,
        () => this.#dropWaiting(waiter, this.#timeoutError(timeout)),
      );
      waiter.cleanup = () => {
        signal?.removeEventListener("abort", onAbort);
        clearTimeout(timer);
      };
    }
    this.#waiting.add(waiter);
    if (!this.#pumping) this.#pump();
    return promise;
  }

  /**
   * Writes the waiting calls in order, each when the socket has room: one
   * loop wakes at each drain, not every waiting call (which each wrote
   * or waited again, a wake-up per call and drain).
   */
  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#waiting.size > 0) {
        const ready = this.#frames.ready;
        if (ready !== undefined) {
          await ready.catch(() => {});
          continue;
        }
        const waiter: WaitingSend = this.#waiting.values().next().value!;
        this.#waiting.delete(waiter);
        waiter.cleanup?.();
        const { options } = waiter;
        const timeout = options?.timeout;
        const left = timeout === undefined
          ? undefined
          : Math.max(0, timeout - (performance.now() - waiter.started));
        // Spent waiting: the caller's timeout is what ran out.
        if (left === 0) waiter.reject(this.#timeoutError(timeout!));
        else if (this.#pending.size >= this.#maxPendingRequests) {
          waiter.reject(this.#tooMany());
        } else {
          try {
            waiter.resolve(
              this.#write(waiter.content, { ...options, timeout: left }),
            );
          } catch (error) {
            // E.g. a transport's trace-context carrier that throws.
            waiter.reject(error);
          }
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** A waiting call given up (abort, timeout, close) before it was sent. */
  #dropWaiting(waiter: WaitingSend, reason: unknown): void {
    if (!this.#waiting.delete(waiter)) return;
    waiter.cleanup?.();
    waiter.reject(reason);
  }

  /**
   * Settles the call a reply (`RESULT` or `ERROR`) is for.
   *
   * @throws {ProtocolError} If no call was ever made with this id.
   */
  settle(type: 1 | 2, id: unknown, content: unknown): void {
    const pending = typeof id === "number" ? this.#pending.take(id) : undefined;
    if (pending === undefined) {
      // A late reply to a call that was cancelled or timed out.
      if (
        Number.isInteger(id) && (id as number) >= 0 &&
        (id as number) < this.#nextId
      ) return;
      throw new ProtocolError(
        `Cannot handle reply from ${this.#peer}: no request has id ${
          formatPeerValue(id)
        }`,
      );
    }
    if (type === ERROR) {
      this.#settle(pending, remoteError(this.#peer, content), false);
    } else {
      this.#settle(pending, content, true);
    }
  }

  /** Rejects every waiting call with `reason`, and every call made from now on. */
  close(reason: ConnectionClosedError): void {
    this.#closeReason = reason;
    this.abandon(reason);
  }

  /**
   * Rejects every waiting call with `reason` and forgets it (a late reply
   * is dropped); calls made from now on are sent as usual.
   */
  abandon(reason: unknown): void {
    for (const waiter of this.#waiting) this.#dropWaiting(waiter, reason);
    for (const pending of this.#pending.clear()) {
      this.#settle(pending, reason, false);
    }
  }

  /** A call that will get no reply it waits for: forget it (a late reply is dropped). */
  #giveUp(id: number, pending: PendingCall, reason: unknown): void {
    if (this.#pending.get(id) === pending) this.#pending.take(id);
    this.#settle(pending, reason, false);
  }

  #settle(pending: PendingCall, outcome: unknown, ok: boolean): void {
    if (pending.done) return;
    pending.done = true;
    pending.cleanup?.();
    if (ok) pending.resolve(outcome);
    else pending.reject(outcome);
  }
}

/** The calls of each channel, for {@linkcode abandonCalls}. */
export const outgoingCallsOf: WeakMap<object, OutgoingCalls> = new WeakMap();

/**
 * Rejects the calls waiting on `channel` with `reason` and forgets them,
 * leaving the channel open: a container that shuts down rejects its
 * pending calls at once, then still stops its children over their links.
 */
export function abandonCalls(channel: object, reason: unknown): void {
  outgoingCallsOf.get(channel)?.abandon(reason);
}
