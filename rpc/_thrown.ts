import { messageOf } from "../channel/_traceback.ts";

/**
 * Makes what a handler threw an `Error` for the error reply. Error-like
 * objects (a `name` and a `message`, e.g. errors from another realm) keep
 * their name, message and stack; anything else becomes an `Error` whose
 * message is the channel's readable text for it (a thrown `{ code: 42 }`
 * reaches the caller as `Error: {"code":42}`, not `[object Object]`) and
 * that has no frames of ours (where it was caught is not where it was
 * thrown).
 *
 * @param thrown The value thrown.
 * @returns `thrown` if it is an `Error`, else an `Error` standing for it.
 */
export function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (isErrorLike(thrown)) {
    const error = new Error(thrown.message);
    error.name = thrown.name;
    error.stack = typeof thrown.stack === "string" ? thrown.stack : "";
    return error;
  }
  const error = new Error(messageOf(thrown));
  error.stack = "";
  return error;
}

function isErrorLike(
  value: unknown,
): value is { name: string; message: string; stack?: unknown } {
  return typeof value === "object" && value !== null &&
    typeof (value as { name?: unknown }).name === "string" &&
    typeof (value as { message?: unknown }).message === "string";
}
