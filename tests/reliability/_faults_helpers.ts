// Helpers shared by the faults_*_test.ts files: the listening address, a
// gate the test opens when it wants, and how a promise settled.
export const LOCAL = { hostname: "127.0.0.1", port: 0 };

/** A promise the test opens when it wants. */
export function gate() {
  return Promise.withResolvers<void>();
}

/** How a promise settled, and when (performance.now()). */
export async function settled(
  promise: Promise<unknown>,
): Promise<{ ok: boolean; value: unknown; at: number }> {
  try {
    const value = await promise;
    return { ok: true, value, at: performance.now() };
  } catch (error) {
    return { ok: false, value: error, at: performance.now() };
  }
}
