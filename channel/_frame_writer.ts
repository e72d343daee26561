import { setImmediate } from "node:timers";
import {
  checkFrameLength,
  COPY_LIMIT,
  type FrameSink,
  type FrameWriterOptions,
  LEAD,
  STREAM_PIECE,
  WRITE_PIECE,
} from "./_frame_writer_options.ts";
import { WriteBatch } from "./_write_batch.ts";
import { WriteStallWatch } from "./_write_stall.ts";
import { ProtocolError } from "../errors.ts";

export type { FrameSink, FrameWriterOptions };

/**
 * Writes frames to a byte stream, coalescing frames into as few writes as
 * possible: every frame queued before the flush runs (a microtask later,
 * or up to the next turn of the event loop while `holding` says more are
 * coming), and those queued while a write is in flight, go in one write.
 *
 * Small payloads are copied, header first, into a batch buffer at once (so
 * the caller may reuse its buffer); with a write function the batch
 * buffers are reused too, two in turn, so a steady stream of small
 * messages allocates nothing here. A writer with nothing queued gives its
 * buffers back to pools shared by the process, so an idle connection holds
 * none. The queue is bounded by
 * `highWaterMark` bytes: `write` returns a promise to wait on while it is
 * above that.
 */
export class FrameWriter {
  /** Bytes written to the transport so far, frame headers included. */
  bytesWritten = 0;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #writeSome: ((chunk: Uint8Array) => Promise<number>) | null = null;
  #highWaterMark: number;
  #holding: () => boolean;
  /** Chunks ready to write, in order, before the open batch. */
  #chunks: Uint8Array[] = [];
  /** The buffers frames are appended to until a flush takes them. */
  #batch: WriteBatch;
  /** Bytes queued or being written, headers included. */
  #queuedBytes = 0;
  /** Whether a flush is scheduled, holding or writing. */
  #active = false;
  /** Whether the flush is scheduled (a microtask) and has not started. */
  #scheduled = false;
  #idle: PromiseWithResolvers<void> | null = null;
  /** Ends a held flush's wait early. */
  #release: (() => void) | null = null;
  /** The batch being written: its chunks, the next one, and how far. */
  #writing: Uint8Array[] = [];
  #writingIndex = 0;
  #writingOffset = 0;
  #writingBytes = 0;
  #error: unknown = undefined;
  #failed = false;
  #drain: PromiseWithResolvers<void> | null = null;
  #onError: (error: unknown) => void;
  #maxFrameSize: number;
  #peer: string;
  #stall: WriteStallWatch;
  /** The most one write takes ({@linkcode STREAM_PIECE}, {@linkcode WRITE_PIECE}), or all without a watch. */
  #piece: number;
  /** Where the piece of the chunk being written ends. */
  #pieceEnd = 0;

