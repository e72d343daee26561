/** The smallest ring; it doubles while calls in flight fill half of it. */
const INITIAL_RING = 32;
/** The ring grows no further than this; beyond it, calls go to the map. */
const MAX_RING = 64 * 1024;

/**
 * Calls waiting for a reply, by id. Ids are handed out in order, so a call
 * sits in a ring at `id % size`; a call still waiting when its slot comes
 * round again moves to a map (one that never gets a reply must not make
 * the ring grow forever).
 *
 * Why not a `Map`: with calls coming and going every few microseconds, a
 * `Map` allocates a new table over and over as it grows and shrinks. Once
 * V8's young generation has grown (any allocation burst does it), the
 * dead tables keep the calls they pointed to alive through minor GCs:
 * about 20 % of what a busy client allocated survived each scavenge, and
 * scavenges took 5–18 ms every ~100 ms. The ring is one array whose slots
 * are cleared when a call ends.
 */
export class PendingTable<T extends { readonly id: number }> {
  #ring: (T | undefined)[] = new Array(INITIAL_RING).fill(undefined);
  #mask = INITIAL_RING - 1;
  /** How many calls are in the ring. */
  #inRing = 0;
  /** Calls that outlived a lap of the ring. */
  #overflow: Map<number, T> | null = null;

  /** How many calls are waiting. */
  get size(): number {
    return this.#inRing + (this.#overflow?.size ?? 0);
  }

  /** Adds a call; its id must be larger than every id added before. */
  add(entry: T): void {
    const index = entry.id & this.#mask;
    const old = this.#ring[index];
    if (old !== undefined) {
      if (this.#inRing * 2 >= this.#ring.length && this.#grow()) {
        return this.add(entry);
      }
      // A call that is taking long: out of the ring's way.
      (this.#overflow ??= new Map()).set(old.id, old);
      this.#inRing--;
    }
    this.#ring[index] = entry;
    this.#inRing++;
  }

  /** The call with this id, if it is waiting. */
  get(id: number): T | undefined {
    const entry = this.#ring[id & this.#mask];
    if (entry !== undefined && entry.id === id) return entry;
    return this.#overflow?.get(id);
  }

  /** Removes the call with this id; returns it, if it was waiting. */
  take(id: number): T | undefined {
    const index = id & this.#mask;
    const entry = this.#ring[index];
    if (entry !== undefined && entry.id === id) {
      this.#ring[index] = undefined;
      this.#inRing--;
      return entry;
    }
    const overflow = this.#overflow;
    if (overflow === null) return undefined;
    const late = overflow.get(id);
    if (late !== undefined) {
      overflow.delete(id);
      if (overflow.size === 0) this.#overflow = null;
    }
    return late;
  }

  /** Removes every call and returns them, oldest first. */
  clear(): T[] {
    const all: T[] = [];
    for (const entry of this.#ring) if (entry !== undefined) all.push(entry);
    if (this.#overflow !== null) all.push(...this.#overflow.values());
    // In the order they were made, as they are rejected on close.
    all.sort((a, b) => a.id - b.id);
    this.#ring = new Array(INITIAL_RING).fill(undefined);
    this.#mask = INITIAL_RING - 1;
    this.#inRing = 0;
    this.#overflow = null;
    return all;
  }

  /** Doubles the ring (false at its limit); the calls keep their slots by id. */
  #grow(): boolean {
    const size = this.#ring.length * 2;
    if (size > MAX_RING) return false;
    const ring: (T | undefined)[] = new Array(size).fill(undefined);
    const mask = size - 1;
    for (const entry of this.#ring) {
      if (entry !== undefined) ring[entry.id & mask] = entry;
    }
    this.#ring = ring;
    this.#mask = mask;
    return true;
  }
}
