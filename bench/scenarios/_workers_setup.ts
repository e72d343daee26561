// The workers family's machinery: calibrating the CPU work, the calling
// agent, plain Workers (the raw partner), the worker containers and agents
// every scenario talks to, and one CPU batch or echo loop.
import process from "node:process";
import {
  Agent,
  type AgentProxy,
  type CodecClass,
  Container,
  type ContainerWorker,
  startContainerWorker,
} from "../../mod.ts";
import {
  CpuAgent,
  type CpuStats,
  crunch,
  EchoAgent,
  RAW_WORKER_SOURCE,
} from "../_cpu_agents.ts";
import { type RawWorker, startRawWorker } from "./_raw_worker.ts";
import { median } from "../_measure.ts";
import {
  machineBusyMs,
  type ThreadSplit,
  threadSplit,
  threadTimes,
} from "./_threads.ts";

const HOST = "127.0.0.1";
const AGENTS_URL = new URL("../_cpu_agents.ts", import.meta.url).href;
const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** How the workers family runs. */
export interface WorkersConfig {
  codec: CodecClass;
  inflight: number;
  /** Calls per CPU batch. */
  calls: number;
}

/** The `n` for which `crunch(n)` takes about `workMs` on this thread. */
export function calibrate(workMs: number): { n: number; msPerCall: number } {
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
  const n = Math.max(10_000, Math.round(probe * workMs / fast));
  return { n, msPerCall: fast * n / probe };
}

// ---------------------------------------------------------------- the calling side

/** One call of a batch: `seed` in, the checksum out. */
export type WorkCall = (seed: number) => Promise<number>;

export interface BatchSample {
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

export interface LoopSample {
  ops: number;
  ms: number;
  cpuUs: number;
}

/** The agent of the parent container that makes every call. */
export class Caller extends Agent {
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

// ---------------------------------------------------------------- setup

export interface CpuScenario {
  id: string;
  label: string;
  /** How many threads do the work. */
  threads: number;
  targets: WorkCall[];
  stats(): Promise<CpuStats[]>;
}

export interface EchoScenario {
  id: string;
  label: string;
  lanes: number;
  batch: number;
  call: () => Promise<unknown>;
}

export interface Setup {
  cpu: CpuScenario[];
  echo: EchoScenario[];
  caller: Caller;
  /** The echo agent in worker 1 (it can profile that thread). */
  workerEcho: AgentProxy<EchoAgent>;
  workerStartMs: number[];
  spawnMs: number[];
  close(): Promise<void>;
}

export async function setUp(
  n: number,
  config: WorkersConfig,
): Promise<Setup> {
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
      codec: config.codec,
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
        codec: config.codec,
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
      codec: config.codec,
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
        {
          id: `${id}Pipe`,
          label,
          lanes: config.inflight,
          batch: pipeBatch,
          call,
        },
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

export async function runBatch(
  setup: Setup,
  scenario: CpuScenario,
  config: WorkersConfig,
): Promise<BatchSample> {
  await scenario.stats(); // reset
  const threadsBefore = threadTimes();
  const machineBefore = machineBusyMs() ?? 0;
  const cpuBefore = cpuNow();
  const { ms, checksums, repliesPerBurst } = await setup.caller.batch(
    scenario.targets,
    config.calls,
    config.inflight,
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

export async function runLoop(
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
