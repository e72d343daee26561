/**
 * Calls a user's hook (`name` for the log) with `args`. What it throws, or
 * the promise it returns rejects with (an `async` hook), is logged: hooks
 * run in event emitters, timers and promise callbacks, where it would end
 * the process as an uncaught error or unhandled rejection.
 */
export function callHook<A extends unknown[]>(
  name: string,
  hook: (...args: A) => unknown,
  ...args: A
): void {
  try {
    const returned = hook(...args);
    if (returned instanceof Promise) {
      returned.catch((rejected) =>
        console.error(`aiomas: ${name} threw:`, rejected)
      );
    }
  } catch (thrown) {
    console.error(`aiomas: ${name} threw:`, thrown);
  }
}
