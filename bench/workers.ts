/**
 * Containers in Workers: does CPU-bound work scale over worker containers,
 * and what does a call over the parent ↔ worker link cost?
 *
 *   deno run -A bench/workers.ts            # ~45 s; table and JSON
 *   deno run -A bench/workers.ts --quick    # ~15 s, for a smoke test
 *   deno run -A bench/workers.ts --profile  # then profiles the parent
 *       # thread during 2-worker batches, and the parent and worker threads
 *       # during echo loops over the worker link; prints summaries and writes
 *       # bench/results/profiles/workers.*.cpuprofile
 *
 * 1. CPU-bound: a batch of `--calls` (200) calls of `CpuAgent.work(n)`
 *    (`--work-ms`, about 2 ms of integer math each), `--inflight` (16) in
 *    flight, made by an agent of the parent container to: a `CpuAgent` of
 *    the parent itself (local calls, the reference), one worker container,
 *    two worker containers (calls and lanes split evenly); and, as the
 *    machine's own baseline, to one and two plain Workers answering
 *    `postMessage` (no aiomas). Speed-up 2 workers vs 1: the median of the
 *    per-round ratios, target ≥ 1.7 ×.
 * 2. Call cost: `echo(x)` on a trivial agent, serial (µs/call) and with
 *    `--inflight` loops (calls/s), to the same container (local fast path),
 *    to a worker container (MessagePort link), to another container of this
 *    process over TCP (127.0.0.1, port 0), and to a plain Worker
 *    (`postMessage` ping-pong, the floor of the worker link).
 *
 * Every scenario runs once to warm up (not counted), then `--rounds`
 * rounds, interleaved (the order rotates per round). CPU µs/call is this
 * process's user + system time (all threads, workers included).
 *
 * A second table tells where each CPU batch's time went, per thread, from
 * Linux's `/proc/self/task/<tid>/schedstat`: on a CPU, runnable but
 * waiting for one (the cores were taken by other threads or processes),
 * idle (waiting for messages); and how many cores other processes used
 * meanwhile (`/proc/stat`; Deno reads `/proc` only with `-A`, else the
 * table shows `?`). On a 2-core machine another session's tests
 * take a core away, and then no Worker, plain or not, gets 2 × (compare
 * the plain Worker rows).
 *
 * Options: --rounds=N (7), --echo-rounds=N (5), --calls=N (200),
 * --inflight=N (16), --work-ms=MS (2), --round-ms=MS (400, per echo
 * sample), --codec=msgpack|json (msgpack).
 *
 * Results: bench/results/workers.json.
 */
import process from "node:process";
import {
  Agent,
  type AgentProxy,
  type CodecClass,
  Container,
  type ContainerWorker,
  JsonCodec,
  MsgPackCodec,
  startContainerWorker,
} from "../mod.ts";
import {
  CpuAgent,
  type CpuStats,
  crunch,
  EchoAgent,
  RAW_WORKER_SOURCE,
} from "./_cpu_agents.ts";
import { type Profiler, startProfiler, summarize } from "./_profiler.ts";
import { numberOption, option } from "./_options.ts";

// ---------------------------------------------------------------- options

const quick = option("quick") !== undefined;
const ROUNDS = numberOption("rounds", quick ? 3 : 7);
const ECHO_ROUNDS = numberOption("echo-rounds", quick ? 3 : 5);
const CALLS = numberOption("calls", quick ? 100 : 200);
const INFLIGHT = numberOption("inflight", 16);
const WORK_MS = numberOption("work-ms", 2);
const ROUND_MS = numberOption("round-ms", quick ? 200 : 400);
const PROFILE = option("profile") !== undefined;
const CODEC_NAME = option("codec") ?? "msgpack";
const CODECS: Record<string, CodecClass> = {
  msgpack: MsgPackCodec,
  json: JsonCodec,
};
const CODEC = CODECS[CODEC_NAME];
if (CODEC === undefined) {
  throw new TypeError(`--codec must be msgpack or json, got "${CODEC_NAME}"`);
}
/** The speed-up 2 workers vs 1 to reach. */
const SPEEDUP_TARGET = 1.7;
/** The whole run is stopped (exit code 1) after this. */
const WATCHDOG_MS = 90_000;

