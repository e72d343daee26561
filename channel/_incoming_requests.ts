import type { Codec } from "../codecs/codec.ts";
import type { ConnectionClosedError } from "../errors.ts";
import { checkCount } from "./_channel_options.ts";
import type { FrameWriter } from "./_frame_writer.ts";
import type { MessageWriter } from "./_message_writer.ts";
import { Queue } from "./_queue.ts";
import { RecvWaiters } from "./_recv_waiters.ts";
import { replyFailure } from "./_reply_failure.ts";
import {
  atUnansweredBudget,
  chargeUnanswered,
  releaseUnanswered,
  stopWaitingUnanswered,
  waitUnanswered,
} from "./_unanswered_budget.ts";
import { Request, RESOLVED } from "./request.ts";
import type { TraceContextCarrier } from "./transport.ts";

/** Options of {@linkcode IncomingRequests}. */
export interface IncomingRequestsOptions {
  codec: Codec;
  peer: string;
  maxQueuedRequests: number;
  maxConcurrentRequests: number;
  maxUnansweredSize: number;
  /** Turns what `Request.fail` is given into the error reply's content. */
  formatError: (error: unknown) => unknown;
  /** Aborts when the channel closes; every request's `signal`. */
  signal: AbortSignal;
  /** Where trace contexts travel beside requests, if the transport has room. */
  carrier: TraceContextCarrier | undefined;
  /** Closes the channel: a reply could not be sent and the peer must not wait for it. */
  fail: (error: unknown) => void;
}

/**
 * A channel's requests from its peer: queues them for `recv` (or hands them
 * to a waiting one), sends their replies, counts those not answered yet
 * (in this channel and against the process-wide budget) and says when
 * reading must wait for them.
 */
export class IncomingRequests {
  #writer: MessageWriter;
  #frames: FrameWriter;
  /** The channel's calls waiting for a reply. */
  #calls: { readonly size: number };
  #codec: Codec;
  #peer: string;
  #formatError: (error: unknown) => unknown;
  #signal: AbortSignal;
  #carrier: TraceContextCarrier | undefined;
  #fail: (error: unknown) => void;
  #requests = new Queue<Request>();
  #waiters = new RecvWaiters();
  #maxQueuedRequests: number;
  #maxConcurrentRequests: number;
  #maxUnansweredSize: number;
  /** The decoded cost of the requests in {@linkcode IncomingRequests.#unanswered}. */
  #unansweredSize = 0;
  /** Requests received and not answered yet; close() waits for them. */
  #unanswered = 0;
  #allAnswered: PromiseWithResolvers<void> | null = null;
  #resumeReading: PromiseWithResolvers<void> | null = null;
  /** The `frames.ready` a reaction already watches (see `blocked`). */
  #watchedDrain: Promise<void> | undefined = undefined;
  #closeReason: ConnectionClosedError | null = null;
  #closedError: unknown = undefined;

  constructor(
    writer: MessageWriter,
    calls: { readonly size: number },
    options: IncomingRequestsOptions,
  ) {
    this.#writer = writer;
    this.#frames = writer.frames;
    this.#calls = calls;
    this.#codec = options.codec;
    this.#peer = options.peer;
    this.#formatError = options.formatError;
    this.#signal = options.signal;
    this.#carrier = options.carrier;
    this.#fail = options.fail;
    this.#maxQueuedRequests = options.maxQueuedRequests;
    this.#maxConcurrentRequests = options.maxConcurrentRequests;
    this.#maxUnansweredSize = options.maxUnansweredSize;
  }

  /** Requests received and not answered yet. */
  get unanswered(): number {
    return this.#unanswered;
  }

  /** Requests received and not taken yet. */
  get queued(): number {
    return this.#requests.length;
  }

  /** See `Channel.maxConcurrentRequests`. */
  get maxConcurrentRequests(): number {
    return this.#maxConcurrentRequests;
  }

  set maxConcurrentRequests(value: number) {
    this.#maxConcurrentRequests = checkCount(value, "maxConcurrentRequests");
    this.#wake();
  }

  /** Takes a request of decoded cost `size` from the peer. */
  receive(id: unknown, content: unknown, size: number): void {
    // While closing, new requests are not taken: the peer's call gets
    // ConnectionClosedError when the connection closes.
    if (this.#closeReason !== null) return;
    this.#unanswered++;
    this.#unansweredSize += size;
    chargeUnanswered(size);
    const request = new Request(content, {
      id,
      respond: this.#respond,
      formatError: this.#formatError,
      signal: this.#signal,
      size,
      traceContext: this.#carrier === undefined || typeof id !== "number"
        ? undefined
        : this.#carrier.incoming(id),
    });
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve(request);
      return;
    }
    this.#requests.push(request);
  }

