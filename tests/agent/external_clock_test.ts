// What an ExternalClock holds for waits that were cancelled, and the times
// it takes (a peer reaches setTime through Manager.set_time).
import assert from "node:assert/strict";
import { ExternalClock } from "../../agent/mod.ts";
import { type HeapEntry, TimerHeap } from "../../agent/_timer_heap.ts";
import { assertCollected, collectGarbage } from "../_collect.ts";

const START = "2016-01-01T00:00:00+00:00";

/** Cancelled sleeps and calls, each holding an object seen by a WeakRef. */
function cancelWaits(clock: ExternalClock, n: number): WeakRef<object>[] {
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < n; i++) {
    const held = { sleep: i };
    const controller = new AbortController();
    clock.sleep(3600, { signal: controller.signal }).then(
      () => held,
      () => {},
    );
    controller.abort();
    const args = { call: i };
    clock.callIn(3600, (x: object) => x, args).cancel();
    refs.push(new WeakRef(held), new WeakRef(args));
  }
  return refs;
}

Deno.test("ExternalClock: cancelled sleeps and calls let go of what they would have run", async () => {
  const clock = new ExternalClock(START);
  // Due sooner than the cancelled ones: they never reach the top.
  const live = clock.callIn(1, () => {});
  const refs = cancelWaits(clock, 3);
  await collectGarbage();
  assertCollected(
    refs,
    (i) =>
      `the clock keeps the ${i % 2 === 0 ? "sleeper" : "call's argument"} ${
        i >> 1
      }`,
  );
  assert.equal(clock.nextActivity(), 1);
  live.cancel();
  assert.equal(clock.nextActivity(), null);
});

Deno.test("ExternalClock: a wait cancelled after it ran changes nothing", async () => {
  const clock = new ExternalClock(START);
  let calls = 0;
  const handle = clock.callIn(1, () => calls++);
  const controller = new AbortController();
  const slept = clock.sleep(1, { signal: controller.signal });
  clock.setTime(1);
  await slept;
  handle.cancel();
  controller.abort();
  assert.equal(handle.cancelled, false);
  assert.equal(calls, 1);
  clock.callIn(1, () => calls++);
  clock.setTime(2);
  assert.equal(calls, 2);
});

Deno.test("TimerHeap: cancelled entries are dropped once they are more than half, and the order holds", () => {
  const heap = new TimerHeap<HeapEntry>();
  const entries: HeapEntry[] = [];
  // Deadlines out of order, some equal: (deadline, seq) decides.
  for (let seq = 0; seq < 1000; seq++) {
    const entry = { deadline: (seq * 7919) % 101, seq, cancelled: false };
    entries.push(entry);
    heap.push(entry);
  }
  let most = 0;
  for (const entry of entries) {
    if (entry.seq % 5 === 0) continue;
    heap.cancel(entry);
    most = Math.max(most, heap.size);
    // Never more cancelled than live, past the first few.
    const live = entries.filter((e) => !e.cancelled).length;
    assert.ok(heap.size <= Math.max(64, 2 * live + 1), `size ${heap.size}`);
  }
  assert.ok(heap.size < 400, `still ${heap.size} entries for 200 live`);
  const order: HeapEntry[] = [];
  for (let entry = heap.peek(); entry !== undefined; entry = heap.peek()) {
    order.push(heap.pop()!);
  }
  const expected = entries.filter((e) => !e.cancelled).sort((a, b) =>
    a.deadline - b.deadline || a.seq - b.seq
  );
  assert.deepEqual(order, expected);
  assert.equal(most, 1000);
});

Deno.test("ExternalClock: times that are not finite numbers are refused", async () => {
  const clock = new ExternalClock(START, 2);
  for (const t of ["5", [7], null, undefined, { valueOf: () => 9 }]) {
    assert.throws(
      () => clock.setTime(t as unknown as number),
      (error: unknown) =>
        error instanceof TypeError &&
        /^Cannot set time to .* on an ExternalClock: not a number$/.test(
          error.message,
        ),
    );
  }
  for (const t of [Infinity, NaN, -Infinity]) {
    assert.throws(
      () => clock.setTime(t),
      new RangeError(
        `Cannot set time to ${t} on an ExternalClock: not a finite number`,
      ),
    );
  }
  assert.throws(() => clock.sleep("1" as unknown as number), TypeError);
  assert.throws(
    () => clock.callIn([1] as unknown as number, () => {}),
    TypeError,
  );
  assert.throws(
    () => clock.sleepUntil("3" as unknown as number),
    /^TypeError: Cannot wait until "3" on an ExternalClock: not a number$/,
  );
  assert.throws(
    () => new ExternalClock(START, "1" as unknown as number),
    TypeError,
  );
  assert.throws(() => new ExternalClock(START, Infinity), RangeError);
  // Nothing was changed by the refusals: the clock works on.
  assert.equal(clock.time(), 2);
  const slept = clock.sleep(1);
  clock.setTime(3);
  await slept;
  assert.equal(clock.utcnow().toISOString(), "2016-01-01T00:00:03.000Z");
});
