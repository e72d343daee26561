// The runner behind bench/e2e.ts and bench/workers.ts: parses the options,
// runs the chosen families one after another (the peer process is shared
// and started on first use), judges the small-message rows against the
// hand-written ones, prints one summary table and, on a full run only,
// writes bench/results/<name>.json and .svg.
import { parseOptions } from "./_cli.ts";
import {
  type Context,
  type Family,
  OPTIONS,
  type PairedFamily,
} from "./_family.ts";
import { installIoCounter } from "./_io_counter.ts";
import { type Peer, startPeer } from "./_peer_process.ts";
import { startProfiler, summarize } from "./_profiler.ts";
import { RAW_FRAME } from "./_raw.ts";
import {
  judge,
  printRatios,
  printTable,
  type Row,
  writeResults,
} from "./_report.ts";
import { agents } from "./scenarios/agents.ts";
import { bulk } from "./scenarios/bulk.ts";
import { fanIn } from "./scenarios/fan_in.ts";
import { jsCost } from "./scenarios/js_cost.ts";
import { memory } from "./scenarios/memory.ts";
import { BESIDE_HAND_WRITTEN, HAND_WRITTEN, small } from "./scenarios/small.ts";
import { workers } from "./scenarios/workers.ts";

/** Every family, in the order a full run measures them. */
export const FAMILIES: (Family | PairedFamily)[] = [
  small,
  jsCost,
  bulk,
  fanIn,
  agents,
  memory,
  workers,
];

/** The whole run is stopped (peer killed, exit code 1) after this. */
const WATCHDOG_MS = 20 * 60_000;

/** Ends the run with a message and the list of valid values. */
function refuse(message: string, valid: string[]): never {
  console.error(`${message}; one of: ${valid.join(", ")}`);
  Deno.exit(2);
}

/**
 * Each row with a hand-written counterpart is judged on its speed relative
 * to it: both rows' medians of the per-round ratios to their raw partners
 * (for round trips, lower is faster), so each is corrected for drift.
 * The references beside one show that speed, unjudged (throughput rows).
 */
function judgeAgainstHandWritten(rows: Row[]): void {
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const row of rows) {
    const handWritten = HAND_WRITTEN[row.id];
    if (handWritten === undefined || row.ratio === null) continue;
    const other = byId.get(handWritten)?.ratio ?? NaN;
    const speed = row.unit === "µs/round trip"
      ? other / row.ratio
      : row.ratio / other;
    judge(row, `≥ 0.95 × ${handWritten}`, speed, { min: 0.95 });
  }
  for (const row of rows) {
    const handWritten = BESIDE_HAND_WRITTEN[row.id];
    if (handWritten === undefined || row.ratio === null) continue;
    const other = byId.get(handWritten)?.ratio ?? null;
    if (other === null) continue;
    row.target = `reported: × ${handWritten}`;
    row.measured = row.ratio / other;
  }
}

/** Runs one paired scenario with the CPU profiler on in both processes. */
async function profileOne(id: string, context: Context): Promise<void> {
  const family = FAMILIES.find((f) => f.ids.includes(id));
  if (family === undefined || !("open" in family)) {
    refuse(
      `--profile: "${id}" is not a scenario that runs in rounds`,
      FAMILIES.filter((f) => "open" in f).flatMap((f) => [...f.ids]),
    );
  }
  const dir = new URL("results/profiles/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const peer = await startPeer({
    profilePath: new URL(`${id}.peer.cpuprofile`, dir).pathname,
  });
  const setup = await family.open(context, peer);
  try {
    const scenario = setup.scenarios.find((s) => s.id === id);
    if (scenario === undefined) throw new Error(`${id} was not set up`);
    await scenario.run(1000);
    const profiler = await startProfiler();
    const sample = await scenario.run(context.options["profile-ms"] ?? 4000);
    const profile = await profiler.stop();
    await Deno.writeTextFile(
      new URL(`${id}.client.cpuprofile`, dir),
      JSON.stringify(profile),
    );
    console.log(
      `${id}: ${(sample.ops / sample.ms * 1000).toFixed(0)} ops/s profiled`,
    );
    console.log(`client profile:\n${summarize(profile)}\n`);
  } finally {
    await setup.close();
    await peer.stop();
  }
}

/**
 * Runs the benchmark: `defaults` are the families of a run without
 * `--family` or `--only`; a full run writes bench/results/`name`.json
 * (and .svg).
 */
