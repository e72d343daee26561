/**
 * The benchmark suite: every scenario against a raw partner measured in
 * the same run, one summary table. Families (one file each in
 * bench/scenarios/):
 *
 * - small: channel request/reply serial and 16 in flight, RPC `add`, the
 *   hand-written pair of `_minimal.ts` (target: ≥ 0.95 × its speed); RPC
 *   `add` with telemetry on beside `telemetry: false` (no provider: target
 *   ≥ 0.98 ×; an SDK tracer, an SDK meter);
 * - js: the channel's server and client paths beside the hand-written
 *   pair's, in-process over stand-ins for Deno.Conn: the JavaScript a
 *   small message costs, without the kernel's share or the VM's noise;
 * - bulk: echo of 1 MiB and 64 KiB bytes, MsgPack, 1 and 4 in flight (vs
 *   raw Deno.Conn, MB/s, target ≥ 0.5 ×); 1 MiB compressible bytes with
 *   MsgPack+Blosc (ratio to MsgPack); raw echoes copying each frame into
 *   fresh memory (what handing bytes over costs without a library);
 * - fanin: RPC `add` over 100 and 10 connections × 16 in flight from one
 *   process (target: ≥ 0.6 × raw, and 100 ≥ 10), and the hand-written pair
 *   over as many connections;
 * - agents: agent → agent across processes and in one container, 100 k
 *   agents, 10 k agents each calling once;
 * - memory: RSS per idle connection, both sides: 1000 more beside 1000
 *   open (target ≤ 24 KB), and the first 1000 with the process's one-off
 *   growth;
 * - workers: CPU-bound agents in 2 vs 1 worker containers, the cost of a
 *   call over the worker link (bench/workers.ts runs just this).
 *
 * Method: in each of --rounds rounds (after a warm-up) a scenario runs for
 * --round-ms in --slice-ms slices that alternate with slices of its raw
 * partner; its ratio is the median of the per-round ratios (see
 * docs/performance.md). The peer runs in a process of its own (_peer.ts).
 *
 *   deno run -A bench/e2e.ts                     # ~5 min; all families, table,
 *                                                # bench/results/latest.{json,svg}
 *   deno run -A bench/e2e.ts --quick             # short rounds, smoke test
 *   deno run -A bench/e2e.ts --only=channelPipe,rpcPipe
 *       # just these scenarios beside their raw partners, and their
 *       # per-round ratios
 *   deno run -A bench/e2e.ts --family=bulk,fanin # just these families
 *   deno run -A bench/e2e.ts --profile=channelPipe
 *       # one scenario for --profile-ms with the CPU profiler on in both
 *       # processes (bench/results/profiles/<id>.{client,peer}.cpuprofile)
 *
 * Options: --quick, --only=ID,…, --family=NAME,…, --out=NAME,
 * --rounds=N (5), --round-ms=MS (1000), --slice-ms=MS (50),
 * --warmup-ms=MS (500), --inflight=N (16), --agents=N (100000),
 * --connections=N (1000), --fanin-connections=N,… (100,10), --js-evict=KB
 * (none), --count-io,
 * --profile=ID, --profile-ms=MS (4000), and the workers family's --calls,
 * --work-ms, --echo-rounds, --codec;
 * --help lists them all. Unknown options are refused.
 *
 * Only a full run (no --quick, --only, --family or --profile) writes
 * bench/results/latest.json and latest.svg; --out=NAME writes NAME.json and
 * NAME.svg from any run instead.
 */
import { runBench } from "./_runner.ts";

const USAGE =
  `bench/e2e.ts: the benchmark suite, each scenario beside a raw partner measured in the same run.

  deno run -A bench/e2e.ts                 all families; writes bench/results/latest.{json,svg}
  deno run -A bench/e2e.ts --quick         short rounds, a smoke test (writes nothing)
  deno run -A bench/e2e.ts --only=ID,…     just these scenarios (writes nothing)
  deno run -A bench/e2e.ts --family=NAME,… just these families (writes nothing)

Families and scenario ids:
  small    rawSerial channelSerialJson channelSerialMsgpack minimalSerialJson
           minimalSerialMsgpack rawPipe rawEach channelPipe channelPipeForAwait
           minimalPipe rpcPipe rpcPipeNoProvider rpcPipeTraced rpcPipeMetered
  js       jsServer jsServerMinimal jsClient jsClientMinimal
  bulk     bulk1MiB bulk1MiBx4 bulk64KiB bulk64KiBx4 bulkBlosc1MiB
           bulkOwned1MiB bulkOwned1MiBx4 bulkOwned64KiB bulkOwned64KiBx4
  fanin    fanIn100 fanIn10 minimalFanIn100 minimalFanIn10
  agents   agentRemotePipe agentLocalSerial agentLocalPipe agents100k agentsFanIn10k
  memory   idleServer idleClient idleServerFirst idleClientFirst
  workers  workers`;

if (import.meta.main) {
  await runBench(USAGE, [
    "small",
    "js",
    "bulk",
    "fanin",
    "agents",
    "memory",
    "workers",
  ], "latest");
}
