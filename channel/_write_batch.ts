import { grownBatch, LARGE_BATCH, recycle } from "./_batch_pool.ts";

/** No batch buffer: the first frame takes one from the pool. */
const EMPTY = new Uint8Array(0);

/**
 * The batch buffers of one `FrameWriter`: frames are appended to
 * `buffer` from `start` to `end` (the open batch) until a flush, or a
 * large payload, closes the batch into a chunk of its own.
 *
 * With a write function (`copies` false) a closed batch is a view of the
 * buffer, so a buffer with queued or written bytes is kept whole until its
 * write is done, then reused: one as the spare, the rest go to the pools.
 * A stream may keep its chunks, so it gets copies and the buffer is
 * reused at once.
 */
export class WriteBatch {
  /** The buffer frames are appended to. */
  buffer: Uint8Array<ArrayBuffer> = EMPTY;
  /** Where the open batch starts: the bytes before are queued chunks. */
  start = 0;
  /** Where the open batch ends. */
  end = 0;
  #copies: boolean;
  /** Earlier buffers of queued chunks, to reuse once written. */
  #closed: Uint8Array<ArrayBuffer>[] = [];
  /** The buffers being written, to reuse once they are. */
  #writing: Uint8Array<ArrayBuffer>[] = [];
  /** A written buffer, free for reuse. */
  #spare: Uint8Array<ArrayBuffer> | null = null;

  /** `copies`: whether closed batches are queued as copies (for a stream). */
  constructor(copies: boolean) {
    this.#copies = copies;
  }

  /**
   * Makes room for `bytes` more in the open batch: in a grown buffer, or,
   * rather than grow one past the pooled 256 KiB, in another buffer after
   * closing the open batch into `chunks`.
   */
  reserve(bytes: number, chunks: Uint8Array[]): void {
    const start = this.start;
    const end = this.end;
    if (end + bytes <= this.buffer.length) return;
    if (end > start && !this.fits(bytes)) {
      this.close(chunks);
      return this.reserve(bytes, chunks);
    }
    const old = this.buffer;
    this.buffer = grownBatch(old, start, end, end - start + bytes);
    this.start = 0;
    this.end = end - start;
    // A buffer with queued chunks in it is reused once they are written.
    if (start > 0) this.#closed.push(old);
    else recycle(old);
  }

  /**
   * Makes room for a frame header and `room` more bytes (closing into
   * `chunks` as {@linkcode WriteBatch.reserve} does), writes the header of
   * a `length`-byte payload, and returns where the payload starts.
   */
  header(room: number, length: number, chunks: Uint8Array[]): number {
    this.reserve(4 + room, chunks);
    const buffer = this.buffer;
    const at = this.end;
    buffer[at] = length >>> 24;
    buffer[at + 1] = length >>> 16;
    buffer[at + 2] = length >>> 8;
    buffer[at + 3] = length;
    return at + 4;
  }

  /** Whether `bytes` more keep the open batch within the pooled 256 KiB. */
  fits(bytes: number): boolean {
    return this.end - this.start + bytes <= LARGE_BATCH;
  }

  /** Ends the open batch: its bytes go to `chunks` as a chunk of their own. */
  close(chunks: Uint8Array[]): void {
    const start = this.start;
    const end = this.end;
    if (end === start) return;
    if (this.#copies) {
      chunks.push(this.buffer.slice(start, end));
      this.end = 0;
    } else {
      chunks.push(this.buffer.subarray(start, end));
      this.start = end;
    }
  }

  /**
   * Says every queued chunk is being written now (the open batch is
   * closed): frames queued meanwhile go into another buffer.
   */
  writing(): void {
    if (this.#copies) {
      if (this.buffer.length > LARGE_BATCH) this.buffer = EMPTY;
      return;
    }
    // The two lists swap: no array per flush.
    const buffers = this.#closed;
    this.#closed = this.#writing;
    this.#writing = buffers;
    if (this.end > 0) {
      buffers.push(this.buffer);
      this.buffer = this.#spare ?? EMPTY;
      this.#spare = null;
      this.start = 0;
      this.end = 0;
    }
  }

  /** Says the write is done: one written buffer is kept as the spare. */
  written(): void {
    const buffers = this.#writing;
    for (let i = 0; i < buffers.length; i++) {
      const buffer = buffers[i];
      if (this.#spare === null && buffer.length <= LARGE_BATCH) {
        this.#spare = buffer;
      } else recycle(buffer);
    }
    buffers.length = 0;
  }

  /**
   * Says the flush ended: the buffers of a write that ended early are
   * dropped (it may still read them), and with nothing queued every buffer
   * goes back to the pools, so a quiet writer holds none.
   */
  idle(): void {
    this.#writing.length = 0;
    if (this.end > 0) return;
    recycle(this.buffer);
    this.buffer = EMPTY;
    if (this.#spare !== null) recycle(this.#spare);
    this.#spare = null;
  }

  /** Drops everything queued (writing failed). */
  clear(): void {
    this.#closed = [];
    this.start = 0;
    this.end = 0;
  }
}
