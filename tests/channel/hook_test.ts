// Users' hooks (onConnectionLost, onStatus, onHandshakeError…): what they
// throw, or their promise rejects with, is logged, never left to end the
// process.
import assert from "node:assert/strict";
import { callHook } from "../../channel/_hook.ts";
import { within } from "../_within.ts";

/** console.error's next call, and console.error back as it was. */
function nextLog(): Promise<unknown[]> {
  const { promise, resolve } = Promise.withResolvers<unknown[]>();
  const original = console.error;
  console.error = (...args: unknown[]) => {
    console.error = original;
    resolve(args);
  };
  return promise;
}

Deno.test("callHook logs what a hook throws and what an async hook's promise rejects with", async () => {
  for (const async of [false, true]) {
    const logged = nextLog();
    const failure = new Error(`failed (${async ? "async" : "sync"})`);
    callHook(
      "onSomething",
      async
        ? (value: number) => Promise.reject(failure).then(() => value)
        : () => {
          throw failure;
        },
      1,
    );
    const [message, error] = await within(1000, "the log", logged);
    assert.equal(message, "aiomas: onSomething threw:");
    assert.equal(error, failure);
  }
});
