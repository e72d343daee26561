import { errorParts, messageOf } from "../channel/_traceback.ts";

/**
 * Makes what a handler threw an `Error` for the error reply. An `Error`
 * whose name, message and stack are strings is kept as it is; one that
 * has other values there (a Symbol name, a throwing getter, a Proxy)
 * becomes a plain `Error` of what can be read of it, so that neither the
 * reply nor a span recording it throws. Error-like objects (a `name` and a
 * `message`, e.g. errors from another realm) keep their name, message and
 * stack; anything else becomes an `Error` whose message is the channel's
 * readable text for it (a thrown `{ code: 42 }` reaches the caller as
 * `Error: {"code":42}`, not `[object Object]`) and that has no frames of
 * ours (where it was caught is not where it was thrown).
 *
 * @param thrown The value thrown.
 * @returns `thrown` if it is a well-formed `Error`, else an `Error`
 *   standing for it.
 */
export function asError(thrown: unknown): Error {
  let kept: Error | undefined;
  try {
    if (thrown instanceof Error) kept = thrown;
    else if (isErrorLike(thrown)) kept = errorOf(thrown);
  } catch {
    // A Proxy whose traps throw: shown as any other value.
  }
  if (kept !== undefined) {
    const { name, message, stack, exact } = errorParts(kept);
    if (exact) return kept;
    const plain = new Error(message);
    plain.name = name;
    plain.stack = stack ?? "";
    return plain;
  }
  const error = new Error(messageOf(thrown));
  error.stack = "";
  return error;
}

function errorOf(
  thrown: { name: string; message: string; stack?: unknown },
): Error {
  const error = new Error(thrown.message);
  error.name = thrown.name;
  error.stack = typeof thrown.stack === "string" ? thrown.stack : "";
  return error;
}

function isErrorLike(
  value: unknown,
): value is { name: string; message: string; stack?: unknown } {
  return typeof value === "object" && value !== null &&
    typeof (value as { name?: unknown }).name === "string" &&
    typeof (value as { message?: unknown }).message === "string";
}
