// The lines of a child process's output, for startContainerProcess.

/** A line longer than this is passed on in parts (the child's own output). */
const MAX_PARTIAL_LINE = 1024 * 1024;

/**
 * Splits text into lines, in time linear in the text: each chunk is
 * searched once, and a partial line is joined only when it ends. A line
 * that grows past {@linkcode MAX_PARTIAL_LINE} is passed on in parts, but
 * for a tail that may be the start of the ready line.
 */
export class LineSplitter extends TransformStream<string, string> {
  constructor() {
    let parts: string[] = [];
    let size = 0;
    super({
      transform(chunk, controller) {
        let start = 0;
        for (
          let end = chunk.indexOf("\n");
          end >= 0;
          end = chunk.indexOf("\n", start)
        ) {
          parts.push(chunk.slice(start, end));
          controller.enqueue(parts.join(""));
          parts = [];
          size = 0;
          start = end + 1;
        }
        if (start === chunk.length) return;
        parts.push(chunk.slice(start));
        size += chunk.length - start;
        if (size <= MAX_PARTIAL_LINE) return;
        const partial = parts.join("");
        const cut = readyStart(partial);
        controller.enqueue(partial.slice(0, cut));
        parts = cut < partial.length ? [partial.slice(cut)] : [];
        size = partial.length - cut;
      },
      flush(controller) {
        if (size > 0) controller.enqueue(parts.join(""));
      },
    });
  }
}

/** How cli.ts's ready line begins. */
const READY = '{"addr":';

/**
 * Where a partial line may have the ready line begin: at its last `{"addr":`,
 * or at a tail that may be the start of one; else its end.
 */
function readyStart(partial: string): number {
  const at = partial.lastIndexOf(READY);
  if (at > 0) return at;
  if (at === 0) return partial.length;
  for (let k = Math.min(READY.length - 1, partial.length); k > 0; k--) {
    if (partial.endsWith(READY.slice(0, k))) return partial.length - k;
  }
  return partial.length;
}
