/**
 * Runs a scheduled callback. A callback's error must not end the process
 * or stop other callbacks, so it is logged, as asyncio logs them.
 */
export function runCallback(fn: () => unknown): void {
  try {
    const result = fn();
    if (result instanceof Promise) result.catch(logError);
  } catch (error) {
    logError(error);
  }
}

function logError(error: unknown): void {
  console.error("aiomas: a scheduled callback failed:", error);
}
