// The wire fuzzer, bounded: 21 000 hostile inputs (7 000 per codec) against
// a real RPC server over many short TCP connections, while a well-behaved
// client keeps calling it. See _fuzz_families.ts for the inputs and
// _fuzz_oracle.ts for the oracle.
import assert from "node:assert/strict";
import {
  clean,
  crashes,
  FAMILY_NAMES,
  type FuzzStats,
  generateInput,
  oracleCodec,
  plan,
  runFuzz,
  summary,
} from "./_fuzz.ts";

function report(stats: FuzzStats): void {
  console.log(summary(stats));
  for (const finding of stats.findings.slice(0, 10)) console.log(finding);
}

Deno.test("fuzz: 21 000 hostile inputs, three codecs: no crash, no hang, no lost reply", async () => {
  const stats = await runFuzz({ seed: 20240601, inputs: 7000 });
  report(stats);
  assert.equal(stats.inputs, 21000);
  assert.equal(
    crashes(stats),
    0,
    "uncaught errors, unhandled rejections, logs",
  );
  assert.equal(stats.unhandled, 0);
  assert.equal(stats.hangs, 0);
  assert.equal(stats.unexpectedCloses, 0);
  assert.equal(stats.badFrames, 0);
  assert.equal(stats.wrongReplies, 0);
  assert.equal(
    stats.server.other,
    0,
    "connections closed without a ProtocolError",
  );
  assert.ok(
    stats.wellBehaved.calls > 100,
    "the well-behaved client kept calling",
  );
  assert.equal(stats.wellBehaved.ok, stats.wellBehaved.calls);
  assert.equal(stats.wellBehaved.lost, 0);
  assert.equal(stats.wellBehaved.wrong, 0);
  // The mix reached every path: closes, replies, EOF inside frames.
  assert.ok(stats.serverCloses > 5000);
  assert.ok(stats.replies > 3000);
  assert.ok(stats.incompleteInputs > 500);
  assert.equal(
    stats.server.accepted,
    stats.server.clean + stats.server.protocolErrors,
  );
  // The families that found bugs 1–4 (bugs_test.ts) are in the mix.
  for (const family of ["ref-id", "ref-hostile-keys", "hostile-tostring"]) {
    assert.ok(stats.byFamily[family] > 0, family);
  }
  assert.ok(clean(stats));
});

Deno.test("fuzz: inputs are reproducible from (codec, seed, index)", async () => {
  for (const codec of ["json", "msgpack", "msgpackblosc"] as const) {
    for (const index of [0, 1, 17, 4999]) {
      const a = await generateInput(codec, 7, index);
      const b = await generateInput(codec, 7, index);
      assert.equal(a.family, b.family);
      // Compressed blosc frames come from c-blosc: compare what they decode to.
      const oracle = oracleCodec(codec);
      assert.deepEqual(
        await plan(a.bytes, oracle),
        await plan(b.bytes, oracle),
      );
      if (codec !== "msgpackblosc") assert.deepEqual(a.bytes, b.bytes);
    }
  }
});

Deno.test("fuzz: every family is generated for every codec", async () => {
  for (const codec of ["json", "msgpack", "msgpackblosc"] as const) {
    const seen = new Set<string>();
    for (let index = 0; index < 3000; index++) {
      const input = await generateInput(codec, 3, index, []);
      for (
        const family of input.family.replace(/^multi\(|\)$/g, "").split("+")
      ) {
        seen.add(family);
      }
    }
    assert.deepEqual([...seen].sort(), [...FAMILY_NAMES].sort(), codec);
  }
});
