import { SerializationError } from "../errors.ts";
import { ERROR, RESULT } from "./_message.ts";
import { formatError, textless } from "./_traceback.ts";

/**
 * How a request sends its one reply (with its `size`, see
 * {@linkcode RequestOptions.size}); a channel hands one to every request.
 * It throws a `SerializationError` synchronously when the reply cannot be
 * encoded (nothing was sent), and returns {@linkcode RESOLVED} when the
 * reply was queued at once.
 */
export type Responder = (
  type: 1 | 2,
  id: unknown,
  content: unknown,
  size?: number,
) => Promise<void>;

/** Options of the {@linkcode Request} constructor. */
export interface RequestOptions {
  /** The request id as received. */
  id: unknown;
  /** Sends the reply. */
  respond: Responder;
  /** Turns what `fail` is given into the error reply's content. */
  formatError?: (error: unknown) => unknown;
  /**
   * Aborts when the caller can no longer get the reply (its channel has
   * closed); shared by the requests of one channel.
   *
   * @default {a signal that never aborts}
   */
  signal?: AbortSignal;
  /**
   * What the request is charged (its decoded cost), passed back to
   * `respond` with the reply
   * (the channel counts what unanswered requests hold).
   *
   * @default {0}
   */
  size?: number;
  /** The trace context the peer sent beside the request, if any. */
  traceContext?: Readonly<Record<string, string>>;
}

/** The signal of a request made without one. */
const NEVER: AbortSignal = new AbortController().signal;

/** The promise a {@linkcode Responder} returns when the reply was queued at once. */
export const RESOLVED: Promise<void> = Promise.resolve();

/**
 * A request received on a {@linkcode Channel}. Answer it exactly once, with
 * {@linkcode Request.reply} or {@linkcode Request.fail}.
 *
 * @example
 * ```ts
 * import { Channel, createMemoryPair } from "@aiomas/aiomas/channel";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = createMemoryPair();
 * await using client = new Channel(a);
 * await using server = new Channel(b);
 * const reply = client.send("fail");
 * const request = await server.recv();
 * const error = new Error("42");
 * error.name = "ValueError";
 * await request.fail(error);
 * await assert.rejects(reply, { name: "RemoteError", remoteName: "ValueError" });
 * ```
 */
export class Request {
  /** The decoded content of the request. */
  readonly content: unknown;
  #id: unknown;
  #respond: Responder;
  #format: (error: unknown) => unknown;
  #answered = false;
  #size: number;
  /**
   * Aborts, with a `ConnectionClosedError` as its reason, when the channel
   * that received this request closes (either side, or a failure): the
   * caller will not get the reply, so long work can stop and let go of its
   * memory. Pass it on to what the handler waits for (`fetch`, timers,
   * streams), or check `signal.aborted` / `signal.throwIfAborted()` between
   * steps. One signal serves all requests of a channel (it is
   * `Channel.signal`): do not add a listener per request without removing
   * it, or use `{ once: true }` and remove it when done.
   *
   * @example
   * ```ts
   * import { Channel, createMemoryPair } from "@aiomas/aiomas/channel";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = createMemoryPair();
   * const client = new Channel(a);
   * await using server = new Channel(b);
   * client.send("long work").catch(() => {}); // the caller will go away
   * const request = await server.recv();
   * const stopped = new Promise((resolve) => {
   *   request.signal.addEventListener("abort", () => resolve(request.signal.reason), { once: true });
   * });
   * await client.close();
   * assert.equal((await stopped as Error).name, "ConnectionClosedError");
   * assert.ok(request.signal.aborted);
   * ```
   */
  readonly signal: AbortSignal;

  /**
   * The trace context (`traceparent`, `tracestate`) the peer sent beside
   * this request, where the transport carries one (NATS); otherwise
   * undefined.
   */
  readonly traceContext: Readonly<Record<string, string>> | undefined;

  /**
   * Creates a request; channels do this, users do not.
   *
   * @param content The decoded content.
   * @param options `id` as received, the channel's `respond` function, how
   *   `fail` formats an error (default: aiomas's traceback text) and the
   *   channel's `signal`.
   */
  constructor(content: unknown, options: RequestOptions) {
    this.content = content;
    this.#id = options.id;
    this.#respond = options.respond;
    this.#format = options.formatError ?? formatError;
    this.signal = options.signal ?? NEVER;
    this.#size = options.size ?? 0;
    this.traceContext = options.traceContext;
  }

  /** Whether a reply has been sent. */
  get answered(): boolean {
    return this.#answered;
  }

  /**
   * Sends the result.
   *
   * @param value The result; it must be encodable by the channel's codec.
   * @returns A promise that settles once the reply is queued for sending.
   * @throws {TypeError} If the request was answered already.
   * @throws {SerializationError} If `value` cannot be encoded; nothing was
   *   sent and the request may still be answered (e.g. with `fail`).
   * @throws {ConnectionClosedError} If the channel is closed.
   */
  reply(value: unknown): Promise<void> {
    return this.#send(RESULT, value);
  }

  /**
   * Sends an error. The peer gets a traceback text whose last line is
   * `"<error.name>: <error.message>"`, which Python shows as a
   * `RemoteException` and this library as a `RemoteError` (on a channel
   * with `errorFormat: "mosaik"`: `[name, message, ...traceback lines]`).
   * The message is cut at 10 000 characters and the traceback at 100
   * frames; a text still above the channel's `maxFrameSize` is replaced by
   * `"<name>: (its text was above maxFrameSize)"`.
   *
   * @param error The error (any value; non-errors are sent as `Error: <value>`).
   * @returns A promise that settles once the reply is queued for sending.
   * @throws {TypeError} If the request was answered already.
   * @throws {ConnectionClosedError} If the channel is closed.
   */
  fail(error: unknown): Promise<void> {
    const sent = this.#send(ERROR, this.#format(error));
    if (sent === RESOLVED) return sent;
    return sent.catch((failure) => {
      // Its text is above maxFrameSize (an error text always encodes):
      // the peer still gets an error, of the same name. (When the id is
      // what is too large, the channel closes instead.)
      if (!(failure instanceof SerializationError)) throw failure;
      return this.#send(ERROR, this.#format(textless(error)));
    });
  }

  #send(type: 1 | 2, content: unknown): Promise<void> {
    if (this.#answered) {
      return Promise.reject(
        new TypeError("Cannot reply: the request was answered already"),
      );
    }
    this.#answered = true;
    let sent: Promise<void>;
    try {
      sent = this.#respond(type, this.#id, content, this.#size);
    } catch (error) {
      // Encoding failed before anything was sent: the request is still open.
      if (error instanceof SerializationError) this.#answered = false;
      return Promise.reject(error);
    }
    if (sent === RESOLVED) return sent;
    return sent.catch((error) => {
      if (error instanceof SerializationError) this.#answered = false;
      throw error;
    });
  }
}
