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
  const dots = Array.from({ length: 1024 }, () => ".".repeat(1024));
  const ready = '{"addr":"tcp://127.0.0.1:1/","manager":"tcp://127.0.0.1:1/0"}';
  // The 1 MiB cut comes right after each of the ready line's first bytes.
  for (let k = 1; k <= 8; k++) {
    const lines = await split([
      ...dots,
      "." + ready.slice(0, k),
      ready.slice(k) + "\n",
    ]);
    assert.equal(lines.length, 2, `cut after ${k}: ${lines.length} lines`);
    assert.equal(lines[0], ".".repeat(1024 * 1024 + 1));
    assert.equal(lines[1], ready);
  }
  // Far more: every part is about 1 MiB.
  const many = await split([...dots, ...dots, ...dots, "x\n"]);
  assert.ok(many.length >= 3, `${many.length} parts`);
  for (const part of many) {
    assert.ok(part.length <= 1024 * 1024 + 1024, `a part of ${part.length}`);
  }
  assert.equal(many.join("").length, 3 * 1024 * 1024 + 1);
});
