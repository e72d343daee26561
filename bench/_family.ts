// What the runner (bench/e2e.ts) hands a scenario family, and the options
// every family may read. A family measures its scenarios (each with its
// raw partner in the same run) and returns its rows of the summary table.
import type { Options, OptionSpec } from "./_cli.ts";
import {
  type RoundOptions,
  runRounds,
  type Sample,
  type Scenario,
} from "./_measure.ts";
import type { Peer } from "./_peer_process.ts";
import type { Row } from "./_report.ts";

/** Every option of bench/e2e.ts (and bench/workers.ts). */
export const OPTIONS = {
  quick: {
    type: "boolean",
    help: "short rounds, for a smoke test (~1/4 of the time; no files)",
  },
  only: {
    type: "string",
    arg: "=ID,…",
    help: "just these scenarios (and their raw partners); no files",
  },
  family: {
    type: "string",
    arg: "=NAME,…",
    help:
      "just these families: small, js, bulk, fanin, memory, agents, workers",
  },
  out: {
    type: "string",
    arg: "=NAME",
    help: "write bench/results/NAME.json (and .svg) even for a partial run",
  },
  rounds: { type: "number", arg: "=N", help: "rounds (5; --quick: 3)" },
  "round-ms": {
    type: "number",
    arg: "=MS",
    help: "time per scenario per round (1000; --quick: 300)",
  },
  "slice-ms": {
    type: "number",
    arg: "=MS",
    help: "length of the alternating slices of scenario and partner (50)",
  },
  "warmup-ms": {
    type: "number",
    arg: "=MS",
    help: "warm-up per scenario (500; --quick: 200)",
  },
  inflight: { type: "number", arg: "=N", help: "calls in flight (16)" },
  agents: {
    type: "number",
    arg: "=N",
    help: "agents of the 'agents in one container' rows (100000)",
  },
  connections: {
    type: "number",
    arg: "=N",
    help: "idle connections of the memory rows (1000)",
  },
  "fanin-connections": {
    type: "string",
    arg: "=N,…",
    help: "fan-in: the connection counts measured, scenario ids fanIn<N> " +
      "and minimalFanIn<N> " +
      "(100,10)",
  },
  "js-evict": {
    type: "number",
    arg: "=KB",
    help: "js family: KB of other memory walked before each batch, evicting " +
      "the code under test from the caches as a socket's kernel work does " +
      "(none)",
  },
  "count-io": {
    type: "boolean",
    help: "also count socket reads and writes per operation, both processes",
  },
  profile: {
    type: "string",
    arg: "=ID",
    help: "run one paired scenario for --profile-ms with the CPU profiler " +
      "on in both processes (bench/results/profiles/)",
  },
  "profile-ms": {
    type: "number",
    arg: "=MS",
    help: "how long --profile runs (4000)",
  },
  calls: {
    type: "number",
    arg: "=N",
    help: "workers: calls per CPU batch (200; --quick: 100)",
  },
  "work-ms": {
    type: "number",
    arg: "=MS",
    help: "workers: CPU time of one work call (2)",
  },
  "echo-rounds": {
    type: "number",
    arg: "=N",
    help: "workers: rounds of the echo loops (5; --quick: 3)",
  },
  codec: {
    type: "string",
    arg: "=msgpack|json",
    help: "workers: the containers' codec (msgpack)",
  },
} as const satisfies Record<string, OptionSpec>;

/** The parsed options. */
export type BenchOptions = Options<typeof OPTIONS>;

/** What a family gets from the runner. */
export interface Context {
  options: BenchOptions;
  quick: boolean;
  inflight: number;
  /** The scenario ids of `--only`, or undefined for all. */
  only: Set<string> | undefined;
  /** The shared peer process, started on first use. */
  peer(): Promise<Peer>;
  /** Rounds, slices and the peer's counters, for `runRounds`. */
  rounds(peer?: Peer): RoundOptions;
  log(line: string): void;
}

/** A family of scenarios. */
export interface Family {
  name: string;
  /** Its scenario ids, as `--only` takes them. */
  ids: readonly string[];
  run(context: Context): Promise<Row[]>;
}

/** Whether scenario `id` is to be measured. */
export function wanted(context: Context, id: string): boolean {
  return context.only === undefined || context.only.has(id);
}

/** The scenarios of a paired family, ready to run, and how to read them. */
export interface Setup {
  scenarios: Scenario[];
  /** The rows of the scenarios that were measured (ids in `samples`). */
  rows(samples: Map<string, Sample[]>): Row[];
  close(): Promise<void>;
}

/** A family whose scenarios all run in rounds (paired or alone). */
export interface PairedFamily extends Family {
  open(context: Context, peer: Peer): Promise<Setup>;
}

/**
 * A family from `open`: runs the wanted scenarios in rounds beside their
 * partners, with the shared peer process.
 */
export function pairedFamily(
  name: string,
  ids: readonly string[],
  open: (context: Context, peer: Peer) => Promise<Setup>,
): PairedFamily {
  return {
    name,
    ids,
    open,
    async run(context) {
      const peer = await context.peer();
      return runSetup(context, await open(context, peer), peer);
    },
  };
}

/**
 * A family like {@linkcode pairedFamily} whose scenarios need no peer
 * process (`open` ignores the one `--profile` starts).
 */
export function localFamily(
  name: string,
  ids: readonly string[],
  open: (context: Context) => Promise<Setup>,
): PairedFamily {
  return {
    name,
    ids,
    open,
    run: async (context) => runSetup(context, await open(context)),
  };
}

/** Runs the wanted scenarios of `setup` in rounds, then closes it. */
async function runSetup(
  context: Context,
  setup: Setup,
  peer?: Peer,
): Promise<Row[]> {
  try {
    const scenarios = setup.scenarios.filter((s) => wanted(context, s.id));
    const samples = await runRounds(scenarios, context.rounds(peer));
    return setup.rows(samples);
  } finally {
    await setup.close();
  }
}

/** Something a setup opened, to close when it ends. */
export type Closer = () => Promise<void> | void;

/** Runs the closers in reverse order, reporting (not throwing) failures. */
export async function closeAll(closers: Closer[]): Promise<void> {
  // Taken out of the list: a second call closes nothing again.
  for (const close of closers.splice(0).reverse()) {
    try {
      await close();
    } catch (error) {
      console.error(`cleanup failed: ${error}`);
    }
  }
}

/**
 * A setup from `build`, which pushes a closer for everything it opens:
 * they run on `close`, or at once if `build` fails half-way.
 */
export async function openSetup(
  build: (
    closers: Closer[],
  ) => Omit<Setup, "close"> | Promise<Omit<Setup, "close">>,
): Promise<Setup> {
  const closers: Closer[] = [];
  try {
    const setup = await build(closers);
    return { ...setup, close: () => closeAll(closers) };
  } catch (error) {
    await closeAll(closers);
    throw error;
  }
}
