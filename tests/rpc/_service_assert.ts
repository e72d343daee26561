// Shared by the service_*_test.ts files: LookupError matching and local calls.
import assert from "node:assert/strict";
import type { Service } from "../../rpc/mod.ts";

/** Asserts that resolving `path` fails with a LookupError of exactly `message`. */
export function assertLookupError(
  router: Service,
  path: string,
  message: string,
): void {
  assert.throws(
    () => router.resolve(path),
    (error: unknown) => {
      assert.ok(error instanceof Error, `${path}: not an Error`);
      assert.equal(error.name, "LookupError", `path ${JSON.stringify(path)}`);
      assert.equal(error.message, message, `path ${JSON.stringify(path)}`);
      return true;
    },
  );
}

export async function call(router: Service, path: string, ...args: unknown[]) {
  const { fn, thisArg } = router.resolve(path);
  return await fn.apply(thisArg, args);
}
