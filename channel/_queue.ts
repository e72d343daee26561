/** The first capacity of a queue; it doubles whenever the queue is full. */
const INITIAL_CAPACITY = 16;

/**
 * A FIFO queue with O(1) push and shift: a ring whose capacity is a power
 * of two. A steady stream of items (a chunk's requests pushed, then taken)
 * allocates nothing; an array with a moving head would grow and be copied
 * over and over instead.
 */
export class Queue<T> {
  #ring: (T | undefined)[] = new Array(INITIAL_CAPACITY).fill(undefined);
  #mask = INITIAL_CAPACITY - 1;
  #head = 0;
  #length = 0;

  /** How many items are queued. */
  get length(): number {
    return this.#length;
  }

  /** Adds an item at the end. */
  push(item: T): void {
    if (this.#length === this.#ring.length) this.#grow();
    this.#ring[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  /** Removes and returns the first item, or undefined if there is none. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const head = this.#head;
    const item = this.#ring[head];
    // The slot must not keep the item alive.
    this.#ring[head] = undefined;
    this.#head = (head + 1) & this.#mask;
    this.#length--;
    return item;
  }

  /** Removes every item (and lets go of a grown ring). */
  clear(): void {
    this.#ring = new Array(INITIAL_CAPACITY).fill(undefined);
    this.#mask = INITIAL_CAPACITY - 1;
    this.#head = 0;
    this.#length = 0;
  }

  /** Doubles the ring, its items first in order. */
  #grow(): void {
    const size = this.#ring.length * 2;
    const ring: (T | undefined)[] = new Array(size).fill(undefined);
    for (let i = 0; i < this.#length; i++) {
      ring[i] = this.#ring[(this.#head + i) & this.#mask];
    }
    this.#ring = ring;
    this.#mask = size - 1;
    this.#head = 0;
  }
}
