// Load: 50 concurrent connections × 500 calls (25 000) with random payloads
// of 0 B to 64 KiB (strings and bytes, uniform sizes, MsgPack) against one
// RPC server. Every reply must be the known function of its request.
import assert from "node:assert/strict";
import { describeLoad, runLoad } from "./_load.ts";

Deno.test("load: 50 connections × 500 calls, 0–64 KiB payloads: nothing lost, nothing crossed", async () => {
  const result = await runLoad({
    connections: 50,
    callsPerConnection: 500,
    inFlight: 2,
    sizes: "uniform",
    seed: 42,
  });
  console.log(describeLoad(result));
  assert.equal(result.calls, 25000);
  assert.equal(result.lost, 0);
  assert.equal(result.mismatched, 0);
  assert.equal(result.ok, 25000);
});
