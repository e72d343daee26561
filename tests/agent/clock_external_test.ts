// ExternalClock: time set from outside by setTime, the order in which sleepers
// and calls wake, cancelling and aborting them, and the targets it refuses.
import assert from "node:assert/strict";
import { ExternalClock } from "../../agent/mod.ts";

const START = "2016-01-01T00:00:00+00:00";

/** Lets every pending promise reaction run (no timers involved). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("ExternalClock: time and utcnow", () => {
  const clock = new ExternalClock(START);
  assert.equal(clock.time(), 0);
  assert.equal(clock.utcnow().toISOString(), "2016-01-01T00:00:00.000Z");
  clock.setTime(1.5);
  assert.equal(clock.time(), 1.5);
  assert.equal(clock.utcnow().toISOString(), "2016-01-01T00:00:01.500Z");
  clock.setTime(86400);
  assert.equal(clock.utcnow().toISOString(), "2016-01-02T00:00:00.000Z");
  // A Date start and an initial time.
  const later = new ExternalClock(new Date("2020-02-29T12:00:00Z"), 60);
  assert.equal(later.time(), 60);
  assert.equal(later.utcnow().toISOString(), "2020-02-29T12:01:00.000Z");
  // Other offsets are read.
  const offset = new ExternalClock("2016-01-01T01:00:00+01:00");
  assert.equal(offset.utcnow().toISOString(), "2016-01-01T00:00:00.000Z");
  assert.throws(() => new ExternalClock("not a date"), RangeError);
});

Deno.test("ExternalClock: setTime must be strictly later", () => {
  const clock = new ExternalClock(START, 10);
  assert.throws(() => clock.setTime(10), {
    name: "RangeError",
    message: /later than 10/,
  });
  assert.throws(() => clock.setTime(9), RangeError);
  assert.throws(() => clock.setTime(NaN), RangeError);
  assert.equal(clock.time(), 10);
  clock.setTime(10.001);
  assert.equal(clock.time(), 10.001);
  assert.throws(() => clock.setTime(10.001), RangeError);
});

Deno.test("ExternalClock: sleep, sleepUntil and calls wake in (deadline, insertion) order", async () => {
  const clock = new ExternalClock(START);
  const slept: string[] = [];
  const called: string[] = [];
  const record = (name: string) => () => slept.push(`${name}@${clock.time()}`);
  const sleepers = [
    clock.sleep(3).then(record("sleep 3")),
    clock.sleepUntil(1).then(record("until 1")),
    clock.sleepUntil(new Date("2016-01-01T00:00:02Z")).then(
      record("until date 2"),
    ),
    clock.sleep(1).then(record("sleep 1")),
    clock.sleepUntil(5).then(record("until 5")),
  ];
  clock.callIn(2, (a: string, b: number) => called.push(`${a}${b}`), "in", 2);
  clock.callAt(1, () => called.push("at 1"));
  clock.callAt(
    new Date("2016-01-01T00:00:03Z"),
    () => called.push("at date 3"),
  );
  clock.callIn(1, () => called.push("in 1"));
  clock.callAt(6, () => called.push("at 6"));
  assert.equal(clock.nextActivity(), 1);

  // Nothing runs before the time is set.
  await settle();
  assert.deepEqual(slept, []);
  assert.deepEqual(called, []);

  clock.setTime(2);
  // Calls run synchronously inside setTime, in order; sleepers wake after it
  // returns, also in order.
  assert.deepEqual(called, ["at 1", "in 1", "in2"]);
  await settle();
  assert.deepEqual(slept, ["until 1@2", "sleep 1@2", "until date 2@2"]);
  assert.equal(clock.nextActivity(), 3);

  clock.setTime(4);
  assert.deepEqual(called, ["at 1", "in 1", "in2", "at date 3"]);
  await settle();
  assert.deepEqual(slept.slice(3), ["sleep 3@4"]);
  assert.equal(clock.nextActivity(), 5);

  clock.setTime(100);
  await Promise.all(sleepers);
  assert.deepEqual(slept.slice(4), ["until 5@100"]);
  assert.deepEqual(called.slice(4), ["at 6"]);
  assert.equal(clock.nextActivity(), null);
  // A wait without end is no activity: no setTime reaches it.
  const forever = new AbortController();
  clock.sleep(Infinity, { signal: forever.signal }).catch(() => {});
  const never = clock.callIn(Infinity, () => {});
  assert.equal(clock.nextActivity(), null);
  const soon = clock.callIn(7, () => {});
  assert.equal(clock.nextActivity(), 107);
  forever.abort();
  never.cancel();
  soon.cancel();
});

Deno.test("ExternalClock: sleepers woken together run in (deadline, insertion) order", async () => {
  const clock = new ExternalClock(START);
  const order: number[] = [];
  const sleepers: Promise<void>[] = [];
  // Deadlines 3, 1, 2, 1, 3, 2 ... in a scrambled insertion order.
  const deadlines = [3, 1, 2, 1, 3, 2, 0.5, 2];
  for (const [i, deadline] of deadlines.entries()) {
    sleepers.push(
      (async () => {
        await clock.sleepUntil(deadline);
        order.push(i);
      })(),
    );
  }
  clock.setTime(3);
  await Promise.all(sleepers);
  assert.deepEqual(order, [6, 1, 3, 2, 5, 7, 0, 4]);
});

Deno.test("ExternalClock: equal deadlines run in insertion order", async () => {
  const clock = new ExternalClock(START);
  const called: number[] = [];
  const slept: number[] = [];
  for (let i = 0; i < 20; i++) {
    if (i % 2 === 0) clock.callAt(5, () => called.push(i));
    else clock.callIn(5, () => called.push(i));
  }
  const sleepers = [];
  for (let i = 0; i < 20; i++) {
    const wake = i % 2 === 0 ? clock.sleepUntil(5) : clock.sleep(5);
    sleepers.push(wake.then(() => slept.push(i)));
  }
  clock.setTime(5);
  await Promise.all(sleepers);
  const expected = Array.from({ length: 20 }, (_, i) => i);
  assert.deepEqual(called, expected);
  assert.deepEqual(slept, expected);
});

Deno.test("ExternalClock: calls scheduled by calls run in a later setTime", () => {
  const clock = new ExternalClock(START);
  const called: string[] = [];
  clock.callIn(1, () => {
    called.push(`outer@${clock.time()}`);
    clock.callIn(1, () => called.push(`inner@${clock.time()}`));
  });
  clock.setTime(5);
  assert.deepEqual(called, ["outer@5"]);
  assert.equal(clock.nextActivity(), 6);
  clock.setTime(6);
  assert.deepEqual(called, ["outer@5", "inner@6"]);
});

Deno.test("ExternalClock: cancel handles", () => {
  const clock = new ExternalClock(START);
  const called: string[] = [];
  const a = clock.callIn(1, () => called.push("a"));
  const b = clock.callIn(2, () => called.push("b"));
  const c = clock.callAt(3, () => called.push("c"));
  assert.equal(a.cancelled, false);
  b.cancel();
  assert.equal(b.cancelled, true);
  b.cancel(); // Idempotent.
  assert.equal(b.cancelled, true);
  clock.setTime(10);
  assert.deepEqual(called, ["a", "c"]);
  // Cancelling after the call ran does nothing and does not count.
  a.cancel();
  assert.equal(a.cancelled, false);
  assert.equal(c.cancelled, false);
  assert.equal(b.cancelled, true);
});

Deno.test("ExternalClock: nextActivity skips cancelled entries and is null when empty", async () => {
  const clock = new ExternalClock(START);
  assert.equal(clock.nextActivity(), null);
  const first = clock.callIn(1, () => {});
  const second = clock.callIn(2, () => {});
  const controller = new AbortController();
  const sleeping = clock.sleep(3, { signal: controller.signal });
  clock.callIn(4, () => {});
  assert.equal(clock.nextActivity(), 1);
  first.cancel();
  assert.equal(clock.nextActivity(), 2);
  second.cancel();
  assert.equal(clock.nextActivity(), 3);
  controller.abort();
  await assert.rejects(sleeping, { name: "AbortError" });
  assert.equal(clock.nextActivity(), 4);
  clock.setTime(4);
  assert.equal(clock.nextActivity(), null);
});

Deno.test("ExternalClock: sleep with an AbortSignal", async () => {
  const clock = new ExternalClock(START);
  // Aborted before: rejects at once with the reason, nothing is scheduled.
  const reason = new Error("stop");
  await assert.rejects(
    clock.sleep(1, { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  await assert.rejects(
    clock.sleepUntil(1, { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  assert.equal(clock.nextActivity(), null);

  // Aborted while sleeping.
  const controller = new AbortController();
  const sleeping = clock.sleep(2, { signal: controller.signal });
  const other = clock.sleep(2);
  controller.abort(reason);
  await assert.rejects(sleeping, (error) => error === reason);
  clock.setTime(2);
  await other;

  // Aborting after waking does nothing.
  const late = new AbortController();
  const woke = clock.sleepUntil(new Date("2016-01-01T00:00:03Z"), {
    signal: late.signal,
  });
  clock.setTime(3);
  await woke;
  late.abort();
});

Deno.test("ExternalClock: targets now or in the past are a RangeError", () => {
  const clock = new ExternalClock(START, 10);
  const past = / on an ExternalClock at time 10: the target must be later, /;
  assert.throws(() => clock.sleepUntil(10), {
    name: "RangeError",
    message: past,
  });
  assert.throws(() => clock.sleepUntil(5), RangeError);
  assert.throws(() => clock.callAt(10, () => {}), RangeError);
  assert.throws(() => clock.callAt(-1, () => {}), RangeError);
  const now = new Date("2016-01-01T00:00:10Z");
  assert.throws(() => clock.sleepUntil(now), {
    name: "RangeError",
    message: past,
  });
  assert.throws(() => clock.callAt(now, () => {}), RangeError);
  assert.throws(
    () => clock.callAt(new Date("2015-12-31T23:59:59Z"), () => {}),
    RangeError,
  );
  assert.throws(() => clock.callAt(new Date(NaN), () => {}), RangeError);
  assert.throws(() => clock.sleepUntil(NaN), RangeError);
  assert.equal(clock.nextActivity(), null);
});

Deno.test("ExternalClock: delays must be positive", () => {
  const clock = new ExternalClock(START);
  for (const dt of [0, -1, -0.001]) {
    assert.throws(() => clock.sleep(dt), {
      name: "RangeError",
      message: /more than 0/,
    });
    assert.throws(() => clock.callIn(dt, () => {}), RangeError);
  }
  // NaN is no delay at all (external_clock_test.ts has its message).
  assert.throws(() => clock.callIn(NaN, () => {}), RangeError);
  assert.equal(clock.nextActivity(), null);
});

Deno.test("ExternalClock: a wait of 0 is refused as in aiomas, and the error says why", () => {
  const clock = new ExternalClock(START, 5);
  const why =
    "as in aiomas (its time moves only when setTime is called, so only the next setTime could end the wait)";
  const zero = {
    name: "RangeError",
    message:
      `Cannot wait 0 seconds on an ExternalClock: the delay must be more than 0, ${why}`,
  };
  assert.throws(() => clock.sleep(0), zero);
  assert.throws(() => clock.callIn(0, () => {}), zero);
  const now = {
    name: "RangeError",
    message:
      `Cannot wait until 5 on an ExternalClock at time 5: the target must be later, ${why}`,
  };
  assert.throws(() => clock.sleepUntil(5), now);
  assert.throws(() => clock.callAt(5, () => {}), now);
  assert.equal(clock.nextActivity(), null);
});

Deno.test("ExternalClock: cancelAll rejects sleepers and cancels calls", async () => {
  const clock = new ExternalClock(START);
  const called: string[] = [];
  const handle = clock.callIn(1, () => called.push("call"));
  const cancelledBefore = clock.callIn(1, () => called.push("cancelled"));
  cancelledBefore.cancel();
  const sleepers = [clock.sleep(1), clock.sleepUntil(2)];
  const controller = new AbortController();
  const withSignal = clock.sleep(3, { signal: controller.signal });
  clock.cancelAll();
  for (const sleeper of [...sleepers, withSignal]) {
    await assert.rejects(sleeper, { name: "AbortError" });
  }
  assert.equal(handle.cancelled, true);
  assert.equal(cancelledBefore.cancelled, true);
  assert.equal(clock.nextActivity(), null);
  // The listener is gone: aborting later changes nothing.
  controller.abort();
  clock.setTime(5);
  assert.equal(called.length, 0);
  // The clock works afterwards.
  clock.callIn(1, () => called.push("after"));
  const sleeping = clock.sleep(1);
  clock.setTime(6);
  await sleeping;
  assert.deepEqual(called, ["after"]);
});

Deno.test("ExternalClock: a throwing callback is logged and the others still run", async () => {
  const clock = new ExternalClock(START);
  const called: string[] = [];
  const failure = new Error("boom");
  const asyncFailure = new Error("async boom");
  clock.callIn(1, () => called.push("first"));
  clock.callIn(1, () => {
    throw failure;
  });
  clock.callIn(1, () => called.push("second"));
  const rejected = Promise.withResolvers<void>();
  clock.callIn(2, () => {
    // An async callback's rejection is logged too.
    const promise = Promise.reject(asyncFailure);
    promise.catch(() => rejected.resolve());
    return promise;
  });
  clock.callIn(3, () => called.push("third"));
  const sleeping = clock.sleep(3);
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    logged.push(args);
  };
  try {
    clock.setTime(3);
    assert.deepEqual(called, ["first", "second", "third"]);
    assert.equal(logged.length, 1);
    assert.ok(logged[0].includes(failure));
    await sleeping;
    await rejected.promise;
    await settle();
  } finally {
    console.error = original;
  }
  assert.equal(logged.length, 2);
  assert.ok(logged[1].includes(asyncFailure));
});

Deno.test("ExternalClock: a delay below the float's step at this time still ends at a time setTime takes", () => {
  for (const start of [1.7e9, -5, 8e12]) {
    const clock = new ExternalClock(new Date(0), start);
    const ran: number[] = [];
    clock.callIn(1e-7, () => ran.push(clock.time()));
    const next = clock.nextActivity()!;
    // It was equal to time(), which setTime refuses (strictly later).
    assert.ok(next > clock.time(), `${start}: ${next}`);
    clock.setTime(next);
    assert.deepEqual(ran, [next]);
  }
});
