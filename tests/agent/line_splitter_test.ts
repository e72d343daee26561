// The lines of a child container's output: split in linear time, with a
// line that never ends passed on in parts (not held whole), and the ready
// line found whole after any amount of such output.
import assert from "node:assert/strict";
import { LineSplitter } from "../../agent/_line_splitter.ts";

async function split(chunks: string[]): Promise<string[]> {
  const lines: string[] = [];
  await ReadableStream.from(chunks).pipeThrough(new LineSplitter()).pipeTo(
    new WritableStream({ write: (line) => void lines.push(line) }),
  );
  return lines;
}

Deno.test("LineSplitter: lines across and within chunks, an empty line, and the rest at the end", async () => {
  assert.deepEqual(await split(["a", "b\nc\n", "\nd", "e"]), [
    "ab",
    "c",
    "",
    "de",
  ]);
  assert.deepEqual(await split(["x\n"]), ["x"]);
  assert.deepEqual(await split([]), []);
});

Deno.test("LineSplitter: a line that never ends is passed on in parts of about 1 MiB; the ready line after it arrives whole", async () => {
  const dots = Array.from({ length: 3 * 1024 }, () => ".".repeat(1024));
  const ready = '{"addr":"tcp://127.0.0.1:1/","manager":"tcp://127.0.0.1:1/0"}';
  // The ready line's start straddles the 1 MiB cut.
  const lines = await split([
    ...dots,
    ready.slice(0, 5),
    ready.slice(5) + "\n",
  ]);
  assert.ok(lines.length >= 3, `${lines.length} parts`);
  for (const part of lines.slice(0, -1)) {
    assert.ok(part.length <= 1024 * 1024 + 1024, `a part of ${part.length}`);
  }
  const last = lines.at(-1)!;
  assert.ok(last.endsWith(ready), last.slice(-100));
  assert.equal(lines.join("").length, 3 * 1024 * 1024 + ready.length);
});
