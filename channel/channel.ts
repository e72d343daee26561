import type { Codec } from "../codecs/codec.ts";
import { type EncodeParts, partsEncoders } from "../codecs/_encode_parts.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import {
  ConnectionClosedError,
  ProtocolError,
  SerializationError,
} from "../errors.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "./_frame_parser.ts";
import { FrameWriter } from "./_frame_writer.ts";
import {
  type ChannelOptions,
  type ChannelStats,
  checkCount,
  checkTimeout,
  type CloseOptions,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_FRAME_TIMEOUT,
  DEFAULT_MAX_UNANSWERED_SIZE,
  type SendOptions,
} from "./_channel_options.ts";
import {
  atUnansweredBudget,
  chargeUnanswered,
  releaseUnanswered,
  stopWaitingUnanswered,
  waitUnanswered,
} from "./_unanswered_budget.ts";
import { codecName, usesEncodeView } from "./_codec_use.ts";
import {
  checkMessage,
  ERROR,
  formatPeerValue,
  remoteError,
  REQUEST,
} from "./_message.ts";
import { PendingTable } from "./_pending_table.ts";
import { Queue } from "./_queue.ts";
import { ReadLoop, type ReadLoopHost } from "./_read_loop.ts";
import { Request, RESOLVED } from "./request.ts";
import { errorFormatter } from "./_traceback.ts";

export {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_FRAME_TIMEOUT,
  DEFAULT_MAX_UNANSWERED_SIZE,
  UNREPORTED_COST_FACTOR,
} from "./_channel_options.ts";
export type {
  ChannelOptions,
  ChannelStats,
  CloseOptions,
  SendOptions,
} from "./_channel_options.ts";
import type { TraceContextCarrier, Transport } from "./transport.ts";

/** A `recv()` or `for await` waiting for a request. */
interface Waiter {
  resolve(request: Request): void;
  reject(reason: unknown): void;
}

interface Pending {
  readonly id: number;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  done: boolean;
  cleanup: (() => void) | undefined;
}

/**
 * A request/reply connection: the aiomas `Channel`, on Web Streams.
 *
 * Either side sends requests with {@linkcode Channel.send} and receives the
 * peer's requests with {@linkcode Channel.recv} or `for await`. Replies may
 * come in any order. Bad input from the peer (see `ProtocolError`) closes
 * only this channel, with the error in {@linkcode Channel.closed}.
 *
 * @example
 * ```ts
 * import { Channel, createMemoryPair } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = createMemoryPair();
 * await using client = new Channel(a);
 * await using server = new Channel(b);
 * const replies = Promise.all([client.send(1), client.send(2)]);
 * const first = await server.recv();
 * const second = await server.recv();
 * await second.reply(20); // replies in any order
 * await first.reply(10);
 * assert.deepEqual(await replies, [10, 20]);
 * ```
 */
