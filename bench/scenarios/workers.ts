// Containers in Workers: does CPU-bound work scale over worker containers,
// and what does a call over the parent ↔ worker link cost? The raw
// partners are plain Workers answering postMessage (no aiomas).
//
// 1. CPU-bound: a batch of --calls (200) calls of CpuAgent.work(n) (about
//    --work-ms, 2 ms, of integer math each), 16 in flight, made by an agent
//    of the parent container to: a CpuAgent of the parent itself (local
//    calls), one worker container, two worker containers; and to one and two
//    plain Workers. The batches run in rounds, the order rotating per round
//    (a batch cannot be sliced); ratios are medians of per-round ratios.
//    Target: 2 worker containers ≥ 1.7 × 1 (needs both cores free).
// 2. Call cost: echo(x) serial (µs/call) and 16 in flight (calls/s) to the
//    same container, to a worker container (MessagePort link), to another
//    container of this process over TCP, and to a plain Worker (the floor
//    of the worker link, their partner).
import { type CodecClass, JsonCodec, MsgPackCodec } from "../../mod.ts";
import type { Context, Family } from "../_family.ts";
import { median } from "../_measure.ts";
import { startProfiler, summarize } from "../_profiler.ts";
import { judge, type Row, type Unit } from "../_report.ts";
import { printTimeSplit, timeSplit } from "./_threads.ts";
import {
  type BatchSample,
  calibrate,
  type LoopSample,
  runBatch,
  runLoop,
  type Setup,
  setUp,
  type WorkersConfig,
} from "./_workers_setup.ts";

/** The speed-up 2 workers vs 1 to reach. */
const SPEEDUP_TARGET = 1.7;
const CODECS: Record<string, CodecClass> = {
  msgpack: MsgPackCodec,
  json: JsonCodec,
};
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function row(
  id: string,
  scenario: string,
  unit: Unit,
  rounds: number[],
  note: string,
  partner?: number[],
): Row {
  const ratioRounds = partner?.map((p, i) => rounds[i] / p);
  return {
    family: "workers",
    id,
    scenario,
    note,
    unit,
    result: median(rounds),
    baseline: partner === undefined ? null : median(partner),
    ratio: ratioRounds === undefined ? null : median(ratioRounds),
    ratioRounds,
    target: "",
    measured: null,
    score: null,
    pass: null,
    rounds,
  };
}

function buildRows(
  cpu: Map<string, BatchSample[]>,
  echo: Map<string, LoopSample[]>,
  setup: Setup,
  inflight: number,
): Row[] {
  const rows: Row[] = [];
  const wall = (id: string) => cpu.get(id)!.map((s) => s.ms);
  const partners: Record<string, string> = { worker1: "raw1", worker2: "raw2" };
  for (const scenario of setup.cpu) {
    const samples = cpu.get(scenario.id)!;
    const perCall = median(
      samples.map((s) =>
        sum(s.stats.map((t) => t.busyMs)) / sum(s.stats.map((t) => t.calls))
      ),
    );
    // Busy: the share of the wall time each target spent inside `work`.
    const busy = median(
      samples.map((s) =>
        sum(s.stats.map((t) => t.busyMs)) / (s.ms * scenario.threads)
      ),
    );
    const cores = median(samples.map((s) => s.cpuUs / 1000 / s.ms));
    const partner = partners[scenario.id];
    rows.push(row(
      `workers:${scenario.id}`,
      `CPU batch: ${scenario.label}`,
      "ms",
      wall(scenario.id),
      `${perCall.toFixed(2)} ms/work call, busy ${(busy * 100).toFixed(0)} %, ${
        cores.toFixed(2)
      } cores used`,
      partner === undefined ? undefined : wall(partner),
    ));
  }
  const speedup = (label: string, slow: string, fast: string) => {
    const values = wall(slow).map((ms, i) => ms / wall(fast)[i]);
    return row(
      `workers:${fast}/${slow}`,
      label,
      "×",
      values,
      `${median(wall(slow)).toFixed(0)} ms / ${
        median(wall(fast)).toFixed(0)
      } ms (medians)`,
    );
  };
  const twoVsOne = speedup(
    "speed-up: 2 worker containers vs 1",
    "worker1",
    "worker2",
  );
  rows.push(
    judge(
      twoVsOne,
      `≥ ${SPEEDUP_TARGET.toFixed(2)} ×`,
      twoVsOne.result,
      { min: SPEEDUP_TARGET },
    ),
    speedup("speed-up: 2 plain Workers vs 1 (machine)", "raw1", "raw2"),
  );
  const us = (id: string) => echo.get(id)!.map((s) => s.ms * 1000 / s.ops);
  const rate = (id: string) => echo.get(id)!.map((s) => s.ops / s.ms * 1000);
  const cpuPerCall = (id: string) =>
    `${
      median(echo.get(id)!.map((s) => s.cpuUs / s.ops)).toFixed(2)
    } CPU µs/call`;
  const labels = new Map(setup.echo.map((s) => [s.id, s.label]));
  for (const kind of ["local", "worker", "tcp", "rawPort"]) {
    // The worker link's partner: a plain Worker's postMessage.
    const raw = kind === "worker" ? "rawPort" : undefined;
    const label = labels.get(`${kind}Serial`)!;
    rows.push(
      row(
        `workers:${kind}Serial`,
        `echo, serial: ${label}`,
        "µs/call",
        us(`${kind}Serial`),
        cpuPerCall(`${kind}Serial`),
        raw && us(`${raw}Serial`),
      ),
      row(
        `workers:${kind}Pipe`,
        `echo, ${inflight} in flight: ${label}`,
        "calls/s",
        rate(`${kind}Pipe`),
        cpuPerCall(`${kind}Pipe`),
        raw && rate(`${raw}Pipe`),
      ),
    );
  }
  return rows;
}

