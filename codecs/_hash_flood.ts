// A Map with number or bigint keys chosen to share a bucket of V8's hash
// table takes quadratic time to build: V8 hashes those keys with no seed
// (ComputeUnseededHash for int32 values, ComputeLongHash of the bits for
// other numbers and of the lowest 64-bit digit for bigints), so a peer can
// pick 65 536 keys of one bucket, which took 7.8 s to decode (2026-12-08,
// Deno 2.9.6, V8 15.0). The keys' buckets are counted here as V8 would fill
// them, before the Map is made.

/**
 * Maps with fewer entries are not counted: each costs at most this squared
 * (1000 maps of 255 colliding keys took 3.6 times spread ones).
 */
const COUNT_FROM = 64;
/**
 * The most keys allowed in one bucket. V8's tables hold up to 2 keys per
 * bucket; keys spread by the hash fill one with more than 32 about never.
 */
export const MAX_BUCKET_KEYS = 32;

const double = new Float64Array(1);
const doubleBits = new Uint32Array(double.buffer);

/**
 * V8's ComputeUnseededHash of an int32 (`key` as its 32 bits).
 */
function intHash(key: number): number {
  let h = key >>> 0;
  h = (~h + (h << 15)) >>> 0;
  h = (h ^ (h >>> 12)) >>> 0;
  h = (h + (h << 2)) >>> 0;
  h = (h ^ (h >>> 4)) >>> 0;
  h = Math.imul(h, 2057) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h & 0x3fffffff;
}

/**
 * V8's ComputeLongHash of the 64-bit value `high:low`, in 32-bit halves
 * (BigInt arithmetic is 30 times slower).
 */
function longHash(high: number, low: number): number {
  // h = ~h + (h << 18)
  let sum = (~low >>> 0) + ((low << 18) >>> 0);
  let h = ((~high >>> 0) + (((high << 18) | (low >>> 14)) >>> 0) +
    (sum > 0xffffffff ? 1 : 0)) >>> 0;
  let l = sum >>> 0;
  // h ^= h >> 31
  l = (l ^ ((h << 1) | (l >>> 31))) >>> 0;
  h = (h ^ (h >>> 31)) >>> 0;
  // h *= 21 (the low half's product is exact in a double)
  const product = l * 21;
  l = product >>> 0;
  h = (Math.imul(h, 21) + (product - l) / 0x100000000) >>> 0;
  // h ^= h >> 11
  l = (l ^ ((h << 21) | (l >>> 11))) >>> 0;
  h = (h ^ (h >>> 11)) >>> 0;
  // h += h << 6
  sum = l + ((l << 6) >>> 0);
  h = (h + (((h << 6) | (l >>> 26)) >>> 0) + (sum > 0xffffffff ? 1 : 0)) >>>
    0;
  l = sum >>> 0;
  // h ^= h >> 22; the hash is its low 30 bits
  return (l ^ ((h << 10) | (l >>> 22))) & 0x3fffffff;
}

/** V8's hash of a Map key, or -1 for one whose hash V8 seeds or picks at random. */
export function keyHash(key: unknown): number {
  if (typeof key === "number") {
    if ((key | 0) === key) return intHash(key);
    // One NaN key at most; -0 is stored as 0 (an int32).
    if (key !== key) return -1;
    double[0] = key;
    return longHash(doubleBits[1], doubleBits[0]);
  }
  if (typeof key === "bigint") {
    // Its lowest 64-bit digit: its magnitude's.
    const digit = BigInt.asUintN(64, key < 0n ? -key : key);
    return longHash(
      Number(digit >> 32n),
      Number(digit & 0xffffffffn),
    );
  }
  return -1;
}

/**
 * The most keys of `entries` (keys at even indices) that share a bucket of
 * V8's table at any size it has while they are added, if that is more than
 * {@linkcode MAX_BUCKET_KEYS}; 0 otherwise. A key that repeats counts once
 * (its later value replaces the first, in the same place).
 */
export function crowdedBucket(entries: readonly unknown[]): number {
  const size = entries.length / 2;
  if (size < COUNT_FROM) return 0;
  const hashes = new Int32Array(size);
  for (let i = 0; i < size; i++) hashes[i] = keyHash(entries[2 * i]);
  // Repeats are rare: looked for only when a bucket is crowded.
  return crowded(hashes) === 0 ? 0 : crowded(firstOccurrences(entries, hashes));
}

/** What {@linkcode crowdedBucket} says of keys with these hashes. */
function crowded(hashes: Int32Array): number {
  const size = hashes.length;
  // A table of `buckets` buckets holds up to twice as many keys, then
  // doubles: count the keys it held at each size.
  const counts = new Uint32Array(2 * size);
  for (let buckets = COUNT_FROM / 2; buckets < 2 * size; buckets *= 2) {
    const mask = buckets - 1;
    const held = Math.min(size, 2 * buckets);
    counts.fill(0, 0, buckets);
    for (let i = 0; i < held; i++) {
      const hash = hashes[i];
      if (hash < 0) continue;
      const count = ++counts[hash & mask];
      if (count > MAX_BUCKET_KEYS) return count;
    }
  }
  return 0;
}

/**
 * The hashes of the keys of `entries` in order, each number or bigint key
 * once (found by sorting, which no choice of keys slows down).
 */
function firstOccurrences(
  entries: readonly unknown[],
  hashes: Int32Array,
): Int32Array {
  const order: number[] = [];
  for (let i = 0; i < hashes.length; i++) if (hashes[i] >= 0) order.push(i);
  const key = (i: number) => entries[2 * i] as number | bigint;
  order.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    if (typeof x !== typeof y) return typeof x === "number" ? -1 : 1;
    return x < y ? -1 : x > y ? 1 : a - b;
  });
  const repeated = new Uint8Array(hashes.length);
  for (let j = 1; j < order.length; j++) {
    // Equal keys (0 and -0 too) sort together, first occurrence first.
    if (key(order[j]) === key(order[j - 1])) repeated[order[j]] = 1;
  }
  return hashes.filter((_, i) => repeated[i] === 0);
}
