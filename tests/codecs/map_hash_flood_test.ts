// Maps whose number or bigint keys a peer chose to share a bucket of V8's
// hash table (which hashes them without a seed): building one took time
// quadratic in its entries (65 536 int keys: 7.8 s). They are refused before
// the Map is made; keys that spread decode as before.
import assert from "node:assert/strict";
import { MsgPackBloscCodec, MsgPackCodec } from "../../codecs/mod.ts";
import { keyHash, MAX_BUCKET_KEYS } from "../../codecs/_hash_flood.ts";

/** `count` keys from `next()` whose V8 hashes share their low `bits` bits. */
function colliding<T>(count: number, bits: number, next: () => T): T[] {
  const mask = (1 << bits) - 1;
  const keys: T[] = [];
  let bucket = -1;
  while (keys.length < count) {
    const key = next();
    const hash = keyHash(key) & mask;
    if (bucket === -1) bucket = hash;
    if (hash === bucket) keys.push(key);
  }
  return keys;
}

let i = 0;
const KINDS = {
  "int32": () => (i++ * 7919) | 0,
  "float": () => 2 ** 40 + i++ + 0.5,
  "bigint": () => 2n ** 60n + BigInt(i++),
} as const;

for (const [kind, next] of Object.entries(KINDS)) {
  Deno.test(`msgpack: a Map whose ${kind} keys were chosen to share a bucket is refused before it is built`, async () => {
    // 256 entries, a table of 128 buckets while it holds them; a bucket
    // with more keys than allowed.
    const crowd = colliding(MAX_BUCKET_KEYS + 1, 7, next as () => unknown);
    const others = Array.from({ length: 256 - crowd.length }, () => -1 - i++);
    const map = new Map<unknown, number>(
      [...crowd, ...others].map((key) => [key, 0]),
    );
    assert.equal(map.size, 256);
    for (const codec of [new MsgPackCodec(), new MsgPackBloscCodec()]) {
      await assert.rejects(
        async () => await codec.decode(await codec.encode(map)),
        (error: Error) => {
          assert.ok(error instanceof RangeError, String(error));
          assert.match(
            error.message,
            /^Cannot decode MsgPack: a map of 256 entries has 33 keys in one bucket of V8's hash table, where at most 32 are allowed \(keys chosen to collide make building the Map take quadratic time/,
          );
          return true;
        },
      );
    }
    // Half as many in one bucket (and the others where they fall): decoded.
    const fewer = new Map(
      [...crowd.slice(0, MAX_BUCKET_KEYS / 2), ...others].map((
        key,
      ) => [key, 0]),
    );
    const codec = new MsgPackCodec();
    assert.deepEqual(codec.decode(codec.encode(fewer)), fewer);
  });
}

Deno.test("msgpack: the smallest Map counted has 64 entries (a table of 32 buckets while it holds them)", async () => {
  const crowd = colliding(MAX_BUCKET_KEYS + 1, 5, KINDS.int32);
  const codec = new MsgPackCodec();
  const map = (extra: number) =>
    new Map<unknown, number>(
      [...crowd, ...Array.from({ length: extra }, () => -1 - i++)].map((
        key,
      ) => [key, 0]),
    );
  await assert.rejects(
    async () => await codec.decode(codec.encode(map(64 - crowd.length))),
    /a map of 64 entries has 33 keys in one bucket/,
  );
  // One entry fewer: not counted (it costs at most 63 squared).
  const small = map(63 - crowd.length);
  assert.deepEqual(codec.decode(codec.encode(small)), small);
});

Deno.test("msgpack: Maps of many keys that spread as they come decode (ints, floats, bigints, mixed)", () => {
  const codec = new MsgPackCodec();
  const maps = [
    new Map(Array.from({ length: 100_000 }, (_, k) => [k, k])),
    new Map(Array.from({ length: 50_000 }, (_, k) => [k * 1024, 1])),
    new Map(Array.from({ length: 50_000 }, (_, k) => [k / 7 + 0.25, 1])),
    new Map(
      Array.from({ length: 20_000 }, (_, k) => [2n ** 62n + BigInt(k), 1]),
    ),
    new Map<unknown, number>(
      Array.from({ length: 20_000 }, (_, k) => [k % 2 ? k : `k${k}`, 1]),
    ),
  ];
  for (const map of maps) {
    assert.deepEqual(codec.decode(codec.encode(map)), map);
  }
});

Deno.test("msgpack: a key that repeats counts once (the later value replaces the first)", async () => {
  const crowd = colliding(MAX_BUCKET_KEYS + 1, 7, KINDS.int32);
  /** A map32 of `keys`, each an int32 mapped to 0, in this order. */
  const map32 = (keys: number[]) => {
    const bytes = new Uint8Array(5 + keys.length * 6);
    const view = new DataView(bytes.buffer);
    bytes[0] = 0xdf;
    view.setUint32(1, keys.length);
    keys.forEach((key, k) => {
      bytes[5 + 6 * k] = 0xd2;
      view.setInt32(6 + 6 * k, key);
    });
    return bytes;
  };
  const codec = new MsgPackCodec();
  // 32 keys of one bucket, each 10 times: 320 entries, a Map of 32.
  const repeats = map32(
    Array.from({ length: 10 }, () => crowd.slice(0, -1)).flat(),
  );
  const decoded = codec.decode(repeats) as Map<number, number>;
  assert.equal(decoded.size, MAX_BUCKET_KEYS);
  // With 33 of that bucket among 256 keys or more, each twice: refused.
  const others = Array.from({ length: 230 }, () => -1 - i++);
  const keys = [...crowd, ...others];
  await assert.rejects(
    async () => await codec.decode(map32([...keys, ...keys])),
    /has 33 keys in one bucket/,
  );
});
