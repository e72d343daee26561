// The long fuzz run (`deno task fuzz`): by default 1 000 000 hostile inputs
// across the three codecs against real RPC servers (a fresh server, on a
// fresh port, every --batch inputs), with a well-behaved client calling
// throughout. Prints progress lines and a summary; exits 1 on any crash,
// hang, lost or wrong reply.
//
//   deno task fuzz [--seed N] [--count N] [--codecs json,msgpack,msgpackblosc]
//                  [--concurrency N] [--deadline MS] [--batch N]
//                  [--exclude FAMILY,…] [--input CODEC:INDEX]
//
// --count is the total over all codecs. --exclude leaves input families out
// (default: KNOWN_BUG_FAMILIES, empty while no bug is open). --input prints
// one input (hex) and what the oracle expects, to reproduce a finding:
// findings name their codec and index (and the run its seed).
import { parseArgs } from "node:util";
import {
  clean,
  CODEC_NAMES,
  type CodecName,
  crashes,
  generateInput,
  hex,
  KNOWN_BUG_FAMILIES,
  oracleCodec,
  plan,
  runFuzz,
  summary,
} from "./_fuzz.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string", default: String(Date.now() % 1000000) },
    count: { type: "string", default: "1000000" },
    codecs: { type: "string", default: CODEC_NAMES.join(",") },
    concurrency: { type: "string", default: "8" },
    deadline: { type: "string", default: "5000" },
    batch: { type: "string", default: "20000" },
    exclude: { type: "string", default: KNOWN_BUG_FAMILIES.join(",") },
    input: { type: "string" },
  },
});

const seed = Number(values.seed);
const exclude = values.exclude.split(",").filter((family) => family !== "");

if (values.input !== undefined) {
  const [codec, index] = values.input.split(":");
  const input = await generateInput(
    codec as CodecName,
    seed,
    Number(index),
    exclude,
  );
  console.log(`${codec} seed ${seed} index ${index}: ${input.family}`);
  console.log(`splits: ${JSON.stringify(input.splits)}`);
  console.log(hex(input.bytes, 1 << 20));
  const expected = await plan(input.bytes, oracleCodec(codec as CodecName));
  console.log(
    `expected: ${expected.requests.length} replies, ${
      expected.bad === null
        ? expected.incomplete
          ? "then waits for more bytes"
          : "connection stays open"
        : `then close (${expected.bad})`
    }`,
  );
  Deno.exit(0);
}

const codecs = values.codecs.split(",") as CodecName[];
for (const codec of codecs) {
  if (!CODEC_NAMES.includes(codec)) {
    console.error(`unknown codec ${codec}`);
    Deno.exit(2);
  }
}
const total = Number(values.count);
const perCodec = Math.ceil(total / codecs.length);
console.log(
  `fuzz: seed ${seed}, ${perCodec} inputs per codec (${
    codecs.join(", ")
  }), concurrency ${values.concurrency}, deadline ${values.deadline} ms${
    exclude.length > 0 ? `, excluding ${exclude.join(", ")}` : ""
  }`,
);
const started = performance.now();
let peakRss = 0;
const stats = await runFuzz({
  seed,
  inputs: perCodec,
  codecs,
  concurrency: Number(values.concurrency),
  deadlineMs: Number(values.deadline),
  batchSize: Number(values.batch),
  exclude,
  progressEvery: 10000,
  onProgress(s) {
    const seconds = (performance.now() - started) / 1000;
    const rss = Deno.memoryUsage().rss;
    peakRss = Math.max(peakRss, rss);
    console.log(
      `[${seconds.toFixed(0).padStart(5)} s] ${s.inputs} inputs (${
        (s.inputs / seconds).toFixed(0)
      }/s), ${s.connections} connections, crashes ${
        crashes(s)
      }, hangs ${s.hangs}, unexpected closes ${s.unexpectedCloses}, bad frames ${s.badFrames}, wrong replies ${s.wrongReplies}, well-behaved ${s.wellBehaved.ok}/${s.wellBehaved.calls}, rss ${
        (rss / 2 ** 20).toFixed(0)
      } MiB`,
    );
  },
});
console.log("\n" + summary(stats));
console.log(`peak RSS seen ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
console.log(`families: ${JSON.stringify(stats.byFamily)}`);
const reasons = Object.entries(stats.reasons).sort((a, b) => b[1] - a[1]);
console.log("server-side close reasons (top 15):");
for (const [reason, count] of reasons.slice(0, 15)) {
  console.log(`  ${String(count).padStart(8)}  ${reason}`);
}
if (stats.findings.length > 0) {
  console.log(`findings (first ${stats.findings.length}; seed ${seed}):`);
  for (const finding of stats.findings) console.log(finding);
}
const ok = clean(stats) && stats.inputs === perCodec * codecs.length;
console.log(ok ? "RESULT: clean" : "RESULT: FAILED");
Deno.exit(ok ? 0 : 1);
