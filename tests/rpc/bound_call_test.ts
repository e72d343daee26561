// boundCall: how calls that skip the channel (an agent's calls within its
// container) get the same timeout and abort behaviour as remote calls.
import assert from "node:assert/strict";
import { boundCall } from "../../rpc/_bound_call.ts";

Deno.test("boundCall: without options or a callTimeout it is the call itself", async () => {
  const result = Promise.resolve(1);
  assert.equal(boundCall(() => result, undefined, undefined, "x"), result);
  // A call's own timeout overrides the default; Infinity is none.
  assert.equal(boundCall(() => result, { timeout: Infinity }, 5, "x"), result);
  assert.equal(await boundCall(() => result, {}, undefined, "x"), 1);
});

Deno.test("boundCall: times out with a TimeoutError; the late result is dropped", async () => {
  const gate = Promise.withResolvers<string>();
  await assert.rejects(
    boundCall(() => gate.promise, undefined, 1, "tcp://127.0.0.1:5555/0"),
    (error: unknown) => {
      assert.ok(error instanceof DOMException);
      assert.equal(error.name, "TimeoutError");
      assert.equal(
        error.message,
        "Request to tcp://127.0.0.1:5555/0 timed out after 1 ms",
      );
      return true;
    },
  );
  gate.resolve("late");
});

Deno.test("boundCall: aborts with the signal's reason; an aborted signal runs nothing", async () => {
  const controller = new AbortController();
  const gate = Promise.withResolvers<string>();
  const call = boundCall(
    () => gate.promise,
    { signal: controller.signal },
    undefined,
    "x",
  );
  controller.abort();
  await assert.rejects(call, { name: "AbortError" });
  gate.resolve("late");
  let ran = false;
  await assert.rejects(
    boundCall(
      () => {
        ran = true;
        return Promise.resolve(1);
      },
      { signal: AbortSignal.abort() },
      1000,
      "x",
    ),
    { name: "AbortError" },
  );
  assert.equal(ran, false);
});

Deno.test("boundCall: results and errors pass through, timers are cleared", async () => {
  const signal = new AbortController().signal;
  assert.equal(
    await boundCall(() => Promise.resolve(7), { signal }, 60_000, "x"),
    7,
  );
  await assert.rejects(
    boundCall(() => Promise.reject(new RangeError("no")), {}, 60_000, "x"),
    RangeError,
  );
  await assert.rejects(
    boundCall(
      () => {
        throw new TypeError("sync");
      },
      {},
      60_000,
      "x",
    ),
    TypeError,
  );
  // The sanitizers fail this test if a 60 s timer were left behind.
});