const HOST = "127.0.0.1";
const resultsDir = new URL("results/", import.meta.url);
const AGENTS_URL = new URL("./_cpu_agents.ts", import.meta.url).href;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

// ---------------------------------------------------------------- threads

/** A thread's scheduler times so far, ms (Linux `/proc/self/task/<tid>/schedstat`). */
interface ThreadTime {
  comm: string;
  /** On a CPU. */
  run: number;
  /** Runnable, waiting for a CPU (taken by other threads or processes). */
  wait: number;
}

const hasSchedstat = (() => {
  try {
    Deno.readTextFileSync("/proc/thread-self/schedstat");
    return true;
  } catch {
    return false;
  }
})();

/** Every thread of this process by tid (empty where there is no schedstat). */
function threadTimes(): Map<string, ThreadTime> {
  const times = new Map<string, ThreadTime>();
  if (!hasSchedstat) return times;
  for (const entry of Deno.readDirSync("/proc/self/task")) {
    try {
      const dir = `/proc/self/task/${entry.name}`;
      const [run, wait] = Deno.readTextFileSync(`${dir}/schedstat`).split(" ")
        .map(Number);
      const comm = Deno.readTextFileSync(`${dir}/comm`).trim();
      times.set(entry.name, { comm, run: run / 1e6, wait: wait / 1e6 });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return times;
}

/** Busy CPU time of the whole machine so far, ms (`/proc/stat`, 10 ms ticks). */
function machineBusyMs(): number | undefined {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest is in user).
    const busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] +
      ticks[7];
    return busy * 10;
  } catch {
    return undefined;
  }
}

/** Where a batch's wall time went, per thread kind, ms. */
interface ThreadSplit {
  /** The main thread (the parent container and the caller). */
  mainRun: number;
  mainWait: number;
  /** The busiest `threads` Worker threads, averaged: on a CPU, runnable, neither (idle). */
  workerRun: number;
  workerWait: number;
  workerIdle: number;
  /** Every other thread (V8 helpers, tokio), summed. */
  otherRun: number;
  /** Cores used by other processes meanwhile (10 ms ticks: rough). */
  otherProcesses: number;
}

function threadSplit(
  before: Map<string, ThreadTime>,
  after: Map<string, ThreadTime>,
  wallMs: number,
  threads: number,
  machineMs: number,
  processMs: number,
): ThreadSplit | undefined {
  if (!hasSchedstat) return undefined;
  const mainTid = String(Deno.pid);
  const split: ThreadSplit = {
    mainRun: 0,
    mainWait: 0,
    workerRun: 0,
    workerWait: 0,
    workerIdle: 0,
    otherRun: 0,
    otherProcesses: 0,
  };
  const workers: { run: number; wait: number }[] = [];
  for (const [tid, end] of after) {
    const start = before.get(tid) ?? { comm: end.comm, run: 0, wait: 0 };
    const run = end.run - start.run;
    const wait = end.wait - start.wait;
    if (tid === mainTid) {
      split.mainRun = run;
      split.mainWait = wait;
    } else if (end.comm.startsWith("worker-")) {
      workers.push({ run, wait });
    } else {
      split.otherRun += run;
    }
  }
  split.otherProcesses = Math.max(0, (machineMs - processMs) / wallMs);
  workers.sort((a, b) => b.run - a.run);
  for (const [i, worker] of workers.entries()) {
    if (i < threads) {
      split.workerRun += worker.run / threads;
      split.workerWait += worker.wait / threads;
      split.workerIdle += (wallMs - worker.run - worker.wait) / threads;
    } else {
      split.otherRun += worker.run;
    }
  }
  return split;
}

// ---------------------------------------------------------------- calibration

/** The `n` for which `crunch(n)` takes about `WORK_MS` on this thread. */
function calibrate(): { n: number; msPerCall: number } {
  for (let i = 0; i < 20; i++) crunch(200_000, i); // JIT
  const probe = 1_000_000;
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const start = performance.now();
    crunch(probe, i);
    times.push(performance.now() - start);
  }
  // The fastest runs are the least disturbed by other processes.
  const fast = median([...times].sort((a, b) => a - b).slice(0, 3));
  const n = Math.max(10_000, Math.round(probe * WORK_MS / fast));
  return { n, msPerCall: fast * n / probe };
}

// ---------------------------------------------------------------- the calling side

