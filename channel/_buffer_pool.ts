// A bounded, process-wide pool of same-size buffers: the read buffers of
// ByteSource and the staging buffers of FrameParser.

/**
 * Buffers of one size of which at most `max` exist in the process, held
 * or free: {@linkcode BufferPool.take} reuses a free one or makes one while
 * fewer exist, else says there is none, so what a peer can make the
 * process hold in them is bounded whatever the number of connections.
 */
export class BufferPool {
  readonly size: number;
  readonly max: number;
  #free: Uint8Array<ArrayBuffer>[] = [];
  #existing = 0;

  constructor(size: number, max: number) {
    this.size = size;
    this.max = max;
  }

  /** A free buffer, or a new one while fewer than `max` exist; else null. */
  take(): Uint8Array<ArrayBuffer> | null {
    const buffer = this.#free.pop();
    if (buffer !== undefined) return buffer;
    if (this.#existing === this.max) return null;
    this.#existing++;
    return new Uint8Array(this.size);
  }

  /** Gives a buffer back for reuse; nothing may read into it any more. */
  give(buffer: Uint8Array<ArrayBuffer>): void {
    this.#free.push(buffer);
  }

  /**
   * Lets go of a buffer that a pending read may still fill: it is never
   * reused, and another may be made in its place.
   */
  drop(): void {
    this.#existing--;
  }

  /** How many buffers exist, and how many of them are free (for tests). */
  counts(): { existing: number; pooled: number } {
    return { existing: this.#existing, pooled: this.#free.length };
  }
}
