import assert from "node:assert/strict";
import { PendingTable } from "../../channel/_pending_table.ts";

interface Call {
  id: number;
}

function calls(from: number, to: number): Call[] {
  return Array.from({ length: to - from }, (_, i) => ({ id: from + i }));
}

Deno.test("PendingTable: calls are found and taken by id, in any order", () => {
  const table = new PendingTable<Call>();
  const all = calls(0, 10);
  for (const call of all) table.add(call);
  assert.equal(table.size, 10);
  for (const id of [7, 0, 9, 3]) {
    assert.equal(table.get(id), all[id]);
    assert.equal(table.take(id), all[id]);
    assert.equal(table.get(id), undefined);
    assert.equal(table.take(id), undefined);
  }
  assert.equal(table.size, 6);
  assert.deepEqual(table.clear().map((call) => call.id), [1, 2, 4, 5, 6, 8]);
  assert.equal(table.size, 0);
  assert.equal(table.get(1), undefined);
});

Deno.test("PendingTable: ids that were never added, or are not integers, find nothing", () => {
  const table = new PendingTable<Call>();
  for (const call of calls(0, 40)) table.add(call);
  for (const id of [40, 72, -1, -32, 1.5, NaN, 2 ** 40]) {
    assert.equal(table.get(id), undefined, `get(${id})`);
    assert.equal(table.take(id), undefined, `take(${id})`);
  }
  assert.equal(table.size, 40);
});

Deno.test("PendingTable: a call that waits while many later ones come and go is still found", () => {
  const table = new PendingTable<Call>();
  const slow = { id: 0 };
  table.add(slow);
  // A steady stream of 16 calls in flight, for far more than a lap of the
  // ring at any size it may grow to.
  let next = 1;
  const inFlight: Call[] = [];
  for (let round = 0; round < 20_000; round++) {
    while (inFlight.length < 16) {
      const call = { id: next++ };
      table.add(call);
      inFlight.push(call);
    }
    for (const call of inFlight.splice(0, 16)) {
      assert.equal(table.take(call.id), call);
    }
    assert.equal(table.size, 1);
  }
  assert.ok(next > 64 * 1024 * 4);
  assert.equal(table.get(0), slow);
  assert.equal(table.take(0), slow);
  assert.equal(table.size, 0);
});

Deno.test("PendingTable: many calls in flight at once, taken out of order", () => {
  const table = new PendingTable<Call>();
  const all = calls(0, 100_000);
  for (const call of all) table.add(call);
  assert.equal(table.size, 100_000);
  // Every other call first, then the rest backwards.
  for (let id = 0; id < all.length; id += 2) {
    assert.equal(table.take(id), all[id]);
  }
  for (let id = all.length - 1; id > 0; id -= 2) {
    assert.equal(table.get(id), all[id]);
    assert.equal(table.take(id), all[id]);
  }
  assert.equal(table.size, 0);
  assert.deepEqual(table.clear(), []);
});

Deno.test("PendingTable: clear returns every call, oldest first, those that outlived the ring too", () => {
  const table = new PendingTable<Call>();
  const slow = calls(0, 3);
  for (const call of slow) table.add(call);
  // Enough later calls to push the first ones out of the ring.
  for (let id = 3; id < 200_000; id++) {
    table.add({ id });
    table.take(id);
  }
  const late = { id: 200_000 };
  table.add(late);
  // Oldest first, though the first three had moved out of the ring.
  assert.deepEqual(table.clear(), [...slow, late]);
  assert.equal(table.size, 0);
  for (const call of [...slow, late]) {
    assert.equal(table.get(call.id), undefined);
  }
});
