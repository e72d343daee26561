/**
 * Formats an error as the text of an error reply: a Python-style traceback
 * of the JavaScript stack (most recent call last) ending in the line
 * `"<Name>: <message>\n"`, which is what Python peers show.
 */
export function formatError(error: unknown): string {
  const name = error instanceof Error ? error.name || "Error" : "Error";
  const message = messageOf(error);
  const lastLine = message === "" ? `${name}\n` : `${name}: ${message}\n`;
  const stack = error instanceof Error && typeof error.stack === "string"
    ? error.stack
    : "";
  const frames: string[] = [];
  for (const line of stack.split("\n")) {
    const match = STACK_LINE.exec(line);
    if (match === null) continue;
    const [, fn, location, row] = match[1] !== undefined
      ? [match[0], match[1], match[2], match[3]]
      : [match[0], "<module>", match[4], match[5]];
    frames.push(`  File "${location}", line ${row}, in ${fn}\n`);
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
  const name = error instanceof Error ? error.name || "Error" : "Error";
  return [name, messageOf(error), ...text.split(/(?<=\n)/)];
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
  if (error instanceof Error) return error.message;
  if (typeof error !== "object" || error === null) {
    return typeof error === "function"
      ? Object.prototype.toString.call(error)
      : String(error);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(error);
  } catch {
    // Cycles, BigInts, a throwing toJSON: fall back to the type.
  }
  if (typeof text !== "string") return Object.prototype.toString.call(error);
  return text.length > MAX_THROWN_TEXT
    ? `${text.slice(0, MAX_THROWN_TEXT)}… (${text.length} characters)`
    : text;
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

// "    at fn (file:///x.ts:10:5)" or "    at file:///x.ts:10:5"
const STACK_LINE =
  /^\s+at (?:async )?(?:(.+?) \((.+):(\d+):\d+\)|(.+):(\d+):\d+)$/;
