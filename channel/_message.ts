import { ProtocolError } from "../errors.ts";

/** Message types on the wire. */
export const REQUEST = 0;
export const RESULT = 1;
export const ERROR = 2;

/** A decoded message: `[type, id, content]`. */
export type Message = [type: 0 | 1 | 2, id: unknown, content: unknown];

/**
 * Checks that a decoded payload is a message.
 *
 * @throws {ProtocolError} If it is not a 3-element array of a known type.
 */
export function checkMessage(value: unknown): Message {
  if (!Array.isArray(value) || value.length !== 3) {
    throw new ProtocolError(
      "Cannot decode message: expected a [type, id, content] array",
    );
  }
  const type = value[0];
  if (type !== REQUEST && type !== RESULT && type !== ERROR) {
    throw new ProtocolError(
      `Cannot decode message: unknown message type ${String(type)}`,
    );
  }
  return value as Message;
}
