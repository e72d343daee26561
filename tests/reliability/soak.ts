// The soak run (`deno task soak`): by default 200 connections × 5 000 calls
// (1 000 000 calls) with random 0 B – 64 KiB payloads (strings and bytes,
// MsgPack) against one RPC server; every reply must be the known function
// of its request. Prints progress, time and peak heap/RSS; exits 1 on any
// lost or mismatched reply.
//
//   deno task soak [--connections 200] [--calls 5000] [--in-flight 2]
//                  [--sizes uniform|log] [--seed N]
import { parseArgs } from "node:util";
import { describeLoad, runLoad } from "./_load.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "200" },
    calls: { type: "string", default: "5000" },
    "in-flight": { type: "string", default: "2" },
    sizes: { type: "string", default: "uniform" },
    seed: { type: "string", default: "1" },
  },
});
const connections = Number(values.connections);
const calls = Number(values.calls);
if (values.sizes !== "uniform" && values.sizes !== "log") {
  console.error("--sizes is uniform or log");
  Deno.exit(2);
}
console.log(
  `soak: ${connections} connections × ${calls} calls, ${
    values["in-flight"]
  } in flight each, ${values.sizes} sizes 0 B – 64 KiB, seed ${values.seed}`,
);
const total = connections * calls;
const result = await runLoad({
  connections,
  callsPerConnection: calls,
  inFlight: Number(values["in-flight"]),
  sizes: values.sizes,
  seed: Number(values.seed),
  progressEvery: Math.max(1, Math.floor(total / 20)),
  onProgress(r) {
    const seconds = r.elapsedMs / 1000;
    console.log(
      `[${seconds.toFixed(0).padStart(5)} s] ${r.calls}/${total} calls (${
        (r.calls / seconds).toFixed(0)
      }/s), lost ${r.lost}, mismatched ${r.mismatched}, rss ${
        (Deno.memoryUsage().rss / 2 ** 20).toFixed(0)
      } MiB`,
    );
  },
});
console.log(describeLoad(result));
const ok = result.calls === total && result.ok === total;
console.log(ok ? "RESULT: clean" : "RESULT: FAILED");
Deno.exit(ok ? 0 : 1);
