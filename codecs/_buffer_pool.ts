// Encode buffers above what a writer keeps, shared by every writer of the
// process. A writer that grows past KEPT_BUFFER takes its next buffer from
// here (or allocates one). It keeps that buffer for its next message if the
// last one filled more than half of it (a stream of messages of about one
// size), and otherwise gives it back at the start of its next call, when
// the view it returned is no longer valid (Codec.encodeView): the next large
// message, of any connection, reuses it instead of regrowing from a small
// buffer. The pool is bounded, so a burst of large messages on many
// connections leaves at most MAX_POOLED_BYTES behind. A reused buffer still
// holds an earlier message's bytes past the new one's end: writers only ever
// hand out the bytes they wrote (a view of [0, end)).

/** Buffers up to this size stay with their writer between messages. */
export const KEPT_BUFFER = 64 * 1024;
/** Larger buffers are never pooled (one message of that size is rare). */
export const MAX_POOLED_BUFFER = 8 * 1024 * 1024;
/** The most the pool holds, in bytes. */
export const MAX_POOLED_BYTES = 16 * 1024 * 1024;

const pool: Uint8Array<ArrayBuffer>[] = [];
let pooledBytes = 0;

/**
 * The size to grow a buffer of `current` bytes to so that it holds
 * `needed`: at least double, and a power of two up to
 * {@linkcode MAX_POOLED_BUFFER} so that pooled buffers fit the next
 * message of about the same size.
 */
export function grownSize(current: number, needed: number): number {
  const size = Math.max(needed, current * 2);
  if (size > MAX_POOLED_BUFFER) return size;
  return 2 ** Math.ceil(Math.log2(size));
}

/**
 * A buffer of at least `size` bytes: the smallest pooled one that is large
 * enough (of those, the one given back last, likely still in the caches),
 * or a new one. Its bytes are not cleared.
 */
export function takeBuffer(size: number): Uint8Array<ArrayBuffer> {
  let best = -1;
  for (let i = pool.length - 1; i >= 0; i--) {
    const length = pool[i].length;
    if (length >= size && (best < 0 || length < pool[best].length)) best = i;
  }
  if (best < 0) return new Uint8Array(size);
  const buffer = pool[best];
  pool.splice(best, 1);
  pooledBytes -= buffer.length;
  return buffer;
}

/**
 * Gives a buffer from {@linkcode takeBuffer} back; the caller must hold no
 * view of it any more. Dropped if it is too large or the pool is full.
 */
export function giveBuffer(buffer: Uint8Array<ArrayBuffer>): void {
  const length = buffer.length;
  if (length > MAX_POOLED_BUFFER || pooledBytes + length > MAX_POOLED_BYTES) {
    return;
  }
  pool.push(buffer);
  pooledBytes += length;
}

/** The bytes the pool holds (for tests). */
export function pooledSize(): number {
  return pooledBytes;
}

/**
 * A writer's buffers: a kept one that grows (doubling) up to
 * {@linkcode KEPT_BUFFER}, and a pooled one while messages need more.
 */
export class EncodeBuffers {
  // Small: every connection keeps one, and most messages are far smaller.
  #small: Uint8Array<ArrayBuffer> = new Uint8Array(256);
  #current: Uint8Array<ArrayBuffer> = this.#small;
  /** Where the last message ended. */
  used = 0;

  /**
   * The buffer for the next message. A pooled buffer goes back to the pool
   * unless the last message filled more than half of it.
   */
  start(): Uint8Array<ArrayBuffer> {
    const current = this.#current;
    if (
      current !== this.#small &&
      (this.used * 2 <= current.length || current.length > MAX_POOLED_BUFFER)
    ) {
      this.release();
    }
    return this.#current;
  }

  /**
   * A buffer of at least `needed` bytes with the first `filled` bytes of
   * the current one.
   */
  grow(filled: number, needed: number): Uint8Array<ArrayBuffer> {
    const old = this.#current;
    const size = grownSize(old.length, needed);
    const grown = size > KEPT_BUFFER ? takeBuffer(size) : new Uint8Array(size);
    grown.set(old.subarray(0, filled));
    if (old === this.#small) {
      if (size <= KEPT_BUFFER) this.#small = grown;
    } else {
      giveBuffer(old);
    }
    this.#current = grown;
    return grown;
  }

  /** Gives a pooled buffer back (nobody holds a view of it any more). */
  release(): void {
    if (this.#current === this.#small) return;
    giveBuffer(this.#current);
    this.#current = this.#small;
  }
}