export class Channel implements AsyncDisposable, AsyncIterable<Request> {
  /** The codec of this channel. */
  readonly codec: Codec;
  /** The peer as seen locally (`RemoteError.origin`). */
  readonly peer: string;
  #transport: Transport;
  /** Where trace contexts travel beside requests, if the transport has room. */
  #carrier: TraceContextCarrier | undefined;
  #writer: FrameWriter;
  /** Whether to encode with `codec.encodeView` (see {@linkcode usesEncodeView}). */
  #encodeView: boolean;
  /** The codec's internal encoder into parts, if it has one (MsgPack). */
  #encodeParts: EncodeParts | undefined;
  #nextId = 0;
  #pending = new PendingTable<Pending>();
  #requests = new Queue<Request>();
  #waiters = new Queue<Waiter>();
  #maxQueuedRequests: number;
  #maxConcurrentRequests: number;
  #maxPendingRequests: number;
  #maxUnansweredSize: number;
  /** The decoded cost of the requests in {@linkcode Channel.#unanswered}. */
  #unansweredSize = 0;
  /** Aborts when the channel closes; every request's `signal`. */
  #abort = new AbortController();
  #formatError: (error: unknown) => unknown;
  /** Requests received and not answered yet; close() waits for them. */
  #unanswered = 0;
  #allAnswered: PromiseWithResolvers<void> | null = null;
  /** Set once nothing may be written any more, replies included. */
  #final = false;
  #resumeReading: PromiseWithResolvers<void> | null = null;
  #sendChain: Promise<void> | null = null;
  #closeReason: ConnectionClosedError | null = null;
  #closedError: unknown = undefined;
  #closing: Promise<void> | null = null;
  /**
   * Settles when reading ends while a graceful close waits: the peer has
   * gone, so the replies that close waits for can no longer reach it.
   */
  #readEnded: PromiseWithResolvers<"gone"> | null = null;
  #closed = Promise.withResolvers<void>();
  #readLoop: ReadLoop;
  /** Sends a reply; synchronous unless the socket is behind (see `Responder`). */
  #respond = (
    type: 1 | 2,
    id: unknown,
    content: unknown,
    size = 0,
  ): Promise<void> => {
    if (this.#writer.ready !== undefined) {
      return this.#respondLater(type, id, content, size);
    }
    let written: Promise<void> | undefined;
    try {
      written = this.#write([type, id, content], true);
    } catch (error) {
      return Promise.reject(this.#replyError(type, id, error, size));
    }
    if (written === undefined) {
      this.#answered(size);
      return RESOLVED;
    }
    // An async codec, or the socket fell behind with this reply.
    return this.#settleReply(type, id, written, size);
  };

  async #respondLater(
    type: 1 | 2,
    id: unknown,
    content: unknown,
    size: number,
  ): Promise<void> {
    let written: Promise<void> | undefined;
    try {
      // Checked again on waking: replies that waited together must not all
      // be queued at once when the socket drains.
      for (
        let ready = this.#writer.ready;
        ready !== undefined;
        ready = this.#writer.ready
      ) {
        await ready.catch(() => {});
      }
      written = this.#write([type, id, content], true);
    } catch (error) {
      throw this.#replyError(type, id, error, size);
    }
    await this.#settleReply(type, id, written, size);
  }

  async #settleReply(
    type: 1 | 2,
    id: unknown,
    written: Promise<void> | undefined,
    size: number,
  ): Promise<void> {
    try {
      await written;
    } catch (error) {
      throw this.#replyError(type, id, error, size);
    }
    this.#answered(size);
  }

  /** What a reply that could not be sent rejects with. */
  #replyError(
    type: 1 | 2,
    id: unknown,
    error: unknown,
    size: number,
  ): unknown {
    if (error instanceof SerializationError) {
      // Not sent: the request stays open and may be answered again (fail).
      if (type !== ERROR) return error;
      // An error text always encodes: it is the id that cannot be sent back.
      this.#answered(size);
      this.#fail(
        new ProtocolError(
          `Cannot answer request ${
            formatPeerValue(id)
          } from ${this.peer}: its id cannot be sent back (${error.message})`,
          { cause: error },
        ),
      );
      return this.#closeReason;
    }
    this.#answered(size);
    // A reply waiting for the transport to drain gets the raw write error
    // (e.g. BrokenPipe) when the connection fails: report the close instead.
    if (this.#closeReason !== null) return this.#closeReason;
    // The codec failed otherwise (e.g. its module did not load): the peer
    // must not wait for this reply in silence.
    this.#fail(
      new ProtocolError(
        `Cannot encode reply to ${this.peer} with ${codecName(this.codec)}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      ),
    );
    return this.#closeReason;
  }

  /**
   * Starts a channel over a transport; it reads from it at once.
   *
   * @param transport The byte streams (e.g. a `Deno.Conn`).
   * @param options See {@linkcode ChannelOptions}.
   */
  constructor(transport: Transport, options: ChannelOptions = {}) {
    this.codec = options.codec ?? new JsonCodec();
    this.#encodeView = usesEncodeView(this.codec);
    this.#encodeParts = partsEncoders.get(this.codec);
    this.peer = options.peer ?? "peer";
    this.#transport = transport;
    this.#carrier = transport.traceContext;
    this.#maxQueuedRequests = options.maxQueuedRequests ?? 1024;
    this.#maxConcurrentRequests = checkCount(
      options.maxConcurrentRequests ?? 1024,
      "maxConcurrentRequests",
    );
    this.#maxUnansweredSize = checkCount(
      options.maxUnansweredSize ?? DEFAULT_MAX_UNANSWERED_SIZE,
      "maxUnansweredSize",
    );
    this.#maxPendingRequests = options.maxPendingRequests ?? 65536;
    this.#formatError = errorFormatter(options.errorFormat ?? "aiomas");
    // A transport's own read/write (a Deno.Conn's) skip the stream
    // machinery, which costs more than everything else per small message.
    // Only `close` can end a stuck `write` or tell the peer we are done:
    // without it, use the streams.
    const canClose = typeof transport.close === "function";
    const write = transport.write;
    this.#writer = new FrameWriter(
      typeof write === "function" && canClose
        ? write.bind(transport)
        : transport.writable,
      {
        highWaterMark: options.highWaterMark ?? 1024 * 1024,
        onError: (error) => this.#fail(error),
        // Replies to the requests just read are coming: write them together.
        holding: () => this.#unanswered > 0,
      },
    );
    this.#closed.promise.catch(() => {});
    // Bytes are read into a reused buffer; frames are decoded (and so
    // copied out) before the next read.
    this.#readLoop = new ReadLoop(transport, this.#host(), {
      codec: this.codec,
      peer: this.peer,
      maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
      frameTimeout: checkTimeout(
        options.frameTimeout ?? DEFAULT_FRAME_TIMEOUT,
        "frameTimeout",
      ),
      idleTimeout: checkTimeout(options.idleTimeout ?? Infinity, "idleTimeout"),
    });
  }

  /** What the read loop asks of this channel. */
  #host(): ReadLoopHost {
    return {
      closing: () => this.#closeReason !== null,
      dispatch: (message, size) => this.#dispatch(message, size),
      blocked: () => this.#blocked(),
      overBudget: () => this.#overBudget(),
      busy: () =>
        this.#pending.size > 0 || this.#unanswered > 0 || !this.#writer.idle,
      flush: () => this.#writer.start(),
      ended: () =>
        this.#shutdown(
          new ConnectionClosedError(`Connection closed by ${this.peer}`),
          undefined,
          // The peer is gone: replies could not reach it.
          0,
        ),
      gone: (error) => {
        // A read that failed or ended: the peer is gone. Bad input just
        // stops reading.
        if (!(error instanceof ProtocolError)) this.#readEnded?.resolve("gone");
      },
      fail: (error) => this.#fail(error),
    };
  }

  /**
   * While the channel must not read: a promise to wait on before checking
   * again. Reading waits while the socket is behind and replies are still
   * owed (the peer does not read as fast as it asks: its next requests
   * would only add replies to the queue), and while the peer's requests
   * unanswered or queued are at their limits.
   */
  #blocked(): Promise<void> | undefined {
    if (this.#closeReason !== null) return undefined;
    if (this.#unanswered > 0) {
      const ready = this.#writer.ready;
      if (ready !== undefined) return ready.catch(() => {});
    }
    if (!this.#overLimit()) return undefined;
    this.#resumeReading ??= Promise.withResolvers<void>();
    return this.#resumeReading.promise;
  }

  /** See {@linkcode ReadLoopHost.overBudget}. */
  #overBudget(): Promise<void> | undefined {
    if (
      this.#closeReason !== null || this.#pending.size !== 0 ||
      !atUnansweredBudget()
    ) return undefined;
    waitUnanswered(this.#wakeForBudget);
    this.#resumeReading ??= Promise.withResolvers<void>();
    return this.#resumeReading.promise;
  }

  #overLimit(): boolean {
    // A channel waiting for replies reads on (a handler may wait for them
    // to answer): beyond the budget, it only holds its own limit's worth.
    if (this.#pending.size === 0 && atUnansweredBudget()) {
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

  /**
   * A signal that aborts, with a `ConnectionClosedError`, when the channel
   * closes (either side, or a failure). It is every request's
   * {@linkcode Request.signal}.
   */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * See {@linkcode ChannelOptions.maxConcurrentRequests}; may be changed
   * at any time (e.g. by an RPC layer on top).
   *
   * @throws {RangeError} If set to anything but a whole number from 1 up.
   */
  get maxConcurrentRequests(): number {
    return this.#maxConcurrentRequests;
  }

  set maxConcurrentRequests(value: number) {
    this.#maxConcurrentRequests = checkCount(value, "maxConcurrentRequests");
    this.#wake();
  }

  /**
   * Settles when the channel has closed: resolves after `close()` or the
   * peer closing the connection, rejects with the error that closed it
   * otherwise (e.g. a `ProtocolError`).
   */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Whether the channel is closed or closing. */
  get isClosed(): boolean {
    return this.#closeReason !== null;
  }

  /**
   * What the channel has done so far, for metrics: bytes read and written
   * (frame headers included) and the peer's requests held.
   */
  get stats(): ChannelStats {
    return {
      bytesReceived: this.#readLoop.bytesRead,
      bytesSent: this.#writer.bytesWritten,
      requestsQueued: this.#requests.length,
      requestsUnanswered: this.#unanswered,
    };
  }

  /**
   * Sends a request and waits for the reply.
   *
   * @param content The request; it must be encodable by the codec.
   * @param options Cancellation: `signal` and `timeout` (milliseconds).
   * @returns The peer's result.
   * @throws {RemoteError} If the peer answered with an error.
   * @throws {ConnectionClosedError} If the channel closed before the reply.
   * @throws {SerializationError} If `content` cannot be encoded (nothing is sent).
   * @throws {DOMException} `AbortError`/`TimeoutError` when cancelled.
   */
  send(content: unknown, options?: SendOptions): Promise<unknown> {
    if (this.#closeReason !== null) return Promise.reject(this.#closeReason);
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#pending.size >= this.#maxPendingRequests) {
      return Promise.reject(
        new RangeError(
          `Cannot send: ${this.#pending.size} requests to ${this.peer} are pending (maxPendingRequests)`,
        ),
      );
    }
    // Backpressure: while the socket is behind, wait before queuing more.
    const ready = this.#writer.ready;
    if (ready !== undefined) {
      return this.#sendWhenReady(ready, content, options);
    }
    const id = this.#nextId;
    let written: Promise<void> | undefined;
    try {
      written = this.#write([REQUEST, id, content], false);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#nextId++;
    // Before the flush: the frame reaches the transport a microtask later.
    const traceContext = options?.traceContext;
    if (traceContext !== undefined) this.#carrier?.outgoing(id, traceContext);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const pending: Pending = {
      id,
      resolve,
      reject,
      done: false,
      cleanup: undefined,
    };
    this.#pending.add(pending);
    // Paused by the process-wide budget: its reply must still be read.
    if (this.#resumeReading !== null) this.#wake();
    written?.catch((error) => this.#giveUp(id, pending, error));
    const timeout = options?.timeout;
    if (signal !== undefined || timeout !== undefined) {
      const onAbort = () => this.#giveUp(id, pending, signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      const timer = timeout === undefined ? undefined : setTimeout(() => {
        this.#giveUp(
          id,
          pending,
          this.#timeoutError(timeout),
        );
      }, timeout);
      pending.cleanup = () => {
        signal?.removeEventListener("abort", onAbort);
        clearTimeout(timer);
      };
    }
    return promise;
  }

  #timeoutError(timeout: number): DOMException {
    return new DOMException(
      `Request to ${this.peer} timed out after ${timeout} ms`,
      "TimeoutError",
    );
  }

  /** `send` once the socket has drained; cancellation covers the wait too. */
  async #sendWhenReady(
    ready: Promise<void>,
    content: unknown,
    options: SendOptions | undefined,
  ): Promise<unknown> {
    const started = performance.now();
    const signal = options?.signal;
    const timeout = options?.timeout;
    const gaveUp = Promise.withResolvers<never>();
    const onAbort = () => gaveUp.reject(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = timeout === undefined ? undefined : setTimeout(() => {
      gaveUp.reject(
        this.#timeoutError(timeout),
      );
    }, timeout);
    try {
      await Promise.race([ready.catch(() => {}), gaveUp.promise]);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      clearTimeout(timer);
    }
    const left = timeout === undefined
      ? undefined
      : Math.max(0, timeout - (performance.now() - started));
    return await this.send(content, { ...options, timeout: left });
  }

  /**
   * Waits for the next request from the peer.
   *
   * @returns The request.
   * @throws {ConnectionClosedError} If the channel is closed (or closes while waiting).
   */
  recv(): Promise<Request> {
    const request = this.#take();
    if (request !== undefined) return Promise.resolve(request);
    if (this.#closeReason !== null) return Promise.reject(this.#closeReason);
    const waiter = Promise.withResolvers<Request>();
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  /**
   * Takes the next request from the peer if one has arrived, without
   * waiting: a server loop can handle every request of a chunk in one go.
   *
   * @returns The request, or undefined if none is waiting (or the channel is closed).
   *
   * @example
   * ```ts
   * import { Channel, createMemoryPair } from "@aiomas/aiomas/channel";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = createMemoryPair();
   * await using client = new Channel(a);
   * await using server = new Channel(b);
   * assert.equal(server.tryRecv(), undefined);
   * const replies = Promise.all([client.send(1), client.send(2)]);
   * const first = await server.recv();
   * const second = server.tryRecv() ?? await server.recv();
   * await first.reply(10);
   * await second.reply(20);
   * assert.deepEqual(await replies, [10, 20]);
   * ```
   */
  tryRecv(): Request | undefined {
    return this.#take();
  }

  /** The next queued request, if any; reading resumes once there is room. */
  #take(): Request | undefined {
    const request = this.#requests.shift();
    if (request !== undefined && this.#resumeReading !== null) this.#wake();
    return request;
  }

  /**
   * Yields the peer's requests until the channel closes. The loop ends when
   * the channel is closed by either side, and throws the error that closed
   * it otherwise.
   *
   * @returns An async iterator of requests.
   */
  [Symbol.asyncIterator](): AsyncIterator<Request> {
    // By hand rather than an async generator, and a waiter that settles
    // the iterator's own promise: one promise per request.
    // A clean close ends the loop; a failure throws what closed the channel.
    const end = (): Promise<IteratorResult<Request>> =>
      this.#closedError === undefined
        ? Promise.resolve({ value: undefined, done: true })
        : Promise.reject(this.#closedError);
    return {
      next: (): Promise<IteratorResult<Request>> => {
        const request = this.#take();
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
   * Closes the channel gracefully: rejects every pending `send` and `recv`
   * with `ConnectionClosedError` at once, then waits (at most
   * `options.timeout` ms) until the requests already taken with `recv` are
   * answered and queued frames are written, or until the peer goes away,
   * then closes the transport. Requests received but not taken yet are
   * dropped. Idempotent.
   *
   * @param options `timeout` in milliseconds (default 1000).
   * @returns A promise that settles when everything is released.
   */
  close(options?: CloseOptions): Promise<void> {
    this.#shutdown(
      new ConnectionClosedError(`Channel to ${this.peer} closed`),
      undefined,
      options?.timeout ?? DEFAULT_CLOSE_TIMEOUT,
    );
    return this.#closing!;
  }

  /**
   * Closes the channel (for `await using`).
   *
   * @returns A promise that settles when everything is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Encodes and queues one message; throws synchronously if encoding fails.
   * Replies may still be written while the channel is closing.
   */
  #write(message: unknown[], reply: boolean): Promise<void> | undefined {
    if (this.#final || (!reply && this.#closeReason !== null)) {
      throw this.#closeReason;
    }
    const codec = this.codec;
    let encoded: Uint8Array | Promise<Uint8Array>;
    if (this.#sendChain === null) {
      // Copied into the write batch at once: no buffer per message.
      if (this.#encodeParts !== undefined) {
        // Large byte strings are written from where they are, not copied.
        // The array is the codec's (reused while there is one part).
        const parts = this.#encodeParts(message);
        return parts.length === 1
          ? this.#writer.write(parts[0])
          : this.#writer.writeParts(parts);
      }
      if (this.#encodeView) {
        return this.#writer.write(codec.encodeView!(message));
      }
      encoded = codec.encode(message);
      if (encoded instanceof Uint8Array) {
        return this.#writer.write(encoded, true);
      }
    } else {
      encoded = codec.encode(message);
    }
    // The chain handles a failed async encoding when it gets there; until
    // then it must not count as unhandled.
    if (encoded instanceof Promise) encoded.catch(() => {});
    // An async codec: keep frames in call order.
    const chain = (this.#sendChain ?? Promise.resolve()).then(async () => {
      const bytes = await encoded;
      // Written even if close() came meanwhile: close() waits for this chain
      // so that frames queued before it (replies included) still go out. After
      // a failure the writer throws its error instead.
      await this.#writer.write(bytes, true);
    });
    const tail = chain.catch(() => {}).then(() => {
      if (this.#sendChain === tail) this.#sendChain = null;
    });
    this.#sendChain = tail;
    return chain;
  }

  /** A call that will get no reply it waits for: forget it (a late reply is dropped). */
  #giveUp(id: number, pending: Pending, reason: unknown): void {
    if (this.#pending.get(id) === pending) this.#pending.take(id);
    this.#settle(pending, reason, false);
  }

  /** A request of decoded cost `size` is answered (or will not be). */
  #answered(size: number): void {
    this.#unansweredSize -= size;
    // After close, the channel released all it held at once.
    if (this.#closeReason === null) releaseUnanswered(size);
    const left = --this.#unanswered;
    if (this.#resumeReading !== null) this.#wake();
    if (left !== 0) return;
    this.#writer.nudge();
    if (this.#allAnswered !== null) {
      this.#allAnswered.resolve();
      this.#allAnswered = null;
    }
  }

  #settle(pending: Pending, outcome: unknown, ok: boolean): void {
    if (pending.done) return;
    pending.done = true;
    pending.cleanup?.();
    if (ok) pending.resolve(outcome);
    else pending.reject(outcome);
  }

  #dispatch(value: unknown, size: number): void {
    // Indexed, not destructured: no iterator per message.
    const message = checkMessage(value);
    const type = message[0];
    const id = message[1];
    const content = message[2];
    if (type === REQUEST) {
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
        signal: this.#abort.signal,
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
      return;
    }
    const pending = typeof id === "number" ? this.#pending.take(id) : undefined;
    if (pending === undefined) {
      // A late reply to a call that was cancelled or timed out.
      if (
        Number.isInteger(id) && (id as number) >= 0 &&
        (id as number) < this.#nextId
      ) return;
      throw new ProtocolError(
        `Cannot handle reply from ${this.peer}: no request has id ${
          formatPeerValue(id)
        }`,
      );
    }
    if (type === ERROR) {
      this.#settle(pending, remoteError(this.peer, content), false);
    } else {
      this.#settle(pending, content, true);
    }
  }

  #fail(error: unknown): void {
    const reason = new ConnectionClosedError(
      `Connection to ${this.peer} failed: ${
        error instanceof Error ? error.message : error
      }`,
      { cause: error },
    );
    this.#shutdown(reason, error, 0);
  }

  /**
   * Closes once; `error` is what `closed` rejects with (none for a clean
   * close), `timeout` how long a clean close may wait for replies and writes.
   */
  #shutdown(
    reason: ConnectionClosedError,
    error: unknown,
    timeout: number,
  ): void {
    if (this.#closeReason !== null) return;
    this.#closeReason = reason;
    this.#closedError = error;
    for (const pending of this.#pending.clear()) {
      this.#settle(pending, reason, false);
    }
    for (
      let waiter = this.#waiters.shift();
      waiter;
      waiter = this.#waiters.shift()
    ) {
      waiter.reject(reason);
    }
    // Requests nobody took will not be answered.
    this.#unanswered -= this.#requests.length;
    this.#requests.clear();
    // What the rest still hold is their handlers' now: free the budget.
    releaseUnanswered(this.#unansweredSize);
    stopWaitingUnanswered(this.#wakeForBudget);
    this.#resumeReading?.resolve();
    this.#readLoop.stop();
    this.#abort.abort(reason);
    this.#closing = this.#release(error, timeout);
  }

  async #release(error: unknown, timeout: number): Promise<void> {
    if (error === undefined) {
      const graceful = (async () => {
        if (this.#unanswered > 0) {
          this.#allAnswered ??= Promise.withResolvers<void>();
          await this.#allAnswered.promise;
        }
        this.#final = true;
        await this.#sendChain;
        await this.#writer.drained();
      })();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), timeout);
      });
      this.#readEnded = Promise.withResolvers<"gone">();
      const outcome = await Promise.race([
        graceful.then(() => "done" as const),
        late,
        this.#readEnded.promise,
      ]);
      clearTimeout(timer);
      this.#final = true;
      // Cut the connection only if frames are stuck; unanswered requests
      // alone still allow a clean close.
      if (outcome !== "done" && !this.#writer.idle) {
        this.#writer.abort(
          new ConnectionClosedError(
            outcome === "late"
              ? `Closing the channel to ${this.peer} timed out after ${timeout} ms`
              : `Connection to ${this.peer} ended while closing`,
          ),
        );
      } else {
        await this.#writer.close();
      }
    } else {
      this.#final = true;
      this.#writer.abort(error);
    }
    // Closing the transport also ends a write stuck on a peer that does
    // not read, which an abort alone would wait for.
    this.#closeTransport();
    await this.#readLoop.cancel();
    await this.#readLoop.done;
    this.#readLoop.releaseLock();
    if (error === undefined) this.#closed.resolve();
    else this.#closed.reject(error);
  }

  #closeTransport(): void {
    try {
      this.#transport.close?.();
    } catch {
      // Gone already.
    }
  }
}