  /** See `Channel.recv`. */
  recv(signal?: AbortSignal): Promise<Request> {
    // Given up already: it takes nothing, not even a request waiting.
    if (signal?.aborted) return Promise.reject(signal.reason);
    const request = this.take();
    if (request !== undefined) return Promise.resolve(request);
    if (this.#closeReason !== null) return Promise.reject(this.#closeReason);
    if (signal !== undefined) return this.#waiters.wait(signal);
    const waiter = Promise.withResolvers<Request>();
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  /** The next queued request, if any; reading resumes once there is room. */
  take(): Request | undefined {
    const request = this.#requests.shift();
    if (request !== undefined && this.#resumeReading !== null) this.#wake();
    return request;
  }

  /** See `Channel[Symbol.asyncIterator]`. */
  iterator(): AsyncIterator<Request> {
    // By hand rather than an async generator, and a waiter that settles
    // the iterator's own promise: one promise per request.
    // A clean close ends the loop; a failure throws what closed the channel.
    const end = (): Promise<IteratorResult<Request>> =>
      this.#closedError === undefined
        ? Promise.resolve({ value: undefined, done: true })
        : Promise.reject(this.#closedError);
    return {
      next: (): Promise<IteratorResult<Request>> => {
        const request = this.take();
        if (request !== undefined) {
          return Promise.resolve({ value: request, done: false });
        }
        if (this.#closeReason !== null) return end();
        const { promise, resolve } = Promise.withResolvers<
          IteratorResult<Request>
        >();
        this.#waiters.push({
          resolve: (value) => resolve({ value, done: false }),
          reject: () => resolve(end()),
        });
        return promise;
      },
      return: (): Promise<IteratorResult<Request>> =>
        Promise.resolve({ value: undefined, done: true }),
    };
  }

  /**
   * While the channel must not read: a promise to wait on before checking
   * again. Reading waits while the socket is behind and replies are still
   * owed (the peer does not read as fast as it asks: its next requests
   * would only add replies to the queue), and while the peer's requests
   * unanswered or queued are at their limits.
   */
  blocked(): Promise<void> | undefined {
    if (this.#closeReason !== null) return undefined;
    if (this.#unanswered > 0) {
      const ready = this.#frames.ready;
      if (ready !== undefined) {
        // Settled by the drain, or by `interrupt` (a peer that half-closed
        // and reads nothing never drains it).
        const resume = this.#resumeReading ??= Promise.withResolvers<void>();
        // One reaction per drain promise, however often the wait is woken
        // (a take, a reply) and checks again: it wakes the current wait.
        if (this.#watchedDrain !== ready) {
          this.#watchedDrain = ready;
          const settle = (): void => {
            if (this.#watchedDrain === ready) this.#watchedDrain = undefined;
            this.interrupt();
          };
          ready.then(settle, settle);
        }
        return resume.promise;
      }
    }
    if (!this.#overLimit()) return undefined;
    this.#resumeReading ??= Promise.withResolvers<void>();
    return this.#resumeReading.promise;
  }

  /** See `ReadLoopHost.overBudget`. */
  overBudget(): Promise<void> | undefined {
    if (
      this.#closeReason !== null || this.#calls.size !== 0 ||
      !atUnansweredBudget()
    ) return undefined;
    waitUnanswered(this.#wakeForBudget);
    this.#resumeReading ??= Promise.withResolvers<void>();
    return this.#resumeReading.promise;
  }

  /**
   * Ends a read loop's wait (for the limits or the socket) at once: its
   * peer is gone, and it checks why it woke.
   */
  interrupt(): void {
    const resume = this.#resumeReading;
    if (resume === null) return;
    this.#resumeReading = null;
    resume.resolve();
  }

  /** A call was made: reading paused by the process-wide budget goes on. */
  called(): void {
    if (this.#resumeReading !== null) this.#wake();
  }

  #overLimit(): boolean {
    // A channel waiting for replies reads on (a handler may wait for them
    // to answer): beyond the budget, it only holds its own limit's worth.
    if (this.#calls.size === 0 && atUnansweredBudget()) {
      if (this.#closeReason === null) waitUnanswered(this.#wakeForBudget);
      return true;
    }
    return this.#unanswered >= this.#maxConcurrentRequests ||
      this.#unansweredSize >= this.#maxUnansweredSize ||
      this.#requests.length >= this.#maxQueuedRequests;
  }

  /** The process-wide budget freed: check the limits again. */
  #wakeForBudget = (): void => this.#wake();

  /** Lets a read loop that waits for the limits check them again. */
  #wake(): void {
    if (this.#resumeReading !== null && !this.#overLimit()) {
      this.#resumeReading.resolve();
      this.#resumeReading = null;
    }
  }

  /** Sends a reply; synchronous unless the socket is behind (see `Responder`). */
  #respond = (
    type: 1 | 2,
    id: unknown,
    content: unknown,
    size = 0,
  ): Promise<void> => {
    if (this.#frames.ready !== undefined) {
      return this.#respondLater(type, id, content, size);
    }
    let written: Promise<void> | undefined;
    try {
      written = this.#writer.write([type, id, content], true);
    } catch (error) {
      return Promise.reject(this.#replyError(type, id, content, error, size));
    }
    if (written === undefined) {
      this.#answered(size);
      return RESOLVED;
    }
    // An async codec, or the socket fell behind with this reply.
    this.#release(size);
    return this.#settleReply(type, id, content, written, size);
  };

  async #respondLater(
    type: 1 | 2,
    id: unknown,
    content: unknown,
    size: number,
  ): Promise<void> {
    // The handler has answered: the reply waits for this peer to read, and
    // must not hold the budgets meanwhile (this connection does not read
    // while it waits, and writeTimeout bounds the wait).
    this.#release(size);
    let written: Promise<void> | undefined;
    try {
      // Checked again on waking: replies that waited together must not all
      // be queued at once when the socket drains.
      for (
        let ready = this.#frames.ready;
        ready !== undefined;
        ready = this.#frames.ready
      ) {
        await ready.catch(() => {});
      }
      written = this.#writer.write([type, id, content], true);
    } catch (error) {
      throw this.#replyError(type, id, content, error, size, true);
    }
    await this.#settleReply(type, id, content, written, size);
  }

  async #settleReply(
    type: 1 | 2,
    id: unknown,
    content: unknown,
    written: Promise<void> | undefined,
    size: number,
  ): Promise<void> {
    try {
      await written;
    } catch (error) {
      throw this.#replyError(type, id, content, error, size, true);
    }
    this.#answered(0);
  }

  /** What a reply that could not be sent rejects with. */
  #replyError(
    type: 1 | 2,
    id: unknown,
    content: unknown,
    error: unknown,
    size: number,
    released = false,
  ): unknown {
    const failure = replyFailure(type, id, content, error, {
      peer: this.#peer,
      codec: this.#codec,
      closing: this.#closeReason !== null,
    });
    if (failure === "retry") {
      if (released) this.#charge(size);
      return error;
    }
    this.#answered(released ? 0 : size);
    if (failure !== "closed") this.#fail(failure);
    return this.#closeReason;
  }

  /** A request of decoded cost `size` is answered (or will not be). */
  #answered(size: number): void {
    this.#release(size);
    const left = --this.#unanswered;
    if (this.#resumeReading !== null) this.#wake();
    if (left !== 0) return;
    this.#frames.nudge();
    if (this.#allAnswered !== null) {
      this.#allAnswered.resolve();
      this.#allAnswered = null;
    }
  }

  /**
   * Lets go of the decoded cost `size` of a request whose handler has
   * answered: its values are the handler's no more, and a peer that does
   * not read its replies must not hold the budgets meanwhile (the
   * process-wide one paused every other connection). Its reply still
   * counts as owed.
   */
  #release(size: number): void {
    if (size === 0) return;
    this.#unansweredSize -= size;
    // After close, the channel released all it held at once.
    if (this.#closeReason === null) releaseUnanswered(size);
    if (this.#resumeReading !== null) this.#wake();
  }

  /** Charges `size` again: a reply could not be sent, and may be sent again. */
  #charge(size: number): void {
    this.#unansweredSize += size;
    if (this.#closeReason === null) chargeUnanswered(size);
  }

  /** Settles once every request taken is answered; undefined if they are. */
  allAnswered(): Promise<void> | undefined {
    if (this.#unanswered === 0) return undefined;
    this.#allAnswered ??= Promise.withResolvers<void>();
    return this.#allAnswered.promise;
  }

  /**
   * The channel closes with `reason` (`error` is what closed it, none for a
   * clean close): rejects every `recv`, drops the requests not taken and
   * lets go of the budget the rest hold.
   */
  close(reason: ConnectionClosedError, error: unknown): void {
    this.#closeReason = reason;
    this.#closedError = error;
    this.#waiters.rejectAll(reason);
    // Requests nobody took will not be answered.
    this.#unanswered -= this.#requests.length;
    this.#requests.clear();
    // What the rest still hold is their handlers' now: free the budget.
    releaseUnanswered(this.#unansweredSize);
    stopWaitingUnanswered(this.#wakeForBudget);
    this.#resumeReading?.resolve();
  }
}
