/**
 * Calls a user's hook (`name` for the log) with `args`. What it throws is
 * logged: hooks run in event emitters, timers and promise callbacks, where
 * it would end the process as an uncaught error or unhandled rejection.
 */
export function callHook<A extends unknown[]>(
  name: string,
  hook: (...args: A) => unknown,
  ...args: A
): void {
  try {
    hook(...args);
  } catch (thrown) {
    console.error(`aiomas: ${name} threw:`, thrown);
  }
}