  constructor(sink: FrameSink, options: FrameWriterOptions) {
    if (typeof sink === "function") this.#writeSome = sink;
    else this.#writer = sink.getWriter();
    this.#batch = new WriteBatch(this.#writeSome === null);
    this.#highWaterMark = options.highWaterMark;
    this.#onError = options.onError;
    this.#holding = options.holding ?? (() => false);
    this.#maxFrameSize = options.maxFrameSize ?? 0xffffffff;
    this.#peer = options.peer ?? "peer";
    const timeout = options.writeTimeout ?? Infinity;
    // Without a watch nothing needs pieces: a MessagePort transfers a
    // chunk whole, and would copy a piece.
    this.#piece = timeout === Infinity
      ? Infinity
      : this.#writeSome === null
      ? STREAM_PIECE
      : WRITE_PIECE;
    const mayCut = options.mayCut ?? (() => true);
    this.#stall = new WriteStallWatch(timeout, {
      written: () => this.bytesWritten,
      mayCut,
    }, () => {
      const error = new ProtocolError(
        `Cannot write to ${this.#peer}: ${this.#queuedBytes} bytes queued, and the peer took none of them for ${timeout} ms (writeTimeout): it does not read`,
      );
      this.#fail(error);
      this.#onError(error);
    });
  }

  /**
   * Says the frames `holding` waited for are queued: a flush that is
   * scheduled or holding writes now, without waiting for its turn.
   */
  nudge(): void {
    if (this.#scheduled) {
      this.#scheduled = false;
      this.#next();
    } else if (this.#release !== null) {
      this.#release();
    }
  }

  /**
   * Starts the scheduled flush now rather than in its microtask: it
   * writes, or holds while `holding` says so. Nothing if none is scheduled.
   */
  start(): void {
    this.#start();
  }

  /**
   * Queues one frame. The payload is copied unless it is large and
   * `owned` (then it is written as it is, past the first {@linkcode LEAD}
   * bytes that may go with the header, and must not change). Returns a
   * promise while the queue is above the high-water mark; it settles once
   * the queue has drained below it.
   *
   * @throws The write error, once writing has failed.
   * @throws {RangeError} If the payload is empty or longer than 2^32 − 1 bytes.
   * @throws {SerializationError} If it is longer than `maxFrameSize`.
   */
  write(payload: Uint8Array, owned = false): Promise<void> | undefined {
    if (this.#failed) throw this.#error;
    const length = payload.length;
    checkFrameLength(length, this.#maxFrameSize, this.#peer);
    const at = this.#batch.header(
      length <= COPY_LIMIT ? length : 0,
      length,
      this.#chunks,
    );
    const batch = this.#batch;
    if (length <= COPY_LIMIT) {
      batch.buffer.set(payload, at);
      batch.end = at + length;
    } else {
      batch.end = at;
      this.#large(payload, !owned);
    }
    return this.#queued(length);
  }

  /**
   * Queues one frame whose payload is the concatenation of `parts`. A
   * payload of up to 128 KiB is copied whole. Of a larger one, the parts at
   * even indices are copied (the caller may reuse them at once), those at
   * odd indices are written as chunks of their own (past the first
   * {@linkcode LEAD} bytes that may go with the bytes before): as they
   * are with a write function, which copies them before it resolves (they
   * must not change until then), and copied for a stream, which may keep
   * them. Returns as {@linkcode FrameWriter.write}.
   *
   * @throws The write error, once writing has failed.
   * @throws {RangeError} If the payload is empty or longer than 2^32 − 1 bytes.
   * @throws {SerializationError} If it is longer than `maxFrameSize`.
   */
  writeParts(parts: readonly Uint8Array[]): Promise<void> | undefined {
    if (this.#failed) throw this.#error;
    let length = 0;
    for (let i = 0; i < parts.length; i++) length += parts[i].length;
    checkFrameLength(length, this.#maxFrameSize, this.#peer);
    if (length <= COPY_LIMIT) return this.#copyParts(parts, length);
    const batch = this.#batch;
    batch.end = batch.header(parts[0].length, length, this.#chunks);
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if ((i & 1) === 0) {
        batch.buffer.set(part, batch.end);
        batch.end += part.length;
        continue;
      }
      // A stream may keep or transfer its chunks: it gets a copy.
      this.#large(part, this.#writeSome === null);
      batch.reserve(parts[i + 1].length, this.#chunks);
    }
    return this.#queued(length);
  }

  /**
   * Queues a large payload (or part) after the bytes of the open batch:
   * its first {@linkcode LEAD} bytes copied into the batch where that
   * applies, which then ends, and the rest as a chunk of its own (`copy`:
   * a copy of it). The next frame starts a new chunk.
   */
  #large(payload: Uint8Array, copy: boolean): void {
    const batch = this.#batch;
    const lead =
      payload.length > 2 * LEAD && this.#writeSome !== null && batch.fits(LEAD)
        ? LEAD
        : 0;
    if (lead > 0) {
      batch.reserve(lead, this.#chunks);
      batch.buffer.set(payload.subarray(0, lead), batch.end);
      batch.end += lead;
    }
    batch.close(this.#chunks);
    const rest = lead > 0 ? payload.subarray(lead) : payload;
    this.#chunks.push(copy ? rest.slice() : rest);
  }

  /** Queues a frame of `parts` (`length` bytes) copied whole into the batch. */
  #copyParts(
    parts: readonly Uint8Array[],
    length: number,
  ): Promise<void> | undefined {
    let at = this.#batch.header(length, length, this.#chunks);
    const buffer = this.#batch.buffer;
    for (let i = 0; i < parts.length; i++) {
      buffer.set(parts[i], at);
      at += parts[i].length;
    }
    this.#batch.end = at;
    return this.#queued(length);
  }

  /** Counts a frame of `length` payload bytes queued; schedules the flush. */
  #queued(length: number): Promise<void> | undefined {
    this.#queuedBytes += length + 4;
    if (!this.#active) {
      // Frames queued by the code running now join this write.
      this.#active = true;
      this.#scheduled = true;
      queueMicrotask(this.#start);
    }
    if (this.#queuedBytes <= this.#highWaterMark) return undefined;
    if (this.#drain === null) {
      this.#drain = Promise.withResolvers<void>();
      this.#stall.start();
    }
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
    return !this.#active;
  }

  /** Waits until every queued frame is written (or writing failed). */
  async drained(): Promise<void> {
    while (this.#active) {
      this.#idle ??= Promise.withResolvers<void>();
      await this.#idle.promise;
    }
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

  // The flush is a chain of callbacks rather than an async function: it
  // runs for nearly every message when they come one at a time.
  #start = (): void => {
    // Started already by nudge().
    if (!this.#scheduled) return;
    this.#scheduled = false;
    if (this.#failed || !this.#holding()) return this.#next();
    const release = (): void => {
      if (this.#release !== release) return;
      this.#release = null;
      this.#next();
    };
    this.#release = release;
    setImmediate(release);
  };

  /** Writes everything queued as one batch, or ends the flush. */
  #next(): void {
    const batch = this.#batch;
    if (this.#failed || (batch.end === 0 && this.#chunks.length === 0)) {
      return this.#finish();
    }
    batch.close(this.#chunks);
    batch.writing();
    // The two chunk lists swap: no array per flush.
    const chunks = this.#chunks;
    this.#chunks = this.#writing;
    let bytes = 0;
    for (let i = 0; i < chunks.length; i++) bytes += chunks[i].length;
    this.#writing = chunks;
    this.#writingIndex = 0;
    this.#writingOffset = 0;
    this.#writingBytes = bytes;
    this.#writeChunk();
  }

  #writeChunk(): void {
    const chunk = this.#writing[this.#writingIndex];
    const offset = this.#writingOffset;
    let written: Promise<number | void>;
    try {
      const end = Math.min(chunk.length, offset + this.#piece);
      this.#pieceEnd = end;
      const piece = offset === 0 && end === chunk.length
        ? chunk
        : chunk.subarray(offset, end);
      written = this.#writeSome === null
        ? this.#writer!.write(piece)
        : this.#writeSome(piece);
    } catch (error) {
      return this.#onWriteError(error);
    }
    written.then(this.#onWritten, this.#onWriteError);
  }

  /** After a write: `n` bytes of the piece (all of it for a stream). */
  #onWritten = (n: number | void): void => {
    // Aborted meanwhile: the rest of the batch is dropped.
    if (this.#failed) return this.#finish();
    const chunk = this.#writing[this.#writingIndex];
    if (n === 0) {
      // A write function that takes nothing would be called forever.
      return this.#onWriteError(
        new Error("Cannot write frames: the transport wrote 0 bytes"),
      );
    }
    const wrote = n ?? this.#pieceEnd - this.#writingOffset;
    this.bytesWritten += wrote;
    this.#writingOffset += wrote;
    if (this.#writingOffset < chunk.length) return this.#writeChunk();
    this.#writingOffset = 0;
    if (++this.#writingIndex < this.#writing.length) return this.#writeChunk();
    this.#batch.written();
    this.#writing.length = 0;
    this.#queuedBytes -= this.#writingBytes;
    if (this.#drain !== null && this.#queuedBytes <= this.#highWaterMark) {
      this.#stall.stop();
      this.#drain.resolve();
      this.#drain = null;
    }
    // Frames queued while writing go at once, without holding.
    this.#next();
  };

  #onWriteError = (error: unknown): void => {
    if (!this.#failed) {
      this.#fail(error);
      this.#onError(error);
    }
    this.#finish();
  };

  #finish(): void {
    this.#active = false;
    this.#writing.length = 0;
    this.#batch.idle();
    const idle = this.#idle;
    this.#idle = null;
    idle?.resolve();
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#stall.stop();
    this.#error = error;
    this.#chunks = [];
    this.#batch.clear();
    this.#queuedBytes = 0;
    this.#drain?.reject(error);
    this.#drain?.promise.catch(() => {});
    this.#drain = null;
  }
}
