// What an encode throws when code it runs throws (a serializer's toWire, a
// getter of the value): a SerializationError that carries it, as for any
// value that cannot be encoded, so that a channel answers the call with an
// error reply instead of closing the connection; and when such code changes
// a container's entries while it is encoded.
import { SerializationError } from "../errors.ts";

/**
 * `error` if it is a SerializationError, else one saying what was thrown
 * while encoding as `format`, with `error` as its cause.
 */
export function encodeFailure(
  error: unknown,
  format: string,
): SerializationError {
  let text: string;
  try {
    if (error instanceof SerializationError) return error;
    text = error instanceof Error
      ? `${error.name}: ${error.message}`
      : String(error);
  } catch {
    // A Proxy, a Symbol name, a throwing toString.
    text = "a value that cannot be shown";
  }
  return new SerializationError(
    `Cannot encode value as ${format}: encoding it threw ${text}`,
    { cause: error },
  );
}

/** Throws: `what` changed its entries while it was being encoded. */
export function changed(what: string): never {
  throw new SerializationError(
    `Cannot encode value: ${what} changed its entries while it was being encoded (a getter or a serializer changed it)`,
  );
}
