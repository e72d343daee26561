// What an ExternalClock holds for waits that were cancelled, and the times
// it takes (a peer reaches setTime through Manager.set_time).
import assert from "node:assert/strict";
import { ExternalClock, type TimerHandle } from "../../agent/mod.ts";
import { type HeapEntry, TimerHeap } from "../../agent/_timer_heap.ts";
import { assertCollected, collectGarbage } from "../_collect.ts";

const START = "2016-01-01T00:00:00+00:00";

/**
 * Sleeps cancelled by their signal: what the clock would keep of each is
 * its signal (its entry's callbacks removed their listener from it).
 */
function cancelSleeps(clock: ExternalClock, n: number): WeakRef<object>[] {
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < n; i++) {
    const controller = new AbortController();
    clock.sleep(3600, { signal: controller.signal }).catch(() => {});
    controller.abort();
    refs.push(new WeakRef(controller.signal));
  }
  return refs;
}

/** Calls cancelled by their handle, each with an argument. */
function cancelCalls(clock: ExternalClock, n: number): WeakRef<object>[] {
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < n; i++) {
    const args = { call: i };
    clock.callIn(3600, (x: object) => x, args).cancel();
    refs.push(new WeakRef(args));
  }
  return refs;
}

/** Calls that ran or were cancelled by cancelAll, their handles kept. */
function endCalls(
  clock: ExternalClock,
  handles: TimerHandle[],
): WeakRef<object>[] {
  const refs: WeakRef<object>[] = [];
  for (const due of [1, 3600]) {
    const args = { due };
    handles.push(clock.callIn(due, (x: object) => x, args));
    refs.push(new WeakRef(args));
  }
  clock.setTime(clock.time() + 1);
  clock.cancelAll();
  return refs;
}

Deno.test("ExternalClock: cancelled sleeps and calls let go of what they would have run", async () => {
  const clock = new ExternalClock(START);
  // Due sooner than the cancelled ones: they never reach the top.
  const live = clock.callIn(1, () => {});
  const sleeps = cancelSleeps(clock, 3);
  const calls = cancelCalls(clock, 3);
  await collectGarbage();
  assertCollected(sleeps, (i) => `the clock keeps cancelled sleep ${i}`);
  assertCollected(calls, (i) => `the clock keeps cancelled call ${i}`);
  assert.equal(clock.nextActivity(), 1);
  live.cancel();
  assert.equal(clock.nextActivity(), null);
});

Deno.test("ExternalClock: a handle kept after its call ran or cancelAll does not keep the call", async () => {
  const clock = new ExternalClock(START);
  const handles: TimerHandle[] = [];
  const refs = endCalls(clock, handles);
  await collectGarbage();
  assertCollected(
    refs,
    (i) =>
      `a handle keeps ${
        i === 0 ? "a call that ran" : "a call cancelAll ended"
      }`,
  );
  assert.equal(handles.length, 2);
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
  // Infinity ran every timer, and 1e300 left utcnow() an invalid date.
  for (const t of [Infinity, NaN, -Infinity, 1e300]) {
    assert.throws(
      () => clock.setTime(t),
      new RangeError(
        `Cannot set time to ${t} on an ExternalClock: not a finite number of seconds within the dates a Date holds`,
      ),
    );
  }
  assert.throws(
    () => clock.sleep(NaN),
    new RangeError("Cannot wait NaN seconds on an ExternalClock"),
  );
  assert.throws(
    () => clock.sleepUntil(NaN),
    new RangeError("Cannot wait until NaN on an ExternalClock: not a time"),
  );
  // Waits may be Infinity: never due (only cancelled), so no activity (a
  // master's setTime(nextActivity()) would be refused).
  const never = new AbortController();
  const forever = clock.sleep(Infinity, { signal: never.signal });
  assert.equal(clock.nextActivity(), null);
  never.abort();
  await assert.rejects(forever);
  assert.throws(() => clock.sleep("1" as unknown as number), TypeError);
  assert.throws(
    () => clock.callIn([1] as unknown as number, () => {}),
    TypeError,
  );
  assert.throws(
    () => clock.sleepUntil("3" as unknown as number),
    /^TypeError: Cannot wait until "3" on an ExternalClock: neither a number nor a Date$/,
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
