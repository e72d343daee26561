// A peer's text quoted in an error message or a label is cut short, and
// what is kept of it must not keep the whole text alive (V8's slices do).
import assert from "node:assert/strict";
import { clipPeerText, formatPeerValue } from "../../channel/_message.ts";
import { collectGarbage } from "../_collect.ts";

const MiB = 1024 * 1024;

/** Heap growth, in bytes, while `keep` holds what `quote` made of 16 texts of 2 MiB. */
async function heldBy(quote: (text: string) => string): Promise<number> {
  await collectGarbage();
  const before = Deno.memoryUsage().heapUsed;
  const kept: string[] = [];
  for (let i = 0; i < 16; i++) kept.push(quote(`${i}`.padEnd(2 * MiB, "x")));
  await collectGarbage();
  const grown = Deno.memoryUsage().heapUsed - before;
  assert.equal(kept.length, 16);
  return grown;
}

Deno.test("clipPeerText and formatPeerValue keep a copy of what they quote, not the peer's whole text", async () => {
  assert.equal(clipPeerText("abc"), "abc");
  assert.equal(
    clipPeerText("é".repeat(300)),
    `${"é".repeat(200)}… (300 characters)`,
  );
  assert.equal(formatPeerValue("x".repeat(65)), `"${"x".repeat(64)}…"`);
  // 16 × 2 MiB would be 32 MiB (64 as two-byte strings) if kept.
  for (
    const [name, quote] of [
      ["clipPeerText", (text: string) => clipPeerText(text)],
      ["formatPeerValue", formatPeerValue],
    ] as const
  ) {
    const grown = await heldBy(quote);
    assert.ok(grown < 4 * MiB, `${name} keeps ${grown} bytes for 16 quotes`);
  }
});
