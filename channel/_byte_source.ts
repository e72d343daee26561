import { BufferPool } from "./_buffer_pool.ts";
import type { Transport } from "./transport.ts";

/** The read buffer of a connection between bursts: small, so idle ones are cheap. */
const SMALL_READ = 1024;
/** The read buffer while bytes come faster than one small read takes them. */
const LARGE_READ = 64 * 1024;
/**
 * How many large read buffers exist at most, process-wide (held by
 * sources or pooled): 1 MiB. A source that finds none reads into its small
 * buffer, as a quiet one does.
 */
const MAX_LARGE = 16;
/**
 * How many sources of the process may wait on a read into fresh memory
 * sized for the next large frame: at most 16 of up to 256 KiB and 4 bytes
 * (see `ReadLoop`), 4 MiB.
 */
const MAX_FRESH = 16;
/**
 * What a read into fresh memory takes beyond the expected frame: the next
 * frame's header, if it has arrived, which says the frames stream in.
 */
export const PEEK = 4;
/** The read buffer while large frames stream in back to back. */
const BULK_READ = 256 * 1024;
/** How many bulk read buffers exist at most, process-wide: 2 MiB. */
const MAX_BULK = 8;

/**
 * Large read buffers between bursts: a connection that goes quiet gives
 * its own back, so that a burst costs no allocation. A buffer is given back
 * only by the source whose read filled it last, before its next read, once
 * the frames in it were handled (decoded as copies: see `ReadLoop`).
 */
const largePool = new BufferPool(LARGE_READ, MAX_LARGE);
/** Bulk read buffers between streams of large frames, as `largePool`. */
const bulkPool = new BufferPool(BULK_READ, MAX_BULK);
/** Sources holding a fresh buffer (see `read`), at most `MAX_FRESH`. */
let freshHeld = 0;

/** How many large read buffers the pool holds (for tests). */
export function pooledReadBuffers(): number {
  return largePool.counts().pooled;
}

/** How many sources hold a fresh read buffer (for tests). */
export function freshReadBuffers(): number {
  return freshHeld;
}

/** How many bulk read buffers exist, and how many of them are pooled (for tests). */
export function bulkReadBuffers(): { existing: number; pooled: number } {
  return bulkPool.counts();
}

/**
 * The bytes a channel reads from its transport: with the transport's own
 * `read` when it has one (a `Deno.Conn`'s, which skips the stream
 * machinery), else a BYOB or default reader of `readable`.
 *
 * A byte source reads into a reused buffer of 1 KiB, and into one of
 * 64 KiB (from a process-wide pool of at most 16) after a read that filled
 * the buffer (more is waiting); the large one goes back after the first
 * read that does not fill it, so a quiet connection holds 1 KiB. When the
 * caller expects a large frame next, it reads into fresh memory of that
 * size and 4 bytes more instead (at most 16 sources of the process at
 * once), which the frames read into it may keep: one read and no copy for
 * a frame that has arrived, and the next one's header if it has too. When
 * large frames stream in back to back, the caller asks for a bulk read
 * instead: into a reused buffer of 256 KiB (from a pool of at most 8),
 * which takes several frames at once; they are copied out of it.
 */
export class ByteSource {
  #readSome: ((buffer: Uint8Array) => Promise<number | null>) | null = null;
  #reader:
    | ReadableStreamDefaultReader<Uint8Array>
    | ReadableStreamBYOBReader
    | null = null;
  #byob = false;
  #small: Uint8Array<ArrayBuffer> | null = null;
  /** The buffer of the next or current read. */
  #buffer: Uint8Array<ArrayBuffer> | null = null;
  /** The chunk of the last read (its first bytes: see `read`). */
  chunk: Uint8Array = new Uint8Array(0);
  /** Whether `chunk` is fresh memory, never read into again. */
  fresh = false;
  /** Whether the buffer is a bulk buffer (from `bulkPool`). */
  #bulk = false;
  /** A read made while the caller waits (see `peek`), not yet taken. */
  #peeked: Promise<Uint8Array | null> | null = null;

  /**
   * @param transport The transport; its `read` is used only together with
   *   its `close`, which is what ends a pending read.
   */
  constructor(transport: Transport) {
    const read = transport.read;
    if (typeof read === "function" && typeof transport.close === "function") {
      this.#readSome = read.bind(transport);
    } else {
      try {
        this.#reader = transport.readable.getReader({ mode: "byob" });
        this.#byob = true;
      } catch {
        this.#reader = transport.readable.getReader();
      }
    }
    if (this.#readSome !== null || this.#byob) {
      this.#small = new Uint8Array(SMALL_READ);
      this.#buffer = this.#small;
    }
  }