/** One call of a batch: `seed` in, the checksum out. */
type WorkCall = (seed: number) => Promise<number>;

interface BatchSample {
  ms: number;
  /** This process's CPU time meanwhile, µs (all threads). */
  cpuUs: number;
  /** Per target: `work` calls and the time spent inside them. */
  stats: CpuStats[];
  checksums: number[];
  /** Replies per burst: calls / the number of distinct reply arrival times. */
  repliesPerBurst: number;
  threads?: ThreadSplit;
}

interface LoopSample {
  ops: number;
  ms: number;
  cpuUs: number;
}

/** The agent of the parent container that makes every call. */
class Caller extends Agent {
  /**
   * `calls` calls, call i to target `i % k`; each target has
   * `inflight / k` lanes making its calls one after another.
   */
  async batch(
    targets: WorkCall[],
    calls: number,
    inflight: number,
  ): Promise<{ ms: number; checksums: number[]; repliesPerBurst: number }> {
    const k = targets.length;
    const checksums = new Array<number>(calls);
    // Replies that arrive in one macrotask settle within a few µs.
    let bursts = 0;
    let lastReply = -Infinity;
    const lanes = Math.max(1, Math.floor(inflight / k));
    const start = performance.now();
    await Promise.all(targets.map((call, j) => {
      let next = j;
      const lane = async () => {
        while (next < calls) {
          const seed = next;
          next += k;
          checksums[seed] = await call(seed);
          const now = performance.now();
          if (now - lastReply > 0.05) bursts++;
          lastReply = now;
        }
      };
      return Promise.all(Array.from({ length: lanes }, lane));
    }));
    return {
      ms: performance.now() - start,
      checksums,
      repliesPerBurst: calls / bursts,
    };
  }

