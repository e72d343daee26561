// Shared by the budget_*_test.ts files: the scaled-down units and budget,
// an array32 frame builder, and assertCosts, which decodes with a budget of
// exactly a frame's cost (which must work) and one unit less (which must be
// refused before any value is built).
import assert from "node:assert/strict";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const BUDGET = MiB;
export const text = new TextEncoder();

/** An array32 of `count` copies of `item`. */
export function array32(count: number, item: readonly number[]): Uint8Array {
  const frame = new Uint8Array(5 + count * item.length);
  frame.set([
    0xdd,
    count >>> 24,
    (count >> 16) & 255,
    (count >> 8) & 255,
    count & 255,
  ]);
  for (let i = 0; i < count; i++) frame.set(item, 5 + i * item.length);
  return frame;
}

export type Decoder = (budget: number) => unknown | Promise<unknown>;

/**
 * `decode` works with a budget of exactly `cost` and is refused, with the
 * budget and a count beyond it in the message, with one unit less.
 */
export async function assertCosts(
  cost: number,
  decode: Decoder,
  check: (value: unknown) => void = () => {},
): Promise<void> {
  check(await decode(cost));
  await assert.rejects(
    async () => await decode(cost - 1),
    (error: Error) => {
      assert.ok(error instanceof RangeError, String(error));
      assert.match(
        error.message,
        new RegExp(`more than maxDecodedSize \\(${cost - 1} units\\)`),
      );
      return true;
    },
  );
}