  /**
   * Reads the next bytes into {@linkcode ByteSource.chunk}.
   *
   * @param last How many bytes the previous read gave (0 for none): a full
   *   buffer means more is waiting, so the next read takes more at once.
   * @param expect The size of a large frame expected next (0 for none): the
   *   read goes into fresh memory of that size and `PEEK` bytes more, unless
   *   16 sources of the process hold such memory already.
   * @param bulk Read into a bulk buffer instead, if one is to be had
   *   (large frames stream in back to back).
   * @returns How many bytes of `chunk` are new, or null at the end.
   */
  read(last: number, expect = 0, bulk = false): Promise<number | null> {
    // Whether the last read filled its buffer, fresh or not.
    const full = last === this.#buffer?.length;
    if (this.fresh) this.#dropFresh();
    if (this.#peeked !== null) return this.#takePeeked();
    if (this.#readSome !== null) {
      if (bulk && this.#takeBulk()) {
        this.chunk = this.#buffer!;
        return this.#readSome(this.#buffer!);
      }
      if (expect > 0 && freshHeld < MAX_FRESH) {
        this.#dropBulk();
        if (this.#buffer!.length > SMALL_READ) this.#release();
        freshHeld++;
        this.fresh = true;
        const fresh = new Uint8Array(expect + PEEK);
        this.#buffer = this.chunk = fresh;
        return this.#readSome(fresh);
      }
    }
    this.#dropBulk();
    const buffer = this.#buffer;
    if (buffer !== null) {
      if (full) {
        if (buffer.length < LARGE_READ) this.#enlarge();
      } else if (buffer.length > SMALL_READ) {
        this.#release();
      }
      if (this.#readSome !== null) {
        this.chunk = this.#buffer!;
        return this.#readSome(this.#buffer!);
      }
    }
    return this.#readStream();
  }

  /**
   * Reads the next bytes (at most 1 KiB from a transport or BYOB stream)
   * beside `chunk`, which stays as it is: while the caller waits before it
   * reads on, this notices the peer going away. The next `read` gives them;
   * until then this is the same read.
   *
   * @returns The bytes read, or null at the end.
   */
  peek(): Promise<Uint8Array | null> {
    this.#peeked ??= this.#peek();
    return this.#peeked;
  }

  /** Whether a read made by `peek` waits to be taken by `read`. */
  get peeking(): boolean {
    return this.#peeked !== null;
  }

  async #peek(): Promise<Uint8Array | null> {
    if (this.#readSome !== null) {
      const buffer = new Uint8Array(SMALL_READ);
      const n = await this.#readSome(buffer);
      return n === null ? null : buffer.subarray(0, n);
    }
    const { value, done } = this.#byob
      ? await (this.#reader as ReadableStreamBYOBReader).read(
        new Uint8Array(SMALL_READ),
      )
      : await (this.#reader as ReadableStreamDefaultReader<Uint8Array>).read();
    return done ? null : value;
  }

  async #takePeeked(): Promise<number | null> {
    const peeked = this.#peeked!;
    this.#peeked = null;
    const bytes = await peeked;
    if (bytes === null) return null;
    this.chunk = bytes;
    return bytes.length;
  }

  /** Whether {@linkcode ByteSource.readInto} can read into a buffer of the caller's. */
  get direct(): boolean {
    return this.#readSome !== null;
  }

  /**
   * Reads the next bytes into the start of `target` (only when
   * {@linkcode ByteSource.direct}); `chunk` is left as it is.
   *
   * @returns How many bytes were read, or null at the end.
   */
  readInto(target: Uint8Array): Promise<number | null> {
    return this.#readSome!(target);
  }

  async #readStream(): Promise<number | null> {
    if (!this.#byob) {
      const reader = this.#reader as ReadableStreamDefaultReader<Uint8Array>;
      const { value, done } = await reader.read();
      if (done) return null;
      this.chunk = value;
      return value.length;
    }
    const reader = this.#reader as ReadableStreamBYOBReader;
    const wasSmall = this.#buffer === this.#small;
    const { value, done } = await reader.read(this.#buffer!);
    if (done) return null;
    // The buffer was transferred: keep the new one.
    const buffer = new Uint8Array(value.buffer as ArrayBuffer);
    this.#buffer = buffer;
    if (wasSmall) this.#small = buffer;
    this.chunk = value;
    return value.length;
  }

  /**
   * Takes a large buffer: a stream's new (it is transferred to the stream
   * and back), else from the pool or new while fewer than 16 exist.
   */
  #enlarge(): void {
    const large = this.#readSome === null
      ? new Uint8Array(LARGE_READ)
      : largePool.take();
    if (large !== null) this.#buffer = this.chunk = large;
  }

  /** Holds a bulk buffer (pooled or new while fewer than 8 exist), or says there is none. */
  #takeBulk(): boolean {
    if (this.#bulk) return true;
    const bulk = bulkPool.take();
    if (bulk === null) return false;
    if (this.#buffer!.length > SMALL_READ) this.#release();
    this.#buffer = this.chunk = bulk;
    this.#bulk = true;
    return true;
  }

  /** Gives a bulk buffer held back to its pool. */
  #dropBulk(): void {
    if (!this.#bulk) return;
    this.#bulk = false;
    bulkPool.give(this.#buffer!);
    this.#buffer = this.chunk = this.#small!;
  }

  /** Goes back to the small buffer; the large one goes to the pool. */
  #release(): void {
    const large = this.#buffer!;
    this.#buffer = this.chunk = this.#small!;
    // A stream's buffers were transferred to it and back: not pooled.
    if (this.#readSome !== null) largePool.give(large);
  }

  /** Lets go of the fresh buffer (the frames read into it own it now). */
  #dropFresh(): void {
    this.fresh = false;
    freshHeld--;
    this.#buffer = this.chunk = this.#small!;
  }

  /** Ends a pending stream read (a transport's `read` ends with its `close`). */
  async cancel(): Promise<void> {
    await this.#reader?.cancel().catch(() => {});
  }

  /**
   * Gives back a large or fresh buffer, once no read is pending (reading
   * has ended); idempotent.
   */
  releaseBuffers(): void {
    if (this.fresh) this.#dropFresh();
    this.#dropBulk();
    if (this.#buffer !== null && this.#buffer.length > SMALL_READ) {
      this.#release();
    }
  }

  /** Releases the stream's reader, once reading has ended. */
  releaseLock(): void {
    this.releaseBuffers();
    this.#reader?.releaseLock();
  }
}