  /** `lanes` loops of `call` until `ms` passed; each checks the time every `batch` calls. */
  async loop(
    ms: number,
    lanes: number,
    call: () => Promise<unknown>,
    batch: number,
  ): Promise<{ ops: number; ms: number }> {
    const start = performance.now();
    const deadline = start + ms;
    let ops = 0;
    const lane = async () => {
      while (performance.now() < deadline) {
        for (let i = 0; i < batch; i++) await call();
        ops += batch;
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    return { ops, ms: performance.now() - start };
  }
}

/** A plain Worker answering `{id, n, seed}` with `crunch(n, seed)`. */
interface RawWorker {
  call(n: number, seed: number): Promise<number>;
  /** `crunch` calls and the time spent in them since the last `stats()`. */
  stats(): CpuStats;
  terminate(): void;
}

function startRawWorker(url: string, name: string): RawWorker {
  const worker = new Worker(url, { type: "module", name });
  const pending = new Map<number, (checksum: number) => void>();
  let nextId = 0;
  let calls = 0;
  let busyMs = 0;
  worker.onmessage = (
    event: MessageEvent<{ id: number; checksum: number; ms: number }>,
  ) => {
    const { id, checksum, ms } = event.data;
    calls++;
    busyMs += ms;
    const resolve = pending.get(id);
    pending.delete(id);
    resolve?.(checksum);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    console.error(`raw worker ${name} failed: ${event.message}`);
  };
  return {
    call(n, seed) {
      const id = nextId++;
      const { promise, resolve } = Promise.withResolvers<number>();
      pending.set(id, resolve);
      worker.postMessage({ id, n, seed });
      return promise;
    },
    stats() {
      const stats = { calls, busyMs };
      calls = 0;
      busyMs = 0;
      return stats;
    },
    terminate: () => worker.terminate(),
  };
}

// ---------------------------------------------------------------- setup

interface CpuScenario {
  id: string;
  label: string;
  /** How many threads do the work. */
  threads: number;
  targets: WorkCall[];
  stats(): Promise<CpuStats[]>;
}

interface EchoScenario {
  id: string;
  label: string;
  lanes: number;
  batch: number;
  call: () => Promise<unknown>;
}

interface Setup {
  cpu: CpuScenario[];
  echo: EchoScenario[];
  caller: Caller;
  /** The echo agent in worker 1 (it can profile that thread). */
  workerEcho: AgentProxy<EchoAgent>;
  workerStartMs: number[];
  spawnMs: number[];
  close(): Promise<void>;
}

async function setUp(n: number): Promise<Setup> {
  const closers: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) {
      try {
        await closer();
      } catch (error) {
        console.error(`cleanup failed: ${error}`);
      }
    }
  };
  try {
    const parent = await Container.create({ hostname: HOST, port: 0 }, {
      codec: CODEC,
    });
    closers.push(() => parent.shutdown());
    const caller = new Caller(parent);

    // Worker containers: stop them (gracefully, bounded), then terminate.
    const workerStartMs: number[] = [];
    const spawnMs: number[] = [];
    const workers: ContainerWorker[] = [];
    const cpuAgents: AgentProxy<CpuAgent>[] = [];
    for (let i = 1; i <= 2; i++) {
      let start = performance.now();
      const worker = await startContainerWorker({
        container: parent,
        name: `cpu${i}`,
        codec: CODEC,
      });
      workerStartMs.push(performance.now() - start);
      workers.push(worker);
      closers.push(async () => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          worker.stop(),
          new Promise((resolve) => timer = setTimeout(resolve, 5000)),
        ]);
        clearTimeout(timer);
        worker.terminate();
      });
      start = performance.now();
      const [, addr] = await worker.manager.spawn(`${AGENTS_URL}#CpuAgent`);
      spawnMs.push(performance.now() - start);
      cpuAgents.push(await parent.connect<CpuAgent>(addr as string));
    }
    const [, workerEchoAddr] = await workers[0].manager.spawn(
      `${AGENTS_URL}#EchoAgent`,
    );
    const workerEcho = await parent.connect<EchoAgent>(
      workerEchoAddr as string,
    );

    // The parent's own agents (local calls).
    const localCpu = await parent.connect<CpuAgent>(new CpuAgent(parent).addr);
    const localEcho = await parent.connect<EchoAgent>(
      new EchoAgent(parent).addr,
    );

    // Another container of this process, over TCP.
    const other = await Container.create({ hostname: HOST, port: 0 }, {
      codec: CODEC,
    });
    closers.push(() => other.shutdown());
    const tcpEcho = await parent.connect<EchoAgent>(new EchoAgent(other).addr);

    // Plain Workers, the machine's baseline.
    const rawUrl = URL.createObjectURL(
      new Blob([RAW_WORKER_SOURCE], { type: "application/javascript" }),
    );
    closers.push(() => URL.revokeObjectURL(rawUrl));
    const raws: RawWorker[] = [];
    for (let i = 1; i <= 2; i++) {
      const raw = startRawWorker(rawUrl, `raw${i}`);
      closers.push(() => raw.terminate());
      raws.push(raw);
    }

    for (const echo of [localEcho, workerEcho, tcpEcho]) {
      if (await echo.echo(42) !== 42) throw new Error("echo(42) is not 42");
    }
    if (await raws[0].call(0, 1) !== crunch(0, 1)) {
      throw new Error("the raw worker answers wrong");
    }

    const viaAgent = (agent: AgentProxy<CpuAgent>): WorkCall => (seed) =>
      agent.work(n, seed);
    const viaRaw = (raw: RawWorker): WorkCall => (seed) => raw.call(n, seed);
    const cpu: CpuScenario[] = [
      {
        id: "parent",
        label: "parent container (local calls)",
        threads: 1,
        targets: [viaAgent(localCpu)],
        stats: async () => [await localCpu.stats()],
      },
      {
        id: "worker1",
        label: "1 worker container",
        threads: 1,
        targets: [viaAgent(cpuAgents[0])],
        stats: async () => [await cpuAgents[0].stats()],
      },
      {
        id: "worker2",
        label: "2 worker containers",
        threads: 2,
        targets: cpuAgents.map(viaAgent),
        stats: () => Promise.all(cpuAgents.map((agent) => agent.stats())),
      },
      {
        id: "raw1",
        label: "1 plain Worker (no aiomas)",
        threads: 1,
        targets: [viaRaw(raws[0])],
        // deno-lint-ignore require-await
        stats: async () => [raws[0].stats()],
      },
      {
        id: "raw2",
        label: "2 plain Workers (no aiomas)",
        threads: 2,
        targets: raws.map(viaRaw),
        // deno-lint-ignore require-await
        stats: async () => raws.map((raw) => raw.stats()),
      },
    ];
    const echo: EchoScenario[] = [];
    const echoPair = (
      id: string,
      label: string,
      call: () => Promise<unknown>,
      serialBatch: number,
      pipeBatch: number,
    ) => {
      echo.push(
        { id: `${id}Serial`, label, lanes: 1, batch: serialBatch, call },
        { id: `${id}Pipe`, label, lanes: INFLIGHT, batch: pipeBatch, call },
      );
    };
    echoPair(
      "local",
      "same container (local fast path)",
      () => localEcho.echo(42),
      1000,
      100,
    );
    echoPair(
      "worker",
      "worker container (MessagePort link)",
      () => workerEcho.echo(42),
      10,
      10,
    );
    echoPair(
      "tcp",
      "other container, same process, TCP",
      () => tcpEcho.echo(42),
      10,
      10,
    );
    echoPair(
      "rawPort",
      "plain Worker postMessage (no aiomas)",
      () => raws[0].call(0, 42),
      10,
      10,
    );
    return { cpu, echo, caller, workerEcho, workerStartMs, spawnMs, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function runBatch(
  setup: Setup,
  scenario: CpuScenario,
): Promise<BatchSample> {
  await scenario.stats(); // reset
  const threadsBefore = threadTimes();
  const machineBefore = machineBusyMs() ?? 0;
  const cpuBefore = cpuNow();
  const { ms, checksums, repliesPerBurst } = await setup.caller.batch(
    scenario.targets,
    CALLS,
    INFLIGHT,
  );
  const cpuUs = cpuNow() - cpuBefore;
  const machineMs = (machineBusyMs() ?? 0) - machineBefore;
  const threads = threadSplit(
    threadsBefore,
    threadTimes(),
    ms,
    scenario.threads,
    machineMs,
    cpuUs / 1000,
  );
  return {
    ms,
    cpuUs,
    stats: await scenario.stats(),
    checksums,
    repliesPerBurst,
    threads,
  };
}

async function runLoop(
  setup: Setup,
  scenario: EchoScenario,
  ms: number,
): Promise<LoopSample> {
  const cpuBefore = cpuNow();
  const sample = await setup.caller.loop(
    ms,
    scenario.lanes,
    scenario.call,
    scenario.batch,
  );
  return { ...sample, cpuUs: cpuNow() - cpuBefore };
}

// ---------------------------------------------------------------- results

interface Row {
  scenario: string;
  unit: string;
  result: number;
  /** Extra facts, e.g. CPU per call or the time inside `work`. */
  detail: string;
  target: string;
  /** null: no target (a reference or a ratio to read). */
  pass: boolean | null;
  rounds: number[];
}

function formatResult(value: number, unit: string): string {
  switch (unit) {
    case "ms":
      return `${value.toFixed(0)} ms`;
    case "×":
      return `${value.toFixed(2)} ×`;
    case "µs/call":
      return `${value.toFixed(2)} µs/call`;
    case "calls/s":
      return value >= 1e6
        ? `${(value / 1e6).toFixed(2)} M/s`
        : `${(value / 1e3).toFixed(1)} k/s`;
    default:
      return `${value}`;
  }
}

function buildRows(
  cpu: Map<string, BatchSample[]>,
  echo: Map<string, LoopSample[]>,
  scenarios: CpuScenario[],
  echoScenarios: EchoScenario[],
): Row[] {
  const rows: Row[] = [];
  const wall = (id: string) => cpu.get(id)!.map((s) => s.ms);
  /** Per round, the ratio of the times of two scenarios. */
  const speedups = (slow: string, fast: string) => {
    const a = wall(slow);
    const b = wall(fast);
    return a.map((ms, i) => ms / b[i]);
  };
  for (const scenario of scenarios) {
    const samples = cpu.get(scenario.id)!;
    const perCall = median(samples.map((s) => {
      const calls = sum(s.stats.map((t) => t.calls));
      return sum(s.stats.map((t) => t.busyMs)) / calls;
    }));
    // Busy: the share of the wall time each target spent inside `work`.
    const busy = median(
      samples.map((s) =>
        sum(s.stats.map((t) => t.busyMs)) / (s.ms * scenario.threads)
      ),
    );
    const cores = median(samples.map((s) => s.cpuUs / 1000 / s.ms));
    rows.push({
      scenario: `CPU batch: ${scenario.label}`,
      unit: "ms",
      result: median(wall(scenario.id)),
      detail: `${perCall.toFixed(2)} ms/work call, busy ${
        (busy * 100).toFixed(0)
      } %, ${cores.toFixed(2)} cores used`,
      target: "",
      pass: null,
      rounds: wall(scenario.id),
    });
  }
  const speedupRow = (
    label: string,
    slow: string,
    fast: string,
    target: number | null,
  ) => {
    const values = speedups(slow, fast);
    const result = median(values);
    rows.push({
      scenario: label,
      unit: "×",
      result,
      detail: `${median(wall(slow)).toFixed(0)} ms / ${
        median(wall(fast)).toFixed(0)
      } ms (medians); rounds ${values.map((v) => v.toFixed(2)).join(" ")}`,
      target: target === null ? "" : `≥ ${target.toFixed(2)} ×`,
      pass: target === null ? null : result >= target,
      rounds: values,
    });
  };
  speedupRow(
    "speed-up: 2 worker containers vs 1",
    "worker1",
    "worker2",
    SPEEDUP_TARGET,
  );
  speedupRow(
    "speed-up: 2 plain Workers vs 1 (machine)",
    "raw1",
    "raw2",
    null,
  );
  speedupRow(
    "2 worker containers vs 2 plain Workers",
    "raw2",
    "worker2",
    null,
  );
  speedupRow(
    "1 worker container vs parent container",
    "parent",
    "worker1",
    null,
  );
  speedupRow("1 worker container vs 1 plain Worker", "raw1", "worker1", null);

  const byId = new Map(echoScenarios.map((s) => [s.id, s]));
  const us = (id: string) => echo.get(id)!.map((s) => s.ms * 1000 / s.ops);
  const rate = (id: string) => echo.get(id)!.map((s) => s.ops / s.ms * 1000);
  const cpuPerCall = (id: string) =>
    median(echo.get(id)!.map((s) => s.cpuUs / s.ops));
  for (const kind of ["local", "worker", "tcp", "rawPort"]) {
    const serial = `${kind}Serial`;
    const pipe = `${kind}Pipe`;
    const label = byId.get(serial)!.label;
    rows.push({
      scenario: `echo, serial: ${label}`,
      unit: "µs/call",
      result: median(us(serial)),
      detail: `${cpuPerCall(serial).toFixed(2)} CPU µs/call`,
      target: "",
      pass: null,
      rounds: us(serial),
    });
    rows.push({
      scenario: `echo, ${INFLIGHT} in flight: ${label}`,
      unit: "calls/s",
      result: median(rate(pipe)),
      detail: `${cpuPerCall(pipe).toFixed(2)} CPU µs/call`,
      target: "",
      pass: null,
      rounds: rate(pipe),
    });
  }
  const ratioRow = (label: string, values: number[], note: string) => {
    rows.push({
      scenario: label,
      unit: "×",
      result: median(values),
      detail: note,
      target: "",
      pass: null,
      rounds: values,
    });
  };
  /** Per round, a / b. */
  const perRound = (a: number[], b: number[]) => a.map((x, i) => x / b[i]);
  ratioRow(
    "call cost, serial: worker link / same container",
    perRound(us("workerSerial"), us("localSerial")),
    "µs/call ratio",
  );
  ratioRow(
    "call cost, serial: worker link / TCP same process",
    perRound(us("workerSerial"), us("tcpSerial")),
    "µs/call ratio (< 1: the link is faster)",
  );
  ratioRow(
    "call cost, serial: worker link / plain postMessage",
    perRound(us("workerSerial"), us("rawPortSerial")),
    "µs/call ratio",
  );
  ratioRow(
    `throughput, ${INFLIGHT} in flight: same container / worker link`,
    perRound(rate("localPipe"), rate("workerPipe")),
    "calls/s ratio",
  );
  ratioRow(
    `throughput, ${INFLIGHT} in flight: worker link / TCP same process`,
    perRound(rate("workerPipe"), rate("tcpPipe")),
    "calls/s ratio (> 1: the link is faster)",
  );
  ratioRow(
    `throughput, ${INFLIGHT} in flight: worker link / plain postMessage`,
    perRound(rate("workerPipe"), rate("rawPortPipe")),
    "calls/s ratio",
  );
  return rows;
}

function printTable(rows: Row[]): void {
  const header = ["scenario", "result", "target", "", "detail"];
  const body = rows.map((row) => [
    row.scenario,
    formatResult(row.result, row.unit),
    row.target,
    row.pass === null ? "" : row.pass ? "pass" : "MISS",
    row.detail,
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((cells) => cells[i].length))
  );
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const cells of body) console.log(line(cells));
}

