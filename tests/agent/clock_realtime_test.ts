// RealtimeClock: wall-clock time, sleeps and calls, cancelling and aborting
// them, and the delays and targets it refuses.
import assert from "node:assert/strict";
import { RealtimeClock } from "../../agent/mod.ts";

Deno.test("RealtimeClock: time, utcnow and sleep", async () => {
  const clock = new RealtimeClock();
  const before = Date.now();
  const now = clock.utcnow();
  assert.ok(now instanceof Date);
  assert.ok(Math.abs(now.getTime() - before) < 1000);
  const start = clock.time();
  await clock.sleep(0.001);
  assert.ok(clock.time() > start);
  assert.ok(clock.time() - start >= 0.0009);
  await clock.sleep(0);
  await clock.sleepUntil(clock.time() + 0.001);
  await clock.sleepUntil(new Date(Date.now() + 20));
});

Deno.test("RealtimeClock: callIn and callAt run with their arguments", async () => {
  const clock = new RealtimeClock();
  const first = Promise.withResolvers<[string, number]>();
  const handle = clock.callIn(
    0.001,
    (a: string, b: number) => first.resolve([a, b]),
    "x",
    1,
  );
  assert.deepEqual(await first.promise, ["x", 1]);
  assert.equal(handle.cancelled, false);
  handle.cancel(); // After it ran: no effect.
  assert.equal(handle.cancelled, false);
  const second = Promise.withResolvers<number>();
  clock.callAt(clock.time() + 0.001, () => second.resolve(clock.time()));
  await second.promise;
  const third = Promise.withResolvers<void>();
  clock.callAt(new Date(Date.now() + 20), () => third.resolve());
  await third.promise;
});

Deno.test("RealtimeClock: cancel a call", async () => {
  const clock = new RealtimeClock();
  let ran = false;
  const handle = clock.callIn(0, () => {
    ran = true;
  });
  assert.equal(handle.cancelled, false);
  handle.cancel();
  assert.equal(handle.cancelled, true);
  handle.cancel(); // Idempotent.
  assert.equal(handle.cancelled, true);
  // A call due after it has run: the cancelled one would have run first.
  await new Promise<void>((resolve) => clock.callIn(0.001, () => resolve()));
  assert.equal(ran, false);
  // The timer is cleared: otherwise the sanitizer reports a leaked timer.
});

Deno.test("RealtimeClock: sleep with an AbortSignal", async () => {
  const clock = new RealtimeClock();
  const reason = new Error("stop");
  await assert.rejects(
    clock.sleep(1, { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  const controller = new AbortController();
  const sleeping = clock.sleep(3600, { signal: controller.signal });
  controller.abort(reason);
  await assert.rejects(sleeping, (error) => error === reason);
});

Deno.test("RealtimeClock: negative delays and past targets are a RangeError", () => {
  const clock = new RealtimeClock();
  assert.throws(() => clock.sleep(-1), RangeError);
  assert.throws(() => clock.sleep(NaN), RangeError);
  assert.throws(() => clock.callIn(-0.5, () => {}), RangeError);
  assert.throws(() => clock.sleepUntil(clock.time() - 1), {
    name: "RangeError",
    message: /in the past/,
  });
  assert.throws(() => clock.callAt(new Date(Date.now() - 1000), () => {}), {
    name: "RangeError",
    message: /in the past/,
  });
  // Not a time at all: said so, not "in the past".
  for (const t of [new Date("garbage"), NaN]) {
    assert.throws(() => clock.callAt(t, () => {}), {
      name: "RangeError",
      message: /: not a time$/,
    });
    assert.throws(() => clock.sleepUntil(t), {
      name: "RangeError",
      message: /: not a time$/,
    });
  }
});

Deno.test("RealtimeClock: anything but seconds or a Date is a TypeError", () => {
  const clock = new RealtimeClock();
  const wrong = ["0.01", null, undefined, {}] as unknown as number[];
  for (const value of wrong) {
    assert.throws(() => clock.sleep(value), TypeError, String(value));
    assert.throws(() => clock.callIn(value, () => {}), TypeError);
    assert.throws(() => clock.sleepUntil(value), TypeError);
    assert.throws(() => clock.callAt(value, () => {}), TypeError);
  }
});

Deno.test("RealtimeClock: delays beyond setTimeout's range (about 24.8 days) and Infinity do not fire at once", async () => {
  const clock = new RealtimeClock();
  const fired: string[] = [];
  const month = 30 * 24 * 3600;
  const handles = [
    clock.callIn(month, () => fired.push("callIn 30 days")),
    clock.callIn(Infinity, () => fired.push("callIn Infinity")),
    clock.callAt(clock.time() + month, () => fired.push("callAt +30 days")),
    clock.callAt(
      new Date(Date.now() + month * 1000),
      () => fired.push("callAt a date 30 days on"),
    ),
  ];
  const controller = new AbortController();
  const sleeping = clock.sleep(month, { signal: controller.signal }).then(
    () => fired.push("sleep 30 days"),
    () => {},
  );
  // No event to await: setTimeout fires such delays after about 1 ms, so
  // give it well over that.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(fired, []);
  for (const handle of handles) handle.cancel();
  controller.abort();
  await sleeping;
  assert.deepEqual(fired, []);
});

Deno.test("RealtimeClock: cancelAll rejects sleepers, cancels calls, leaks no timers", async () => {
  const clock = new RealtimeClock();
  let ran = false;
  const handles = [
    clock.callIn(3600, () => {
      ran = true;
    }),
    clock.callAt(clock.time() + 3600, () => {
      ran = true;
    }),
  ];
  const sleepers = [clock.sleep(3600), clock.sleepUntil(clock.time() + 3600)];
  clock.cancelAll();
  for (const sleeper of sleepers) {
    await assert.rejects(sleeper, { name: "AbortError" });
  }
  assert.deepEqual(handles.map((h) => h.cancelled), [true, true]);
  assert.equal(ran, false);
  // Usable afterwards.
  await clock.sleep(0.001);
});

Deno.test("RealtimeClock: a throwing callback is logged", async () => {
  const clock = new RealtimeClock();
  const failure = new Error("boom");
  const logged = Promise.withResolvers<unknown[]>();
  const original = console.error;
  console.error = (...args: unknown[]) => logged.resolve(args);
  try {
    clock.callIn(0, () => {
      throw failure;
    });
    const after = Promise.withResolvers<void>();
    clock.callIn(0, () => after.resolve());
    assert.ok((await logged.promise).includes(failure));
    await after.promise;
  } finally {
    console.error = original;
  }
});
