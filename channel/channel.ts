import type { Codec } from "../codecs/codec.ts";
import { JsonCodec } from "../codecs/json_codec.ts";
import { ConnectionClosedError, ProtocolError } from "../errors.ts";
import { codecOptionsFor } from "./_codec.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "./_frame_parser.ts";
import {
  type ChannelOptions,
  type ChannelStats,
  checkChannelOptions,
  type CloseOptions,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_FRAME_TIMEOUT,
  DEFAULT_MAX_UNANSWERED_SIZE,
  DEFAULT_WRITE_TIMEOUT,
  type RecvOptions,
  type SendOptions,
} from "./_channel_options.ts";
import { releaseChannel } from "./_channel_release.ts";
import { IncomingRequests } from "./_incoming_requests.ts";
import {
  checkMessage,
  explainsItself,
  neverAnswered,
  REQUEST,
} from "./_message.ts";
import { MessageWriter } from "./_message_writer.ts";
import {
  OutgoingCalls,
  outgoingCallsOf,
  type PendingCall,
} from "./_outgoing_calls.ts";
import { PendingTable } from "./_pending_table.ts";
import { ReadLoop, type ReadLoopHost } from "./_read_loop.ts";
import type { Request } from "./request.ts";
import { errorFormatter } from "./_traceback.ts";