/** Per CPU scenario, the medians of where each batch's wall time went. */
interface TimeSplitRow {
  scenario: string;
  wallMs: number;
  repliesPerBurst: number;
  threads?: ThreadSplit;
}

function timeSplit(
  cpu: Map<string, BatchSample[]>,
  scenarios: CpuScenario[],
): TimeSplitRow[] {
  return scenarios.map((scenario) => {
    const samples = cpu.get(scenario.id)!;
    const row: TimeSplitRow = {
      scenario: scenario.label,
      wallMs: median(samples.map((s) => s.ms)),
      repliesPerBurst: median(samples.map((s) => s.repliesPerBurst)),
    };
    if (samples[0].threads !== undefined) {
      const m = (key: keyof ThreadSplit) =>
        median(samples.map((s) => s.threads![key]));
      row.threads = {
        mainRun: m("mainRun"),
        mainWait: m("mainWait"),
        workerRun: m("workerRun"),
        workerWait: m("workerWait"),
        workerIdle: m("workerIdle"),
        otherRun: m("otherRun"),
        otherProcesses: m("otherProcesses"),
      };
    }
    return row;
  });
}

function printTimeSplit(rows: TimeSplitRow[]): void {
  if (!hasSchedstat) {
    console.log(
      "\n(no per-thread times: they need Linux /proc, which Deno reads only with -A)",
    );
  }
  console.log(
    "\nwhere a batch's time went (medians, ms; run = on a CPU, wait = runnable but no CPU free, idle = waiting for messages):",
  );
  const header = [
    "CPU batch",
    "wall",
    "main thread run + wait",
    "each worker thread run + wait + idle",
    "other threads run",
    "other processes",
    "replies/burst",
  ];
  const f = (v: number) => v.toFixed(0);
  const body = rows.map((row) => {
    const t = row.threads;
    const local = row.scenario.startsWith("parent");
    return [
      row.scenario,
      f(row.wallMs),
      t === undefined ? "?" : `${f(t.mainRun)} + ${f(t.mainWait)}`,
      t === undefined || local
        ? ""
        : `${f(t.workerRun)} + ${f(t.workerWait)} + ${f(t.workerIdle)}`,
      t === undefined ? "?" : f(t.otherRun),
      t === undefined ? "?" : `${t.otherProcesses.toFixed(2)} cores`,
      row.repliesPerBurst.toFixed(1),
    ];
  });
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((cells) => cells[i].length))
  );
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const cells of body) console.log(line(cells));
}