export async function runBench(
  usage: string,
  defaults: string[],
  name: string,
): Promise<void> {
  const options = parseOptions(usage, OPTIONS);
  const quick = options.quick;
  const allIds = FAMILIES.flatMap((f) => [...f.ids]);
  const only = options.only?.split(",").filter((id) => id !== "");
  for (const id of only ?? []) {
    if (!allIds.includes(id)) {
      refuse(`--only: unknown scenario "${id}"`, allIds);
    }
  }
  const names = FAMILIES.map((f) => f.name);
  const chosen = options.profile === "workers"
    ? ["workers"]
    : options.family?.split(",").filter((n) => n !== "");
  for (const n of chosen ?? []) {
    if (!names.includes(n)) refuse(`--family: unknown family "${n}"`, names);
  }
  const families = FAMILIES.filter((f) =>
    only !== undefined
      ? f.ids.some((id) => only.includes(id))
      : (chosen ?? defaults).includes(f.name)
  );
  const full = !quick && only === undefined &&
    options.family === undefined && options.profile === undefined;
  const countIo = options["count-io"];
  if (countIo) await installIoCounter();

  let peer: Promise<Peer> | undefined;
  const context: Context = {
    options,
    quick,
    inflight: options.inflight ?? 16,
    only: only === undefined ? undefined : new Set(only),
    peer: () => peer ??= startPeer({ countIo }),
    rounds: (p) => ({
      rounds: options.rounds ?? (quick ? 3 : 5),
      roundMs: options["round-ms"] ?? (quick ? 300 : 1000),
      sliceMs: options["slice-ms"] ?? 50,
      warmupMs: options["warmup-ms"] ?? (quick ? 200 : 500),
      countIo,
      peerStats: p?.stats,
      log: (line) => console.log(line),
    }),
    log: (line) => console.log(line),
  };
  if (options.profile !== undefined && options.profile !== "workers") {
    return await profileOne(options.profile, context);
  }

  const watchdog = setTimeout(() => {
    console.error(`still running after ${WATCHDOG_MS / 60_000} min; giving up`);
    Deno.exit(1);
  }, WATCHDOG_MS);
  Deno.unrefTimer(watchdog);
  const started = performance.now();
  const loadBefore = Deno.loadavg();
  const settings = context.rounds();
  console.log(
    `bench: ${
      families.map((f) => f.name).join(", ")
    }; ${settings.rounds} rounds × ${settings.roundMs} ms per scenario ` +
      `(in ${settings.sliceMs} ms slices beside its raw partner) after ${settings.warmupMs} ms warm-up, ` +
      `${context.inflight} in flight; Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, ` +
      `${navigator.hardwareConcurrency} cores, load average ${
        loadBefore.map((l) => l.toFixed(2)).join(" ")
      }`,
  );
  if (loadBefore[0] > 0.5) {
    console.log(
      `warning: other processes compete for the ${navigator.hardwareConcurrency} cores; the results will be noisy`,
    );
  }
  const rows: Row[] = [];
  try {
    for (const family of families) {
      if (family.name === "workers" && peer !== undefined) {
        // The CPU-bound rows need both cores: no idle peer beside them.
        await (await peer).stop();
        peer = undefined;
      }
      console.log(`${family.name}…`);
      rows.push(...await family.run(context));
    }
  } finally {
    if (peer !== undefined) await (await peer).stop();
  }
  judgeAgainstHandWritten(rows);
  console.log("");
  printTable(rows, countIo);
  if (only !== undefined) {
    console.log("");
    printRatios(rows);
  }
  const judged = rows.filter((row) => row.pass !== null).length;
  const misses = rows.filter((row) => row.pass === false).length;
  console.log(
    `\n${judged} rows judged against a target, ${misses} missed; ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  clearTimeout(watchdog);
  const out = options.out ?? (full ? name : undefined);
  if (out === undefined) {
    console.log(
      "partial run (--quick, --only or --family): bench/results/ left as it is; --out=NAME writes NAME.json",
    );
    return;
  }
  const { log: _log, peerStats: _peerStats, ...rounds } = settings;
  const written = await writeResults(out, {
    date: new Date().toISOString(),
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    os: Deno.build.os,
    arch: Deno.build.arch,
    loadAverageBefore: loadBefore,
    loadAverageAfter: Deno.loadavg(),
    config: {
      families: families.map((f) => f.name),
      ...rounds,
      inflight: context.inflight,
      rawFrameBytes: RAW_FRAME,
      quick,
      only,
    },
    rows,
  }, true);
  console.log(`wrote ${written.join(" and ")}`);
}
