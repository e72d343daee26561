// Sizes, patterned bytes and a byte-exact comparison shared by the
// bulk_ownership_*_test.ts files.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** The size from which MsgPack byte strings stay out of the codec's buffer. */
export const LARGE = 64 * KiB;
/** The size from which a frame's remainder is read straight into its buffer. */
export const DIRECT = 16 * KiB;

/** Bytes that differ from position to position (and from seed to seed). */
export function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = (seed * 0x9e3779b9) | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
  }
  return bytes;
}

/** Fails if `actual` differs from `expected` in any byte or in length. */
export function assertSame(
  actual: unknown,
  expected: unknown,
  what: string,
): void {
  if (expected instanceof Uint8Array) {
    assert.ok(actual instanceof Uint8Array, `${what}: not bytes`);
    assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
    assert.ok(
      Buffer.compare(actual, expected) === 0,
      `${what}: bytes differ`,
    );
  } else {
    assert.deepEqual(actual, expected, what);
  }
}
