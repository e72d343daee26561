/**
 * Formats an error as the text of an error reply: a Python-style traceback
 * of the JavaScript stack (most recent call last) ending in the line
 * `"<Name>: <message>\n"`, which is what Python peers show.
 */
export function formatError(error: unknown): string {
  const name = error instanceof Error ? error.name || "Error" : "Error";
  const message = error instanceof Error ? error.message : String(error);
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

// "    at fn (file:///x.ts:10:5)" or "    at file:///x.ts:10:5"
const STACK_LINE =
  /^\s+at (?:async )?(?:(.+?) \((.+):(\d+):\d+\)|(.+):(\d+):\d+)$/;
