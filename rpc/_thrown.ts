import { inspect } from "node:util";

/**
 * Makes what a handler threw an `Error` whose message is readable: a
 * thrown `{ code: 42 }` reaches the caller as `Error: { code: 42 }`, not
 * `Error: [object Object]`. Error-like objects (a `name` and a `message`,
 * e.g. errors from another realm) keep their name and message.
 *
 * @param thrown The value thrown.
 * @returns `thrown` if it is an `Error`, else an `Error` describing it.
 */
export function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  let error: Error;
  if (isErrorLike(thrown)) {
    error = new Error(thrown.message);
    error.name = thrown.name;
  } else {
    error = new Error(describe(thrown));
  }
  // Where it was caught is not where it was thrown: no frames of ours.
  error.stack = isErrorLike(thrown) && typeof thrown.stack === "string"
    ? thrown.stack
    : "";
  return error;
}

const MAX_LENGTH = 2000;

function describe(value: unknown): string {
  const text = typeof value === "string" ? value : inspect(value, {
    depth: 3,
    breakLength: Infinity,
    maxArrayLength: 20,
    maxStringLength: MAX_LENGTH,
  });
  return text.length > MAX_LENGTH ? `${text.slice(0, MAX_LENGTH)}…` : text;
}

function isErrorLike(
  value: unknown,
): value is { name: string; message: string; stack?: unknown } {
  return typeof value === "object" && value !== null &&
    typeof (value as { name?: unknown }).name === "string" &&
    typeof (value as { message?: unknown }).message === "string";
}
