import type { Codec } from "../codecs/codec.ts";
import { describe } from "../codecs/serializer_registry.ts";
import { ProtocolError, RemoteError } from "../errors.ts";

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
      `Cannot decode message: unknown message type ${formatPeerValue(type)}`,
    );
  }
  return value as Message;
}

/**
 * What the error that closes a channel adds when calls were made and not a
 * byte came back. A peer that cannot decode the first message does that,
 * most often one with another codec; so does one that shut down or died
 * meanwhile: both are named.
 */
export function neverAnswered(codec: Codec): string {
  const name = codec.constructor?.name;
  return ` before it answered anything (it may have shut down; if this happens at every first call, it may use another codec than this side's${
    name ? ` ${name}` : ""
  } or lack one of its serializers)`;
}

/**
 * Whether a transport's failure names its own cause (a TLS alert or
 * certificate), so that no guess about the peer's codec is added.
 */
export function explainsItself(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /\b(alert|certificate|TLS|SSL)\b/i.test(message);
}

/**
 * A peer's text (a name it asked for) as an error message quotes it: cut
 * past `max` characters (200 by default), as the message may be sent back
 * or logged, with how long it was. The cut text is a copy: a slice would
 * keep all of the peer's text alive in V8 for as long as it is kept.
 */
export function clipPeerText(text: string, max = MAX_PEER_TEXT): string {
  return text.length > max
    ? `${copyOf(text.slice(0, max))}… (${text.length} characters)`
    : text;
}

/** A flat copy of `text`: a slice would keep all of its parent alive in V8. */
function copyOf(text: string): string {
  return [...text].join("");
}

/** The longest text of a peer's that {@linkcode clipPeerText} keeps. */
const MAX_PEER_TEXT = 200;

/**
 * Formats a value received from a peer for an error message without
 * calling any of its methods (a peer's object may hold a "toString" key).
 */
export function formatPeerValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(
        value.length > 64 ? value.slice(0, 64) + "…" : value,
      );
    case "number":
    case "boolean":
    case "bigint":
    case "undefined":
      return String(value);
    default:
      return value === null ? "null" : describe(value);
  }
}

/**
 * The error an error reply's content stands for: aiomas sends a traceback
 * text, mosaik `[name, message, ...traceback lines]`; anything else is
 * shown, never called into.
 */
export function remoteError(peer: string, content: unknown): RemoteError {
  if (typeof content === "string") return new RemoteError(peer, content);
  if (
    Array.isArray(content) && content.length >= 2 &&
    content.every((part) => typeof part === "string")
  ) {
    const [remoteName, remoteMessage, ...lines] = content as string[];
    const traceback = lines.length > 0
      ? lines.join("")
      : `${remoteName}: ${remoteMessage}\n`;
    return new RemoteError(peer, traceback, { remoteName, remoteMessage });
  }
  return new RemoteError(peer, formatPeerValue(content));
}
