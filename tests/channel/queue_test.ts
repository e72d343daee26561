import assert from "node:assert/strict";
import { Queue } from "../../channel/_queue.ts";

Deno.test("Queue: items come out in the order they went in", () => {
  const queue = new Queue<number>();
  assert.equal(queue.shift(), undefined);
  for (let i = 0; i < 5; i++) queue.push(i);
  assert.equal(queue.length, 5);
  assert.deepEqual([queue.shift(), queue.shift()], [0, 1]);
  queue.push(5);
  const out: (number | undefined)[] = [];
  while (queue.length > 0) out.push(queue.shift());
  assert.deepEqual(out, [2, 3, 4, 5]);
  assert.equal(queue.shift(), undefined);
  assert.equal(queue.length, 0);
});

Deno.test("Queue: grows while its head is in the middle of the ring", () => {
  const queue = new Queue<number>();
  // Move the head round the ring, then fill it past its first capacity.
  for (let i = 0; i < 11; i++) queue.push(i);
  for (let i = 0; i < 11; i++) assert.equal(queue.shift(), i);
  for (let i = 0; i < 100; i++) queue.push(i);
  assert.equal(queue.length, 100);
  for (let i = 0; i < 100; i++) assert.equal(queue.shift(), i);
  assert.equal(queue.length, 0);
});

Deno.test("Queue: behaves as an array over 100 000 random pushes and shifts", () => {
  const queue = new Queue<number>();
  const model: number[] = [];
  // A fixed seed: a failure can be replayed.
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  let next = 0;
  for (let step = 0; step < 100_000; step++) {
    // Bursts of pushes and of shifts, so the queue grows and empties often.
    const pushing = step % 1000 < 500 ? random() < 0.7 : random() < 0.3;
    if (pushing) {
      queue.push(next);
      model.push(next++);
    } else {
      assert.equal(queue.shift(), model.shift());
    }
    assert.equal(queue.length, model.length);
  }
});

Deno.test("Queue: clear empties it, and it works on afterwards", () => {
  const queue = new Queue<string>();
  for (let i = 0; i < 40; i++) queue.push(`item ${i}`);
  queue.shift();
  queue.clear();
  assert.equal(queue.length, 0);
  assert.equal(queue.shift(), undefined);
  queue.push("a");
  queue.push("b");
  assert.deepEqual([queue.shift(), queue.shift(), queue.shift()], [
    "a",
    "b",
    undefined,
  ]);
});
