/** An entry of a {@linkcode TimerHeap}. */
export interface HeapEntry {
  deadline: number;
  seq: number;
  cancelled: boolean;
}

/** Below this many entries, cancelled ones are left until they reach the top. */
const COMPACT_MIN = 64;

/**
 * A binary min-heap ordered by (deadline, insertion). Cancelled entries
 * are dropped when they reach the top, or all at once when they are more
 * than half of the heap: on a clock whose time does not move, cancelled
 * waits would otherwise pile up without bound.
 */
export class TimerHeap<T extends HeapEntry> {
  #items: T[] = [];
  /** How many entries in the heap are cancelled. */
  #cancelled = 0;

  get size(): number {
    return this.#items.length;
  }

  /**
   * Marks `entry` (in the heap) cancelled; rebuilds the heap
   * without the cancelled entries once they are more than half of it.
   */
  cancel(entry: T): void {
    if (entry.cancelled) return;
    entry.cancelled = true;
    const items = this.#items;
    if (++this.#cancelled * 2 <= items.length || items.length < COMPACT_MIN) {
      return;
    }
    const kept = items.filter((item) => !item.cancelled);
    // Bottom-up heapify: O(n), so the rebuild costs O(1) per cancel.
    for (let i = (kept.length >> 1) - 1; i >= 0; i--) siftDown(kept, i);
    this.#items = kept;
    this.#cancelled = 0;
  }

  push(entry: T): void {
    const items = this.#items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  /** The earliest entry that is not cancelled (cancelled ones on top are dropped). */
  peek(): T | undefined {
    while (this.#items.length > 0 && this.#items[0].cancelled) this.pop();
    return this.#items[0];
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      siftDown(items, 0);
    }
    if (top?.cancelled) this.#cancelled--;
    return top;
  }

  clear(): T[] {
    const items = this.#items;
    this.#items = [];
    this.#cancelled = 0;
    return items;
  }
}

/** Moves `items[i]` down to where it belongs. */
function siftDown(items: HeapEntry[], i: number): void {
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let smallest = i;
    if (left < items.length && before(items[left], items[smallest])) {
      smallest = left;
    }
    if (right < items.length && before(items[right], items[smallest])) {
      smallest = right;
    }
    if (smallest === i) return;
    [items[i], items[smallest]] = [items[smallest], items[i]];
    i = smallest;
  }
}

function before(a: HeapEntry, b: HeapEntry): boolean {
  return a.deadline < b.deadline ||
    (a.deadline === b.deadline && a.seq < b.seq);
}
