// The batch buffers of FrameWriter (channel/_frame_writer.ts), pooled per
// process.

/** The first size of a batch buffer; it grows as needed. */
export const INITIAL_BATCH = 4 * 1024;
/**
 * The size of a batch buffer grown past 64 KiB (a copied large payload):
 * one size, so that any writer can reuse any of them.
 */
export const LARGE_BATCH = 256 * 1024;
/** How many free small batch buffers the process keeps. */
const MAX_POOLED = 256;
/** How many free {@linkcode LARGE_BATCH} buffers the process keeps (1 MiB). */
const MAX_LARGE_POOLED = 4;
/**
 * Free batch buffers of {@linkcode INITIAL_BATCH} bytes (`pool`) and of
 * {@linkcode LARGE_BATCH} bytes (`largePool`), shared by every writer of
 * the process: a writer with nothing to write gives its buffers back, so
 * an idle connection holds none, and a busy one reuses them instead of
 * allocating (fresh large buffers cost page faults and zeroing on every
 * message). Only the bytes a writer puts in are ever written.
 */
const pool: Uint8Array<ArrayBuffer>[] = [];
const largePool: Uint8Array<ArrayBuffer>[] = [];

/** Gives a free batch buffer back (kept if it is of a pooled size). */
export function recycle(buffer: Uint8Array<ArrayBuffer>): void {
  if (buffer.length === INITIAL_BATCH) {
    if (pool.length < MAX_POOLED) pool.push(buffer);
  } else if (buffer.length === LARGE_BATCH) {
    if (largePool.length < MAX_LARGE_POOLED) largePool.push(buffer);
  }
}

/** A batch buffer of `size` bytes: a pooled one for the pooled sizes. */
export function batchBuffer(size: number): Uint8Array<ArrayBuffer> {
  if (size === INITIAL_BATCH) return pool.pop() ?? new Uint8Array(size);
  if (size === LARGE_BATCH) return largePool.pop() ?? new Uint8Array(size);
  return new Uint8Array(size);
}

/**
 * A batch buffer for at least `needed` bytes holding the bytes `from` to
 * `to` of `batch` at its start: a pooled one of the first size or of
 * 256 KiB where it fits, else twice as large (or as needed).
 */
export function grownBatch(
  batch: Uint8Array<ArrayBuffer>,
  from: number,
  to: number,
  needed: number,
): Uint8Array<ArrayBuffer> {
  if (to === from && needed <= INITIAL_BATCH) {
    return batchBuffer(INITIAL_BATCH);
  }
  // Doubles a batch that keeps bytes; one that keeps none only fits `needed`.
  const doubled = to > from ? batch.length * 2 : 0;
  let size = Math.max(needed, doubled, INITIAL_BATCH);
  if (size > 64 * 1024 && needed <= LARGE_BATCH) size = LARGE_BATCH;
  const grown = batchBuffer(size);
  if (to > from) grown.set(batch.subarray(from, to));
  return grown;
}
