// The bytes a NATS session has received and not read yet (see
// `NatsTransport.read`), and the reader waiting for more.

/**
 * The smallest block the bytes are copied into: a peer's tiny messages
 * share blocks, so what they make us hold is about what the window counts
 * (an array per message held about 170 bytes per byte counted).
 */
const BLOCK = 4096;
/** What a block read leaves in its place. */
const EMPTY = new Uint8Array(0);

/**
 * The data messages' bytes in the order received, copied into blocks
 * (every block but the last is full) and read across them; emptied when
 * everything is read, keeping one small block for the next messages.
 */
export class ReceiveQueue {
  #blocks: Uint8Array[] = [];
  /** The block being read, and where in it. */
  #head = 0;
  #offset = 0;
  /** Bytes written into the last block. */
  #tail = 0;
  /** Bytes queued. */
  #size = 0;
  #spare: Uint8Array | null = null;
  #wake: PromiseWithResolvers<void> | null = null;

  /** Whether everything received has been read. */
  get empty(): boolean {
    return this.#size === 0;
  }

  /** How many bytes are queued. */
  get size(): number {
    return this.#size;
  }

  /** Queues a copy of the bytes of a data message and wakes the reader. */
  push(bytes: Uint8Array): void {
    const blocks = this.#blocks;
    for (let at = 0; at < bytes.length;) {
      let last = blocks[blocks.length - 1];
      if (last === undefined || this.#tail === last.length) {
        const rest = bytes.length - at;
        last = rest <= BLOCK && this.#spare !== null
          ? this.#spare
          : new Uint8Array(Math.max(BLOCK, rest));
        this.#spare = null;
        blocks.push(last);
        this.#tail = 0;
      }
      const n = Math.min(last.length - this.#tail, bytes.length - at);
      last.set(bytes.subarray(at, at + n), this.#tail);
      this.#tail += n;
      at += n;
    }
    this.#size += bytes.length;
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
    const blocks = this.#blocks;
    let n = 0;
    while (n < buffer.length && this.#size > 0) {
      const block = blocks[this.#head];
      const end = this.#head === blocks.length - 1 ? this.#tail : block.length;
      const take = Math.min(buffer.length - n, end - this.#offset);
      buffer.set(block.subarray(this.#offset, this.#offset + take), n);
      n += take;
      this.#offset += take;
      this.#size -= take;
      if (this.#offset === block.length) {
        // Read: let it go now, not once 1024 have piled up behind a reader
        // that never quite catches up (up to 1024 × max_payload held). The
        // last block stays: it may become the spare.
        if (this.#head < blocks.length - 1) blocks[this.#head] = EMPTY;
        this.#head++;
        this.#offset = 0;
      }
    }
    if (this.#size === 0) {
      const last = blocks[blocks.length - 1];
      if (last !== undefined && last.length === BLOCK) this.#spare = last;
      blocks.length = 0;
      this.#head = 0;
      this.#offset = 0;
      this.#tail = 0;
    } else if (this.#head > 1024) {
      this.#blocks = blocks.slice(this.#head);
      this.#head = 0;
    }
    return n;
  }
}
