/** An entry of a {@linkcode TimerHeap}. */
export interface HeapEntry {
  deadline: number;
  seq: number;
  cancelled: boolean;
}

/** A binary min-heap ordered by (deadline, insertion). */
export class TimerHeap<T extends HeapEntry> {
  #items: T[] = [];

  get size(): number {
    return this.#items.length;
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
      let i = 0;
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
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest], items[i]];
        i = smallest;
      }
    }
    return top;
  }

  clear(): T[] {
    const items = this.#items;
    this.#items = [];
    return items;
  }
}

function before(a: HeapEntry, b: HeapEntry): boolean {
  return a.deadline < b.deadline ||
    (a.deadline === b.deadline && a.seq < b.seq);
}
