import { clipPeerText } from "./_message.ts";

/**
 * Formats an error as the text of an error reply: a Python-style traceback
 * of the JavaScript stack (most recent call last) ending in the line
 * `"<Name>: <message>\n"`, which is what Python peers show.
 */
export function formatError(error: unknown): string {
  const parts = errorParts(error);
  const name = parts.name;
  const message = cut(parts.message);
  const lastLine = message === "" ? `${name}\n` : `${name}: ${message}\n`;
  const frames: string[] = [];
  for (const line of stackLines(parts)) {
    const frame = parseFrame(line);
    if (frame === null) continue;
    frames.push(`  File "${frame[1]}", line ${frame[2]}, in ${frame[0]}\n`);
  }
  if (frames.length === 0) return lastLine;
  return "Traceback (most recent call last):\n" + frames.reverse().join("") +
    lastLine;
}

/**
 * Formats an error as mosaik's failure content: `[name, message,
 * ...traceback lines]`, each line ending in a newline as Python's
 * `traceback.format_exception` gives them.
 */
export function formatErrorList(error: unknown): string[] {
  const text = formatError(error);
  const { name, message } = errorParts(error);
  return [name, cut(message), ...text.split(/(?<=\n)/)];
}

/** The parts of an error a reply shows, each a string. */
interface ErrorParts {
  name: string;
  message: string;
  stack: string | undefined;
  /** Whether the error's own properties are these strings (none read as another value). */
  exact: boolean;
}

/**
 * An error's name, message and stack as strings, read so that nothing
 * thrown escapes: a handler may throw an Error whose name is a Symbol,
 * whose message getter throws, or a Proxy whose traps throw, and its
 * caller must still get an error reply. A name that is not a non-empty
 * string is "Error"; a message that is not a string is shown as a thrown
 * value is (see {@linkcode messageOf}).
 */
export function errorParts(error: unknown): ErrorParts {
  if (!isError(error)) {
    return {
      name: "Error",
      message: thrownText(error),
      stack: undefined,
      exact: false,
    };
  }
  const name = read(error, "name");
  const message = read(error, "message");
  const stack = read(error, "stack");
  return {
    name: typeof name === "string" && name !== "" ? name : "Error",
    message: typeof message === "string"
      ? message
      : message === undefined
      ? ""
      : thrownText(message),
    stack: typeof stack === "string" ? stack : undefined,
    exact: typeof name === "string" && name !== "" &&
      typeof message === "string" && typeof stack === "string",
  };
}

/** `value instanceof Error`, false where asking throws (a Proxy's trap). */
function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/** A property of an error, undefined where reading it throws. */
function read(error: Error, key: "name" | "message" | "stack"): unknown {
  try {
    return error[key];
  } catch {
    return undefined;
  }
}

/**
 * The longest message an error reply carries: messages may quote a peer's
 * input (a path, an argument), which must not come back at any size.
 */
const MAX_MESSAGE_TEXT = 10_000;
/**
 * The most stack lines read for frames (V8 keeps 10 frames unless told
 * otherwise): a traceback shows at most as many.
 */
const MAX_STACK_LINES = 100;

function cut(text: string): string {
  return clipPeerText(text, MAX_MESSAGE_TEXT);
}

/**
 * The lines of an error's stack after its message, which may hold a
 * peer's text that looks like frames; at most {@linkcode MAX_STACK_LINES}.
 */
function stackLines(error: ErrorParts): string[] {
  if (error.stack === undefined) return [];
  let stack = error.stack;
  const head = error.message === ""
    ? error.name
    : `${error.name}: ${error.message}`;
  if (stack.startsWith(head)) stack = stack.slice(head.length);
  const lines: string[] = [];
  let at = stack.indexOf("\n") + 1;
  while (at > 0 && lines.length < MAX_STACK_LINES) {
    const end = stack.indexOf("\n", at);
    lines.push(stack.slice(at, end === -1 ? stack.length : end));
    at = end + 1;
  }
  return lines;
}

/** The message of {@linkcode textless}'s errors. */
const TEXTLESS = "(its text was above maxFrameSize)";

/** An error of `error`'s name whose message says its text was too large to send. */
export function textless(error: unknown): Error {
  const stub = new Error(TEXTLESS);
  stub.name = errorParts(error).name.slice(0, 100);
  stub.stack = "";
  return stub;
}

/** Whether an error reply's content is that of a {@linkcode textless} error. */
export function isTextless(content: unknown): boolean {
  return typeof content === "string"
    ? content.endsWith(`: ${TEXTLESS}\n`)
    : Array.isArray(content) && content[1] === TEXTLESS;
}

/** The longest text a thrown non-error is shown as. */
const MAX_THROWN_TEXT = 1000;

/**
 * The message of an error, or a readable text for anything else thrown:
 * primitives as `String` shows them, objects as JSON (at most
 * {@linkcode MAX_THROWN_TEXT} characters), else as `[object Type]`. An
 * object's own `toString` is never called: it may come from a peer.
 */
export function messageOf(error: unknown): string {
  return errorParts(error).message;
}

/** {@linkcode messageOf} of a value that is not an Error. */
function thrownText(error: unknown): string {
  if (typeof error !== "object" && typeof error !== "function") {
    return String(error);
  }
  if (error === null) return "null";
  if (typeof error === "object") {
    try {
      const text = JSON.stringify(error);
      if (typeof text === "string") return clipPeerText(text, MAX_THROWN_TEXT);
    } catch {
      // Cycles, BigInts, a throwing toJSON: fall back to the type.
    }
  }
  try {
    return Object.prototype.toString.call(error);
  } catch {
    // A Proxy whose traps throw.
    return "[object Object]";
  }
}

/** How a channel writes the content of its error replies. */
export type ErrorFormat = "aiomas" | "mosaik";

/** The formatter of an {@linkcode ErrorFormat}. */
export function errorFormatter(
  format: ErrorFormat,
): (error: unknown) => unknown {
  switch (format) {
    case "aiomas":
      return formatError;
    case "mosaik":
      return formatErrorList;
    default:
      throw new TypeError(
        `Unknown errorFormat ${
          JSON.stringify(format)
        } (expected "aiomas" or "mosaik")`,
      );
  }
}

/**
 * `[function, location, line]` of a V8 stack line, `"    at fn
 * (file:///x.ts:10:5)"` or `"    at file:///x.ts:10:5"`; null for any
 * other line. String scans, not a pattern: the line may hold a peer's text.
 */
function parseFrame(line: string): [string, string, string] | null {
  const text = line.trimStart();
  if (!text.startsWith("at ")) return null;
  let rest = text.startsWith("at async ") ? text.slice(9) : text.slice(3);
  let fn = "<module>";
  if (rest.endsWith(")")) {
    const open = rest.indexOf(" (");
    if (open !== -1) {
      fn = rest.slice(0, open);
      rest = rest.slice(open + 2, -1);
    }
  }
  const column = rest.lastIndexOf(":");
  const row = rest.lastIndexOf(":", column - 1);
  if (
    row <= 0 || !isDigits(rest, row + 1, column) ||
    !isDigits(rest, column + 1, rest.length)
  ) return null;
  return [fn, rest.slice(0, row), rest.slice(row + 1, column)];
}

/** Whether `text[start..end)` is one or more ASCII digits. */
function isDigits(text: string, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) return false;
  }
  return true;
}
