import { setImmediate } from "node:timers";
import { encodeFrames } from "./_frame_parser.ts";

/** Payloads from this size on are written on their own instead of copied into a batch. */
const LARGE_PAYLOAD = 64 * 1024;

/**
 * Writes frames to a byte stream, coalescing every frame queued in one
 * turn of the event loop, and those queued while a write is in flight,
 * into a single write. (Flushing on the next macrotask, not microtask,
 * lets the replies of all requests read from one chunk join one write.)
 * The queue is bounded by `highWaterMark` bytes: `write` returns a
 * promise to wait on while it is above that.
 */
export class FrameWriter {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #highWaterMark: number;
  #queue: Uint8Array[] = [];
  /** Bytes queued or being written, headers included. */
  #queuedBytes = 0;
  #hasLarge = false;
  #flushing: Promise<void> | null = null;
  #error: unknown = undefined;
  #failed = false;
  #drain: PromiseWithResolvers<void> | null = null;
  #onError: (error: unknown) => void;

  constructor(
    writable: WritableStream<Uint8Array>,
    highWaterMark: number,
    onError: (error: unknown) => void,
  ) {
    this.#writer = writable.getWriter();
    this.#highWaterMark = highWaterMark;
    this.#onError = onError;
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
    if (!this.#failed) await this.#writer.close().catch(() => {});
    this.#writer.releaseLock();
  }

  /**
   * Drops what is queued and aborts the stream; never throws. It does not
   * wait: a write in flight (e.g. to a peer that stopped reading) ends only
   * when the transport is closed.
   */
  abort(reason: unknown): void {
    this.#fail(reason);
    this.#writer.abort(reason).catch(() => {});
    this.#writer.releaseLock();
  }

  async #flush(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.#queue.length > 0 && !this.#failed) {
        const queue = this.#queue;
        const hasLarge = this.#hasLarge;
        this.#queue = [];
        this.#hasLarge = false;
        let bytes = 0;
        for (const payload of queue) bytes += payload.length + 4;
        if (hasLarge) {
          for (const chunk of batches(queue)) await this.#writer.write(chunk);
        } else {
          await this.#writer.write(encodeFrames(queue));
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