/**
 * Profiles the parent thread during 2-worker batches, and the parent and
 * the worker thread during echo loops to the worker (serial, pipelined).
 */
async function profileThreads(
  setup: Setup,
  config: WorkersConfig,
): Promise<void> {
  const dir = new URL("../results/profiles/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const two = setup.cpu.find((s) => s.id === "worker2")!;
  const profiler = await startProfiler();
  let ms = 0;
  for (let i = 0; i < 5; i++) ms += (await runBatch(setup, two, config)).ms;
  const profile = await profiler.stop();
  await Deno.writeTextFile(
    new URL("workers.cpu2.parent.cpuprofile", dir),
    JSON.stringify(profile),
  );
  console.log(
    `\nparent thread during 5 batches to 2 workers (${
      (ms / 5).toFixed(0)
    } ms each while profiled):\n${summarize(profile, 15)}`,
  );
  for (const id of ["workerSerial", "workerPipe"]) {
    const scenario = setup.echo.find((s) => s.id === id)!;
    const profiler = await startProfiler();
    const inWorker = setup.workerEcho.profile(
      1500,
      new URL(`workers.${id}.worker.cpuprofile`, dir).pathname,
    );
    const sample = await runLoop(setup, scenario, 2000);
    const profile = await profiler.stop();
    await Deno.writeTextFile(
      new URL(`workers.${id}.parent.cpuprofile`, dir),
      JSON.stringify(profile),
    );
    const rate = sample.ops / sample.ms * 1000;
    console.log(
      `\n${id}: ${rate.toFixed(0)} calls/s (${
        (1e6 / rate).toFixed(1)
      } µs/call) while profiled\nparent thread:\n${
        summarize(profile, 25)
      }\n\nworker thread (1.5 s of it):\n${await inWorker}`,
    );
  }
}

async function run(context: Context): Promise<Row[]> {
  const { options, quick } = context;
  const codecName = options.codec ?? "msgpack";
  const codec = CODECS[codecName];
  if (codec === undefined) {
    throw new TypeError(`--codec must be msgpack or json, got "${codecName}"`);
  }
  const config: WorkersConfig = {
    codec,
    inflight: context.inflight,
    calls: options.calls ?? (quick ? 100 : 200),
  };
  const rounds = options.rounds ?? (quick ? 3 : 7);
  const echoRounds = options["echo-rounds"] ?? (quick ? 3 : 5);
  const roundMs = options["round-ms"] ?? (quick ? 200 : 400);
  const calibration = calibrate(options["work-ms"] ?? 2);
  context.log(
    `  ${config.calls} calls of work(n = ${calibration.n}, ≈ ${
      calibration.msPerCall.toFixed(2)
    } ms), ${rounds} rounds; echo ${echoRounds} rounds × ${roundMs} ms; ${codecName}`,
  );
  const setup = await setUp(calibration.n, config);
  const cpu = new Map<string, BatchSample[]>();
  const echo = new Map<string, LoopSample[]>();
  try {
    // Warm-up (also gives the checksums every later batch must match).
    let expected: number[] = [];
    for (const scenario of setup.cpu) {
      const sample = await runBatch(setup, scenario, config);
      if (scenario.id === "parent") expected = sample.checksums;
    }
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < setup.cpu.length; i++) {
        const scenario = setup.cpu[(i + round) % setup.cpu.length];
        const sample = await runBatch(setup, scenario, config);
        const wrong = sample.checksums.findIndex((c, j) => c !== expected[j]);
        if (wrong >= 0) {
          throw new Error(`${scenario.id}: checksum ${wrong} is wrong`);
        }
        if (!cpu.has(scenario.id)) cpu.set(scenario.id, []);
        cpu.get(scenario.id)!.push(sample);
      }
    }
    for (const scenario of setup.echo) {
      await runLoop(setup, scenario, roundMs / 2);
    }
    for (let round = 0; round < echoRounds; round++) {
      for (let i = 0; i < setup.echo.length; i++) {
        const scenario = setup.echo[(i + round) % setup.echo.length];
        const sample = await runLoop(setup, scenario, roundMs);
        if (!echo.has(scenario.id)) echo.set(scenario.id, []);
        echo.get(scenario.id)!.push(sample);
      }
    }
    if (options.profile === "workers") await profileThreads(setup, config);
  } finally {
    await setup.close();
  }
  printTimeSplit(timeSplit(cpu, setup.cpu));
  return buildRows(cpu, echo, setup, config.inflight);
}

/** The workers family. */
export const workers: Family = { name: "workers", ids: ["workers"], run };