export {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_FRAME_TIMEOUT,
  DEFAULT_MAX_UNANSWERED_SIZE,
  DEFAULT_WRITE_TIMEOUT,
  UNREPORTED_COST_FACTOR,
} from "./_channel_options.ts";
export type {
  ChannelOptions,
  ChannelStats,
  CloseOptions,
  RecvOptions,
  SendOptions,
} from "./_channel_options.ts";
import type { Transport } from "./transport.ts";

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
  /** Encodes messages and queues their frames. */
  #writer: MessageWriter;
  /** This side's requests, waiting for the peer's replies. */
  #calls: OutgoingCalls;
  /** The peer's requests: queued, taken, answered. */
  #requests: IncomingRequests;
  /** Aborts when the channel closes; every request's `signal`. */
  #abort = new AbortController();
  #closeReason: ConnectionClosedError | null = null;
  #closing: Promise<void> | null = null;
  /**
   * Settles when reading ends while a graceful close waits: the peer has
   * gone, so the replies that close waits for can no longer reach it.
   */
  #readEnded: PromiseWithResolvers<"gone"> | null = null;
  #closed = Promise.withResolvers<void>();
  #readLoop: ReadLoop;

  /**
   * Starts a channel over a transport; it reads from it at once.
   *
   * @param transport The byte streams (e.g. a `Deno.Conn`).
   * @param options See {@linkcode ChannelOptions}.
   */
  constructor(transport: Transport, options: ChannelOptions = {}) {
    this.codec = options.codec ??
      new JsonCodec(codecOptionsFor(options.maxFrameSize));
    this.peer = options.peer ?? "peer";
    this.#transport = transport;
    const carrier = transport.traceContext;
    checkChannelOptions(options);
    const maxConcurrentRequests = options.maxConcurrentRequests ?? 1024;
    const maxUnansweredSize = options.maxUnansweredSize ??
      DEFAULT_MAX_UNANSWERED_SIZE;
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    const formatError = errorFormatter(options.errorFormat ?? "aiomas");
    // One table for both: while calls wait for replies, reading goes on
    // beyond the process-wide budget.
    const pending = new PendingTable<PendingCall>();
    this.#writer = new MessageWriter(this.codec, transport, {
      highWaterMark: options.highWaterMark ?? 1024 * 1024,
      onError: (error) => this.#fail(error),
      // Replies to the requests just read are coming: write them together.
      holding: () => this.#requests.unanswered > 0,
      maxFrameSize,
      peer: this.peer,
      writeTimeout: options.writeTimeout ?? DEFAULT_WRITE_TIMEOUT,
      // Only a peer that asked and does not read is cut: one that stops
      // reading our calls may be busy with them (their timeouts judge it),
      // and two that owe each other replies are stuck for good.
      mayCut: () => this.#requests.unanswered > 0,
    });
    this.#requests = new IncomingRequests(this.#writer, pending, {
      codec: this.codec,
      peer: this.peer,
      maxQueuedRequests: options.maxQueuedRequests ?? 1024,
      maxConcurrentRequests,
      maxUnansweredSize,
      formatError,
      signal: this.#abort.signal,
      carrier,
      fail: (error) => this.#fail(error),
    });
    this.#calls = new OutgoingCalls(this.#writer, pending, {
      peer: this.peer,
      maxPendingRequests: options.maxPendingRequests ?? 65536,
      carrier,
      reading: this.#requests,
    });
    outgoingCallsOf.set(this, this.#calls);
    this.#closed.promise.catch(() => {});
    // Frames are decoded before the next read, which may reuse the buffer
    // the bytes came in (see ReadLoop for those handed over instead).
    this.#readLoop = new ReadLoop(transport, this.#host(), {
      codec: this.codec,
      peer: this.peer,
      maxFrameSize,
      frameTimeout: options.frameTimeout ?? DEFAULT_FRAME_TIMEOUT,
      idleTimeout: options.idleTimeout ?? Infinity,
    });
  }

  /** What the read loop asks of this channel. */
  #host(): ReadLoopHost {
    return {
      closing: () => this.#closeReason !== null,
      dispatch: (value, size, gone) => {
        // Indexed, not destructured: no iterator per message.
        const message = checkMessage(value);
        const type = message[0];
        if (type === REQUEST) {
          if (!gone) this.#requests.receive(message[1], message[2], size);
        } else this.#calls.settle(type, message[1], message[2]);
      },
      blocked: () => this.#requests.blocked(),
      interrupt: () => this.#requests.interrupt(),
      overBudget: () => this.#requests.overBudget(),
      busy: () =>
        this.#calls.size > 0 || this.#requests.unanswered > 0 ||
        !this.#writer.frames.idle,
      flush: () => this.#writer.frames.start(),
      ended: () =>
        this.#shutdown(
          new ConnectionClosedError(
            `Connection closed by ${this.peer}${this.#unansweredHint()}`,
          ),
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
    return this.#requests.maxConcurrentRequests;
  }

  set maxConcurrentRequests(value: number) {
    this.#requests.maxConcurrentRequests = value;
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
      bytesSent: this.#writer.frames.bytesWritten,
      requestsQueued: this.#requests.queued,
      requestsUnanswered: this.#requests.unanswered,
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
   * @throws {RangeError} If `timeout` is not a number of milliseconds from 0 up.
   */
  send(content: unknown, options?: SendOptions): Promise<unknown> {
    return this.#calls.send(content, options);
  }

  /**
   * Waits for the next request from the peer.
   *
   * @param options `signal` stops waiting; the request that comes next
   *   stays for the next `recv`.
   * @returns The request.
   * @throws {ConnectionClosedError} If the channel is closed (or closes while waiting).
   * @throws The signal's reason when it aborts.
   *
   * @example
   * ```ts
   * import { Channel, createMemoryPair } from "@aiomas/aiomas/channel";
   * import assert from "node:assert/strict";
   *
   * await using server = new Channel(createMemoryPair()[0]);
   * // Nothing within 10 ms: given up (a request after it is kept).
   * const wait = server.recv({ signal: AbortSignal.timeout(10) });
   * await assert.rejects(wait, { name: "TimeoutError" });
   * ```
   */
  recv(options?: RecvOptions): Promise<Request> {
    return this.#requests.recv(options?.signal);
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
    return this.#requests.take();
  }

  /**
   * Yields the peer's requests until the channel closes. The loop ends when
   * the channel is closed by either side, and throws the error that closed
   * it otherwise.
   *
   * @returns An async iterator of requests.
   */
  [Symbol.asyncIterator](): AsyncIterator<Request> {
    return this.#requests.iterator();
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

  #fail(error: unknown): void {
    const reason = new ConnectionClosedError(
      `Connection to ${this.peer} failed: ${
        error instanceof Error ? error.message : error
      }${
        error instanceof ProtocolError || explainsItself(error)
          ? ""
          : this.#unansweredHint()
      }`,
      { cause: error },
    );
    this.#shutdown(reason, error, 0);
  }

  /** For calls made and not a byte received: what the peer may be. */
  #unansweredHint(): string {
    // A read that fails at once fails the channel inside the constructor.
    const heard = this.#readLoop === undefined || this.#readLoop.bytesRead > 0;
    return heard || this.#calls.size === 0 ? "" : neverAnswered(this.codec);
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
    this.#writer.close(reason);
    this.#calls.close(reason);
    this.#requests.close(reason, error);
    this.#readLoop.stop();
    this.#abort.abort(reason);
    this.#readEnded = Promise.withResolvers<"gone">();
    this.#closing = releaseChannel(
      {
        peer: this.peer,
        transport: this.#transport,
        writer: this.#writer,
        requests: this.#requests,
        readLoop: this.#readLoop,
      },
      error,
      timeout,
      this.#readEnded.promise,
    ).then(() => {
      if (error === undefined) this.#closed.resolve();
      else this.#closed.reject(error);
    });
  }
}
