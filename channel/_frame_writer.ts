import { setImmediate } from "node:timers";
import { encodeFrames } from "./_frame_parser.ts";

/** Payloads from this size on are written on their own instead of copied into a batch. */
const LARGE_PAYLOAD = 64 * 1024;

/**
 * Where batches go: a writable stream, or a function that writes some of a
 * chunk and says how much (`Deno.Conn.write`), which skips the stream
 * machinery.
 */
export type FrameSink =
  | WritableStream<Uint8Array>
  | ((chunk: Uint8Array) => Promise<number>);

/** Options of {@linkcode FrameWriter}. */
export interface FrameWriterOptions {
  /** Bytes queued above which `write` returns a promise to wait on. */
  highWaterMark: number;
  /** Called once when writing fails. */
  onError: (error: unknown) => void;
  /**
   * Whether more frames are about to come (e.g. replies to requests just
   * received): while it says so, a flush waits for the next turn of the
   * event loop, or for {@linkcode FrameWriter.nudge}, to take them along.
   */
  holding?: () => boolean;
}

/**
 * Writes frames to a byte stream, coalescing frames into as few writes as
 * possible: every frame queued before the flush runs (a microtask later,
 * or up to the next turn of the event loop while `holding` says more are
 * coming), and those queued while a write is in flight, go in one write.
 * The queue is bounded by `highWaterMark` bytes: `write` returns a
 * promise to wait on while it is above that.
 */
export class FrameWriter {
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #writeSome: ((chunk: Uint8Array) => Promise<number>) | null = null;
  #highWaterMark: number;
  #holding: () => boolean;
  #queue: Uint8Array[] = [];
  /** Bytes queued or being written, headers included. */
  #queuedBytes = 0;
  #hasLarge = false;
  #flushing: Promise<void> | null = null;
  /** Ends a held flush's wait early. */
  #release: (() => void) | null = null;
  #error: unknown = undefined;
  #failed = false;
  #drain: PromiseWithResolvers<void> | null = null;
  #onError: (error: unknown) => void;

  constructor(sink: FrameSink, options: FrameWriterOptions) {
    if (typeof sink === "function") this.#writeSome = sink;
    else this.#writer = sink.getWriter();
    this.#highWaterMark = options.highWaterMark;
    this.#onError = options.onError;
    this.#holding = options.holding ?? (() => false);
  }

  /** Lets a flush that waits for more frames (see `holding`) write now. */
  nudge(): void {
    const release = this.#release;
    if (release === null) return;
    this.#release = null;
    release();
  }

  /**
   * Queues one frame. Returns a promise while the queue is above the
   * high-water mark; it settles once the queue has drained below it.
   *
   * @throws The write error, once writing has failed.
   */
  write(payload: Uint8Array): Promise<void> | undefined {
    if (this.#failed) throw this.#error;
    this.#queue.push(payload);
    this.#queuedBytes += payload.length + 4;
    if (payload.length >= LARGE_PAYLOAD) this.#hasLarge = true;
    this.#flushing ??= this.#flush();
    if (this.#queuedBytes <= this.#highWaterMark) return undefined;
    this.#drain ??= Promise.withResolvers<void>();
    return this.#drain.promise;
  }

  /**
   * While the queue is above the high-water mark, a promise that settles
   * once it has drained below it; otherwise undefined.
   */
  get ready(): Promise<void> | undefined {
    return this.#drain?.promise;
  }

  /** Whether nothing is queued or being written. */
  get idle(): boolean {
    return this.#flushing === null;
  }

  /** Waits until every queued frame is written (or writing failed). */
  async drained(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
  }

  /** Writes what is queued, then closes the stream; never throws. */
  async close(): Promise<void> {
    await this.drained();
    const writer = this.#writer;
    if (writer === null) return;
    if (!this.#failed) await writer.close().catch(() => {});
    writer.releaseLock();
  }

  /**
   * Drops what is queued and aborts the stream; never throws. It does not
   * wait: a write in flight (e.g. to a peer that stopped reading) ends only
   * when the transport is closed.
   */
  abort(reason: unknown): void {
    this.#fail(reason);
    this.nudge();
    const writer = this.#writer;
    if (writer === null) return;
    writer.abort(reason).catch(() => {});
    writer.releaseLock();
  }

  async #flush(): Promise<void> {
    // Frames queued by the code running now join this write.
    await undefined;
    if (this.#holding() && !this.#failed) {
      await new Promise<void>((resolve) => {
        this.#release = resolve;
        setImmediate(() => {
          if (this.#release === resolve) this.nudge();
        });
      });
    }
    try {
      while (this.#queue.length > 0 && !this.#failed) {
        const queue = this.#queue;
        const hasLarge = this.#hasLarge;
        this.#queue = [];
        this.#hasLarge = false;
        let bytes = 0;
        for (const payload of queue) bytes += payload.length + 4;
        if (hasLarge) {
          for (const chunk of batches(queue)) await this.#write(chunk);
        } else {
          await this.#write(encodeFrames(queue));
        }
        this.#queuedBytes -= bytes;
        if (this.#drain !== null && this.#queuedBytes <= this.#highWaterMark) {
          this.#drain.resolve();
          this.#drain = null;
        }
      }
    } catch (error) {
      this.#fail(error);
      this.#onError(error);
    } finally {
      this.#flushing = null;
    }
  }

  async #write(chunk: Uint8Array): Promise<void> {
    const writeSome = this.#writeSome;
    if (writeSome === null) return await this.#writer!.write(chunk);
    let written = 0;
    while (written < chunk.length) {
      written += await writeSome(
        written === 0 ? chunk : chunk.subarray(written),
      );
    }
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = error;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#drain?.reject(error);
    this.#drain?.promise.catch(() => {});
    this.#drain = null;
  }
}

/** Groups payloads into write chunks: small frames together, large payloads alone. */
function* batches(payloads: Uint8Array[]): Generator<Uint8Array> {
  let start = 0;
  for (let i = 0; i < payloads.length; i++) {
    const payload = payloads[i];
    if (payload.length < LARGE_PAYLOAD) continue;
    // The large payload's header joins the batch before it; the payload goes alone.
    const batch = encodeFrames(payloads.slice(start, i));
    const header = new Uint8Array(batch.length + 4);
    header.set(batch);
    new DataView(header.buffer).setUint32(batch.length, payload.length);
    yield header;
    yield payload;
    start = i + 1;
  }
  if (start < payloads.length) {
    yield encodeFrames(start === 0 ? payloads : payloads.slice(start));
  }
}
