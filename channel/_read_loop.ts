import { setImmediate } from "node:timers";
import type { Codec } from "../codecs/codec.ts";
import { ProtocolError } from "../errors.ts";
import { ByteSource } from "./_byte_source.ts";
import { UNREPORTED_COST_FACTOR } from "./_channel_options.ts";
import { FrameParser } from "./_frame_parser.ts";
import { LongWait } from "./_long_waits.ts";
import { ReadDeadlines } from "./_read_deadlines.ts";
import type { Transport } from "./transport.ts";

/** What a {@linkcode ReadLoop} reports to and asks of its channel. */
export interface ReadLoopHost {
  /** Whether the channel is closing: bytes read are dropped unread. */
  closing(): boolean;
  /**
   * Handles one decoded message that built at most `size` cost units; throws a
   * `ProtocolError` for a bad one. `gone`: the peer has left (its stream
   * ended while reading waited), so a request is dropped (it could not be
   * answered, and the budget it would be charged to may be spent); replies
   * are still settled.
   */
  dispatch(message: unknown, size: number, gone: boolean): void;
  /**
   * While the process-wide budget for unanswered requests is spent (and
   * this channel waits for no reply), a promise that settles when it may
   * be checked again. Checked before the bytes of each read are parsed.
   */
  overBudget(): Promise<void> | undefined;
  /**
   * While reading must wait (too many requests unanswered, replies behind
   * on the socket), a promise that settles when it may be checked again.
   */
  blocked(): Promise<void> | undefined;
  /**
   * Settles the promise of the current `blocked()` or `overBudget()` wait
   * at once (the peer is gone).
   */
  interrupt(): void;
  /** Whether anything is pending or unanswered (the connection is not idle). */
  busy(): boolean;
  /** Lets the frames queued by the messages just handled be written. */
  flush(): void;
  /** The peer ended the stream between frames. */
  ended(): void;
  /** Reading ended (cleanly or not) while the channel was closing. */
  gone(error: unknown): void;
  /** Reading failed, the input was bad or a deadline passed. */
  fail(error: unknown): void;
}

/** Options of {@linkcode ReadLoop}. */
export interface ReadLoopOptions {
  codec: Codec;
  peer: string;
  maxFrameSize: number;
  /** Milliseconds a frame may stay partial; Infinity for no limit. */
  frameTimeout: number;
  /** Milliseconds without bytes and without pending work; Infinity for none. */
  idleTimeout: number;
}

/**
 * A channel's read side: reads bytes, splits them into frames (charged to
 * the process-wide partial frame budget), decodes and dispatches them, and
 * stops reading while the channel says it is blocked (watching the peer
 * if that lasts: see `#wait`), with the deadlines of `ReadDeadlines`.
 */
