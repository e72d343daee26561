/**
 * Containers in Workers, on their own: the workers family of the benchmark
 * suite (bench/scenarios/workers.ts). CPU-bound agents in 1 and 2 worker
 * containers against plain Workers (target: 2 vs 1 ≥ 1.7 ×, with both
 * cores free), and the cost of a call over the worker link.
 *
 *   deno run -A bench/workers.ts            # ~45 s; table, bench/results/workers.json
 *   deno run -A bench/workers.ts --quick    # ~15 s, a smoke test (writes nothing)
 *   deno run -A bench/workers.ts --profile=workers
 *       # then profiles the parent thread during 2-worker batches and the
 *       # parent and worker threads during echo loops (writes
 *       # bench/results/profiles/workers.*.cpuprofile)
 *
 * Options: --quick, --rounds=N (7; --quick: 3), --echo-rounds=N (5),
 * --calls=N (200), --inflight=N (16), --work-ms=MS (2), --round-ms=MS
 * (400, per echo sample), --codec=msgpack|json (msgpack), --out=NAME;
 * --help lists them all (they are bench/e2e.ts's). Per-thread times need
 * -A (Deno reads /proc only then).
 */
import { runBench } from "./_runner.ts";

const USAGE =
  `bench/workers.ts: containers in Workers (the workers family of bench/e2e.ts).

  deno run -A bench/workers.ts           writes bench/results/workers.json and .svg
  deno run -A bench/workers.ts --quick   a smoke test (writes nothing)`;

if (import.meta.main) await runBench(USAGE, ["workers"], "workers");