// ---------------------------------------------------------------- profiling

/**
 * Profiles the parent thread during 2-worker batches, and both the parent
 * and the worker thread during echo loops to the worker (serial and
 * pipelined).
 */
async function profileThreads(setup: Setup): Promise<void> {
  const dir = new URL("profiles/", resultsDir);
  await Deno.mkdir(dir, { recursive: true });
  const two = setup.cpu.find((s) => s.id === "worker2")!;
  const profiler: Profiler = await startProfiler();
  let ms = 0;
  for (let i = 0; i < 5; i++) ms += (await runBatch(setup, two)).ms;
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

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = Deno.loadavg();
  const calibration = calibrate();
  console.log(
    `workers: ${CALLS} calls of work(n = ${calibration.n}, ≈ ${
      calibration.msPerCall.toFixed(2)
    } ms) with ${INFLIGHT} in flight, ${ROUNDS} rounds; echo ${ECHO_ROUNDS} rounds × ${ROUND_MS} ms; ` +
      `${CODEC_NAME}; Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ` +
      `load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`,
  );
  if (loadBefore[0] > 0.5) {
    console.log(
      `warning: other processes compete for the ${navigator.hardwareConcurrency} cores; the speed-up is bounded by what they leave (see the plain Worker rows)`,
    );
  }
  const setup = await setUp(calibration.n);
  const cpu = new Map<string, BatchSample[]>();
  const echo = new Map<string, LoopSample[]>();
  let expected: number[] = [];
  try {
    console.log(
      `worker containers started in ${
        setup.workerStartMs.map((ms) => ms.toFixed(0)).join(", ")
      } ms; CpuAgent spawned in ${
        setup.spawnMs.map((ms) => ms.toFixed(0)).join(", ")
      } ms`,
    );
    // Warm-up (also gives the checksums every later batch must match).
    for (const scenario of setup.cpu) {
      const sample = await runBatch(setup, scenario);
      if (scenario.id === "parent") expected = sample.checksums;
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order = setup.cpu.map((_, i) =>
        setup.cpu[(i + round) % setup.cpu.length]
      );
      for (const scenario of order) {
        const sample = await runBatch(setup, scenario);
        for (let i = 0; i < CALLS; i++) {
          if (sample.checksums[i] !== expected[i]) {
            throw new Error(
              `${scenario.id}: checksum ${i} is ${
                sample.checksums[i]
              }, expected ${expected[i]}`,
            );
          }
        }
        if (!cpu.has(scenario.id)) cpu.set(scenario.id, []);
        cpu.get(scenario.id)!.push(sample);
      }
    }
    console.log("CPU-bound rounds done");
    for (const scenario of setup.echo) {
      await runLoop(setup, scenario, ROUND_MS / 2);
    }
    for (let round = 0; round < ECHO_ROUNDS; round++) {
      const order = setup.echo.map((_, i) =>
        setup.echo[(i + round) % setup.echo.length]
      );
      for (const scenario of order) {
        const sample = await runLoop(setup, scenario, ROUND_MS);
        if (!echo.has(scenario.id)) echo.set(scenario.id, []);
        echo.get(scenario.id)!.push(sample);
      }
    }
    console.log("echo rounds done");
    if (PROFILE) await profileThreads(setup);
  } finally {
    await setup.close();
  }
  const rows = buildRows(cpu, echo, setup.cpu, setup.echo);
  const loadAfter = Deno.loadavg();
  console.log("");
  printTable(rows);
  const split = timeSplit(cpu, setup.cpu);
  printTimeSplit(split);
  const misses = rows.filter((row) => row.pass === false);
  const machine = rows.find((row) =>
    row.scenario.startsWith("speed-up: 2 plain Workers")
  )!;
  if (misses.length > 0 && machine.result < SPEEDUP_TARGET) {
    console.log(
      `\nnote: plain Workers reached only ${
        machine.result.toFixed(2)
      } × too: the machine did not give this process 2 cores (see "wait" and "other processes" above)`,
    );
  }
  console.log(
    `\n${
      misses.length === 0 ? "all targets met" : `${misses.length} missed`
    }; load average before ${
      loadBefore.map((l) => l.toFixed(2)).join(" ")
    }, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}; ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  await Deno.mkdir(resultsDir, { recursive: true });
  const report = {
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    os: Deno.build.os,
    arch: Deno.build.arch,
    cores: navigator.hardwareConcurrency,
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadAfter,
    config: {
      rounds: ROUNDS,
      echoRounds: ECHO_ROUNDS,
      calls: CALLS,
      inflight: INFLIGHT,
      workMs: WORK_MS,
      roundMs: ROUND_MS,
      codec: CODEC_NAME,
    },
    calibration,
    workerStartMs: setup.workerStartMs,
    spawnMs: setup.spawnMs,
    rows,
    timeSplit: split,
    samples: {
      cpu: Object.fromEntries(
        [...cpu].map(([id, samples]) => [
          id,
          samples.map(({ checksums: _, ...sample }) => sample),
        ]),
      ),
      echo: Object.fromEntries(echo),
    },
  };
  await Deno.writeTextFile(
    new URL("workers.json", resultsDir),
    JSON.stringify(report, null, 2) + "\n",
  );
  console.log("wrote bench/results/workers.json");
}

if (import.meta.main) {
  const watchdog = setTimeout(() => {
    console.error(
      `workers: still running after ${WATCHDOG_MS / 1000} s; giving up`,
    );
    // Ends the Workers too.
    Deno.exit(1);
  }, WATCHDOG_MS);
  Deno.unrefTimer(watchdog);
  await main();
  clearTimeout(watchdog);
}