export class ReadLoop {
  readonly parser: FrameParser;
  /** Bytes read from the transport so far. */
  bytesRead = 0;
  #source: ByteSource;
  #host: ReadLoopHost;
  #codec: Codec;
  #peer: string;
  #codecName: string;
  /** The frame and idle deadlines. */
  #deadlines: ReadDeadlines;
  #stopped = false;
  /** Whether a peek (see `#wait`) is pending, watched by `#watch`. */
  #watching = false;
  /** Whether the peer's stream ended (or failed) while reading waited. */
  #gone = false;
  #longWait: LongWait = new LongWait(() => this.#watch());
  /** Resumes the loop once the frames it woke have been flushed. */
  #resume: () => void = () => {};
  #afterFlush = (): void => {
    this.#host.flush();
    this.#resume();
  };
  /** Settles when the loop has ended. */
  readonly done: Promise<void>;

  constructor(
    transport: Transport,
    host: ReadLoopHost,
    options: ReadLoopOptions,
  ) {
    this.#host = host;
    this.#codec = options.codec;
    this.#peer = options.peer;
    this.#codecName = options.codec.constructor?.name || "its codec";
    this.#source = new ByteSource(transport);
    this.parser = new FrameParser(options.maxFrameSize, {
      label: options.peer,
      onCut: (error) => host.fail(error),
    });
    this.#deadlines = new ReadDeadlines({
      ...options,
      closing: () => host.closing(),
      busy: () => host.busy(),
      fail: (error) => host.fail(error),
      partial: () => this.parser.partialDescription,
    });
    this.done = this.#run();
  }

  /** Stops the deadlines and releases the partial frame (on close). */
  stop(): void {
    this.#stopped = true;
    this.#longWait.stop();
    this.#deadlines.stop();
    this.parser.release();
  }

  /** Ends a pending stream read. */
  cancel(): Promise<void> {
    return this.#source.cancel();
  }

  /** Releases the stream's reader, once the loop is done. */
  releaseLock(): void {
    this.#source.releaseLock();
  }

  async #run(): Promise<void> {
    const frames: Uint8Array[] = [];
    const source = this.#source;
    const parser = this.parser;
    const host = this.#host;
    const codec = this.#codec;
    const deadlines = this.#deadlines;
    const direct = source.direct;
    /** How many bytes the last read into the read buffer gave. */
    let n = 0;
    /** The size of the large frame expected next, or 0. */
    let expect = 0;
    /** Whether large frames come back to back (see `bulkRead`). */
    let streaming = false;
    /** Reads into fresh memory since the last bulk read. */
    let freshReads = 0;
    /** Whether the current read is a bulk read. */
    let bulkRead = false;
    /** The size of the last frame handled, header included. */
    let lastSize = 0;
    try {
      for (;;) {
        // A large frame's remaining payload is read straight into its
        // buffer rather than copied there out of the read buffer; a read
        // that filled the read buffer says the rest is streaming in.
        const target = direct && !source.peeking
          ? parser.bodyTarget(n > 0 && n === source.chunk.length)
          : null;
        let got: number | null;
        if (target === null) {
          // Expecting a large frame: into fresh memory of its size (and
          // the next one's header) while they come one at a time (no
          // copy), into a reused bulk buffer while they stream in back to
          // back (several per read, each copied once: fresh memory per
          // frame costs more then). After 8 into fresh memory, one bulk
          // read, to notice a stream starting.
          bulkRead = streaming || (expect > 0 && freshReads >= 8);
          if (expect > 0) freshReads = bulkRead ? 0 : freshReads + 1;
          got = await source.read(n, expect, bulkRead);
          n = got ?? 0;
        } else {
          bulkRead = false;
          got = await source.readInto(target);
          n = 0;
        }
        if (got === null) break;
        this.bytesRead += got;
        if (host.closing()) {
          // Closing: the bytes are dropped unread; reading goes on only to
          // notice the peer going away (which ends the wait for replies).
          // A turn of the event loop per chunk: an in-process peer that
          // keeps writing must not starve the close timer.
          await new Promise<void>((resolve) => setImmediate(resolve));
          expect = 0;
          streaming = false;
          continue;
        }
        // Another channel may have filled the process-wide budget while
        // this read waited: the bytes wait in the buffer until it frees.
        const paused = host.overBudget();
        if (paused !== undefined) await this.#wait(paused, host.overBudget);
        deadlines.read();
        // Frames that end before bad bytes in the same chunk are handled
        // first, so that where the transport split its chunks changes nothing.
        let badFrame: unknown = null;
        try {
          if (target !== null) parser.advance(got, frames);
          else parser.push(source.chunk, frames, got);
        } catch (error) {
          badFrame = error;
        }
        deadlines.partial(parser.partial);
        /** The frame being decoded (cleared as `decoded` is, below). */
        let frame: Uint8Array | undefined;
        for (let i = 0; i < frames.length; i++) {
          let decoded: unknown;
          let cost: number;
          try {
            // A frame the parser assembled is handed over: bytes in it
            // may be decoded as views rather than copies.
            // So may one that fills a fresh read buffer (at least 7/8 of
            // it: a smaller one is copied, rather than keep it all alive).
            frame = frames[i];
            decoded = frame.buffer !== source.chunk.buffer ||
                (source.fresh &&
                  (frame.length + 4) * 8 >= frame.buffer.byteLength * 7)
              ? codec.decode(frame, OWNED)
              : codec.decode(frame);
            // Read before awaiting: the codec reports its latest decode.
            cost = codec.lastDecodedCost ??
              frames[i].length * UNREPORTED_COST_FACTOR;
            if (decoded instanceof Promise) decoded = await decoded;
          } catch (error) {
            throw new ProtocolError(
              `Cannot decode message from ${this.#peer} with ${this.#codecName}: ${
                error instanceof Error ? error.message : describe(error)
              }`,
              { cause: error },
            );
          }
          // This function's locals outlive the awaits below, and the next
          // read may wait as long as the peer is quiet: neither the message
          // nor its frame may stay reachable from here meanwhile (a 1 MiB
          // echo answered kept its 1 MiB frame while the peer was quiet).
          frame = undefined;
          // Once the peer is gone, the frames read are still handled: its
          // replies settle our calls; its requests are dropped.
          host.dispatch(decoded, cost, this.#gone);
          decoded = undefined;
          const blocked = this.#gone ? undefined : host.blocked();
          if (blocked !== undefined) await this.#wait(blocked);
        }
        const woke = frames.length > 0;
        // After two large frames, the next read is sized for one like the
        // last: it takes one read and no copy once it has arrived (rather
        // than a small read for its first bytes, then one for the rest).
        // Two, so that large and small messages in turn waste no memory.
        // A bulk read says whether they stream: more than one frame, or
        // the start of the next one, in it. They stop with a frame that
        // is not large.
        // So does a read into fresh memory (sized for a frame and the next
        // one's header) in the same way: the next one was waiting.
        if (target === null && woke && (bulkRead || source.fresh)) {
          streaming = frames.length > 1 || parser.partial;
        }
        expect = 0;
        if (woke) {
          const k = frames.length;
          const size = frames[k - 1].length + 4;
          const before = k > 1 ? frames[k - 2].length + 4 : lastSize;
          lastSize = size;
          if (!large(size)) streaming = false;
          else if (direct && !parser.partial && large(before)) expect = size;
        }
        frames.length = 0;
        if (badFrame !== null) throw badFrame;
        if (woke) {
          // Let the code these messages woke run first, so that the frames
          // it queues are written before the next read is set up: setting
          // up a read costs about as much as a write when the process has
          // woken with cold caches, and the peer waits for the write.
          await new Promise<void>((resolve) => {
            this.#resume = resolve;
            queueMicrotask(this.#afterFlush);
          });
        }
      }
      if (host.closing()) return host.gone(undefined);
      if (parser.partial) {
        throw new ProtocolError(
          `Connection to ${this.#peer} ended inside a frame (${parser.partialDescription})`,
        );
      }
      host.ended();
    } catch (error) {
      if (!host.closing()) host.fail(error);
      else host.gone(error);
    } finally {
      // No read is pending now: the process-wide buffers go back at once,
      // not only once the channel has finished closing.
      source.releaseBuffers();
    }
  }

  /**
   * Waits while the channel is blocked; deadlines do not run meanwhile. A
   * wait that lasts (see `_long_waits.ts`) keeps one small read pending
   * (see `ByteSource.peek`), so that a peer that leaves is noticed, and the
   * handlers of its requests are aborted, rather than kept until they
   * answer: the wait ends then, and the next read reports the end.
   */
  async #wait(
    blocked: Promise<void>,
    check: () => Promise<void> | undefined = this.#host.blocked,
  ): Promise<void> {
    this.#deadlines.paused = true;
    this.#longWait.begin();
    try {
      // A peer gone settles `next` (see `#peerGone`).
      for (
        let next: Promise<void> | undefined = blocked;
        next !== undefined && !this.#gone;
        next = check()
      ) await next;
    } finally {
      this.#longWait.waiting = false;
      this.#deadlines.resume();
    }
  }

  /** Watches the peer while reading waits: one small read, one reaction. */
  #watch(): void {
    if (this.#watching || this.#stopped) return;
    this.#watching = true;
    this.#source.peek().then(
      (bytes) => {
        this.#watching = false;
        if (bytes === null) this.#peerGone();
      },
      () => {
        this.#watching = false;
        this.#peerGone();
      },
    );
  }

  #peerGone(): void {
    this.#gone = true;
    if (this.#deadlines.paused) this.#host.interrupt();
  }
}

/** The smallest frame after two of which the next is expected to be as large. */
const EXPECT_MIN = 16 * 1024;
/** The largest frame read whole into fresh memory of its size. */
const EXPECT_MAX = 256 * 1024;

/** Whether a frame of `size` bytes (header included) counts as large. */
function large(size: number): boolean {
  return size >= EXPECT_MIN && size <= EXPECT_MAX;
}

/** Decode options of a frame handed over to the codec. */
const OWNED = { owned: true } as const;

/** A thrown non-error, shown without calling into it. */
function describe(value: unknown): string {
  return typeof value === "string"
    ? value
    : Object.prototype.toString.call(value);
}
