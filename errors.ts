/**
 * The errors of aiomas for Deno. Built-in classes (`TypeError`,
 * `RangeError`) are used where they fit; these are the project's own.
 *
 * @module
 */

/** Options of {@linkcode RemoteError}. */
export interface RemoteErrorOptions {
  /** The error class name, e.g. `"ValueError"`. */
  remoteName?: string;
  /** The error message. */
  remoteMessage?: string;
}

/**
 * The peer answered a request with an error (message type 2).
 *
 * An aiomas peer sends a traceback text that ends in
 * `"<ErrorName>: <message>"` (after the last frame: a message may have
 * lines of its own); {@linkcode RemoteError.remoteName} and
 * {@linkcode RemoteError.remoteMessage} are taken from it unless `options`
 * gives them (mosaik sends them as fields of their own).
 *
 * @example Inspecting a remote error
 * ```ts
 * import { RemoteError } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * const error = new RemoteError("127.0.0.1:5555", "Traceback …\nValueError: 42\n");
 * assert.equal(error.remoteName, "ValueError");
 * assert.equal(error.remoteMessage, "42");
 * assert.equal(error.message, "ValueError: 42 (raised by 127.0.0.1:5555)");
 * ```
 */
export class RemoteError extends Error {
  /** The peer as seen locally, e.g. `"127.0.0.1:5555"`. Not sent on the wire. */
  readonly origin: string;
  /** The complete error text the peer sent. */
  readonly remoteTraceback: string;
  /**
   * The error class name, e.g. `"ValueError"` (also of a bare
   * `"AssertionError"` line; `""` if the text has none).
   */
  readonly remoteName: string;
  /** The message, e.g. `"42"`: all its lines, as Python prints them. */
  readonly remoteMessage: string;

  /**
   * Creates a remote error.
   *
   * @param origin The peer as seen locally.
   * @param remoteTraceback The text the peer sent.
   * @param options The error's name and message when the peer sent them
   *   apart from the traceback.
   */
  constructor(
    origin: string,
    remoteTraceback: string,
    options?: RemoteErrorOptions,
  ) {
    // "Name: message" (the message may have lines of its own), or a bare
    // "Name": Python's last line for an exception without a message
    // (`raise AssertionError`).
    const text = exceptionText(remoteTraceback);
    const match = NAMED.exec(text);
    const name = options?.remoteName ?? (match ? match[1] : "");
    const message = options?.remoteMessage ??
      (match ? match[2] ?? "" : text);
    super(
      options === undefined
        ? `${text} (raised by ${origin})`
        : `${name}: ${message} (raised by ${origin})`,
    );
    this.name = "RemoteError";
    this.origin = origin;
    this.remoteTraceback = remoteTraceback;
    this.remoteName = name;
    this.remoteMessage = message;
  }
}

/**
 * The connection is closed (locally, by the peer, or after an error), so a
 * request cannot be sent or will never be answered. `cause` holds the error
 * that closed it, if any.
 *
 * @example
 * ```ts
 * import { ConnectionClosedError } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * const error = new ConnectionClosedError("Connection closed by the peer");
 * assert.ok(error instanceof Error);
 * assert.equal(error.name, "ConnectionClosedError");
 * ```
 */
export class ConnectionClosedError extends Error {
  /**
   * Creates the error.
   *
   * @param message What happened.
   * @param options `cause`: the error that closed the connection.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionClosedError";
  }
}

/**
 * The peer broke the wire protocol: an oversized or empty frame, a payload
 * that does not decode, a message of the wrong shape or type, or a reply to
 * an unknown request. The connection is closed with this error.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * const error = new ProtocolError("Cannot decode message: not a 3-element array");
 * assert.equal(error.name, "ProtocolError");
 * ```
 */
export class ProtocolError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was wrong with the input.
   * @param options `cause`: the underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}

/**
 * A value cannot be encoded or decoded by a codec: a type without a
 * serializer, bytes in JSON, an unknown `__type__` typeid, too deep nesting.
 *
 * @example
 * ```ts
 * import { JsonCodec, SerializationError } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => new JsonCodec().encode(new Uint8Array(1)), SerializationError);
 * ```
 */
export class SerializationError extends TypeError {
  /**
   * Creates the error.
   *
   * @param message What could not be encoded or decoded, and why.
   * @param options `cause`: the underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SerializationError";
  }
}

/**
 * A name on a service does not exist or is not exposed, as aiomas's
 * `LookupError`: `Service.resolve` throws it, so a local caller can test
 * `instanceof LookupError`, and a remote caller gets a `RemoteError` whose
 * `remoteName` is `"LookupError"`. The message is aiomas's text (part of
 * the wire contract), e.g. `Name "nope" not found in "sub"`.
 *
 * @example
 * ```ts
 * import { LookupError, Service } from "@aiomas/aiomas";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => Service.of({}).resolve("nope"), LookupError);
 * assert.equal(new LookupError("x").name, "LookupError");
 * ```
 */
export class LookupError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was not found, and where.
   * @param options `cause`: the underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LookupError";
  }
}

/** `Name: message` (the message may span lines), or a bare `Name`. */
const NAMED = /^([A-Za-z_][\w.]*)(?:: ?([\s\S]*))?$/;

/**
 * The exception part of a traceback: what follows its last frame (a
 * `  File "…"` line and the indented source lines under it) or its
 * header. Without either, the whole text if it starts `Name: ` (what a
 * Deno peer sends for an error without a stack); otherwise, and for a
 * traceback cut short, its last line.
 */
function exceptionText(traceback: string): string {
  let start = -1;
  const frame = traceback.lastIndexOf('\n  File "');
  if (frame !== -1 || traceback.startsWith('  File "')) {
    start = traceback.indexOf("\n", frame + 1) + 1;
    while (start > 0 && traceback.startsWith("    ", start)) {
      start = traceback.indexOf("\n", start) + 1;
    }
  } else if (traceback.startsWith("Traceback (most recent call last):\n")) {
    start = traceback.indexOf("\n") + 1;
  }
  if (start > 0) {
    // trimEnd, not a regular expression: linear on a peer's whitespace.
    const part = traceback.slice(start).trimEnd();
    if (part !== "" && NAMED.test(part)) return part;
  }
  if (start === -1) {
    // No traceback: what formatError sends for an error without a stack,
    // its message's lines and all.
    const whole = traceback.trimEnd();
    if (/^[A-Za-z_][\w.]*: /.test(whole)) return whole;
  }
  return lastNonEmptyLine(traceback);
}

/**
 * The last line of `text` that is not blank, without its newline; found
 * backwards, so that a peer's text of millions of lines is not split.
 */
function lastNonEmptyLine(text: string): string {
  let end = text.length;
  while (end > 0) {
    const start = text.lastIndexOf("\n", end - 1) + 1;
    const line = text.slice(start, end);
    if (line.trim() !== "") return line.trimEnd();
    end = start - 1;
  }
  return "";
}
