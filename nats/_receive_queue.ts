// The bytes a NATS session has received and not read yet (see
// `NatsTransport.read`), and the reader waiting for more.

/**
 * The data messages' bytes in the order received, read across message
 * boundaries; the array is emptied when everything is read and compacted
 * when much of it has been.
 */
export class ReceiveQueue {
  #chunks: Uint8Array[] = [];
  #head = 0;
  #offset = 0;
  #wake: PromiseWithResolvers<void> | null = null;

  /** Whether everything received has been read. */
  get empty(): boolean {
    return this.#head === this.#chunks.length;
  }

  /** Queues the bytes of a data message and wakes the reader. */
  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.wake();
  }

  /** Settles at the next {@linkcode ReceiveQueue.wake}. */
  wait(): Promise<void> {
    this.#wake = Promise.withResolvers<void>();
    return this.#wake.promise;
  }

  /** Wakes the reader, if it waits: bytes came, or the session ended. */
  wake(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.resolve();
  }

  /** Fills the start of `buffer` with the next bytes; returns how many. */
  take(buffer: Uint8Array): number {
    let n = 0;
    while (n < buffer.length && this.#head < this.#chunks.length) {
      const chunk = this.#chunks[this.#head];
      const take = Math.min(buffer.length - n, chunk.length - this.#offset);
      buffer.set(chunk.subarray(this.#offset, this.#offset + take), n);
      n += take;
      this.#offset += take;
      if (this.#offset === chunk.length) {
        this.#offset = 0;
        this.#head++;
      }
    }
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
    return n;
  }
}
