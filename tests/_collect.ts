// A full garbage collection from inside a test (tests run without
// --expose-gc), to check what is still reachable.
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";

// Exposing `gc` after start-up applies to contexts made from then on.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/**
 * Ends the current job (WeakRefs created in it keep their targets until
 * then), then runs a full garbage collection.
 */
export async function collectGarbage(): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  gc();
}

/**
 * Asserts that the target of every reference in `refs` was collected;
 * `what(i)` says who kept the i-th one. Not assert.equal: it would print
 * the whole value.
 */
export function assertCollected(
  refs: readonly WeakRef<object>[],
  what: (index: number) => string,
): void {
  refs.forEach((ref, i) => assert.ok(ref.deref() === undefined, what(i)));
}

/**
 * Names the references of calls as pushed by the retention tests: what
 * each call sent, then its result. `side` is who keeps them.
 */
export function sentThenResult(side: string): (index: number) => string {
  return (i) =>
    `${side} keeps ${i % 2 === 0 ? "what it sent" : "the result"} (call ${
      i >> 1
    })`;
}
