// The bytes a NATS session holds until its channel reads them: in order
// across messages of any size, and about as much memory as the window
// counts, however small a peer's messages are.
import assert from "node:assert/strict";
import { collectGarbage } from "../_collect.ts";
import { ReceiveQueue } from "../../nats/_receive_queue.ts";

/** `length` bytes counting up from `start` (mod 256). */
function bytes(start: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);
}

Deno.test("ReceiveQueue: bytes of messages of any size come out in order, read in pieces of any size", () => {
  const queue = new ReceiveQueue();
  const sizes = [1, 3, 4095, 4096, 4097, 1, 70_000, 2, 9000, 1, 1];
  let total = 0;
  for (const size of sizes) {
    queue.push(bytes(total, size));
    total += size;
  }
  const out = new Uint8Array(total);
  let read = 0;
  for (const piece of [1, 5000, 7, 65536, 3, 100_000]) {
    if (queue.empty) break;
    read += queue.take(out.subarray(read, Math.min(total, read + piece)));
  }
  assert.equal(read, total);
  assert.ok(queue.empty);
  assert.deepEqual(out, bytes(0, total));
  // Reused after it was emptied, also while partly read.
  queue.push(bytes(7, 10));
  const two = new Uint8Array(2);
  assert.equal(queue.take(two), 2);
  queue.push(bytes(17, 5000));
  const rest = new Uint8Array(5008);
  assert.equal(queue.take(rest), 5008);
  assert.deepEqual(rest, bytes(9, 5008));
  assert.ok(queue.empty);
});

Deno.test("ReceiveQueue: a peer's one-byte messages cost about a byte each, not an array each", async () => {
  const count = 200_000;
  const queue = new ReceiveQueue();
  await collectGarbage();
  const before = Deno.memoryUsage();
  // Each the byte after the header of a NATS message of its own.
  for (let i = 0; i < count; i++) queue.push(new Uint8Array(6).subarray(5));
  await collectGarbage();
  const after = Deno.memoryUsage();
  const held = after.heapUsed - before.heapUsed +
    after.external - before.external;
  // An array per message held about 170 bytes each: 34 MB here.
  assert.ok(held < 4 * count, `${held} bytes held for ${count} bytes`);
  assert.equal(queue.take(new Uint8Array(count)), count);
});

Deno.test("ReceiveQueue: blocks read are let go while the queue never empties (a reader always a message behind)", async () => {
  const queue = new ReceiveQueue();
  const size = 256 * 1024;
  const buffer = new Uint8Array(64 * 1024);
  // One message always unread; 200 more pass through.
  queue.push(bytes(0, size));
  await collectGarbage();
  const before = Deno.memoryUsage().external;
  for (let i = 0; i < 200; i++) {
    queue.push(bytes(i, size));
    for (let left = size; left > 0;) {
      left -= queue.take(buffer.subarray(0, Math.min(buffer.length, left)));
    }
  }
  assert.equal(queue.size, size);
  await collectGarbage();
  const held = Deno.memoryUsage().external - before;
  // 200 blocks read were 50 MiB; one unread message is 256 KiB.
  assert.ok(held < 8 * 1024 * 1024, `${held} bytes held`);
});
